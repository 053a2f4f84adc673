"""Game-day scenarios: checked with the same care as runbooks (every error, file:line:col, hints)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runner.actions.faults import Revert, fault_traits, revert_command_params
from runner.actions.probes import PROBE_ACTIONS, SIGNAL_ACTIONS, probe_action
from runner.document.diagnostics import Diagnostic, DocumentInvalid
from runner.document.gameday_model import Fault, GameDay, Probe, Response, Signal
from runner.document.limits import check_long_durations, document_schema
from runner.document.runbook import (
    Scope,
    build_input,
    check_connection,
    check_inputs,
    check_template_sites,
    judged_sites,
    load_runbook,
    template_strings,
)
from runner.document.schemas import action_schema, validate_params, validate_structure
from runner.document.shelltext import check_shell_text
from runner.document.yamlsource import Document, PathKey, load_document
from runner.durations import parse_duration
from runner.secrets import SecretRef

GAMEDAY_ROOTS = ("gameday",)


def load_gameday(path: Path) -> GameDay:
    doc = load_document(path)
    problems = check_gameday(doc, path)
    if problems:
        raise DocumentInvalid(problems)
    return build_gameday(doc, path)


def check_gameday(doc: Document, path: Path | None = None) -> list[Diagnostic]:
    problems = validate_structure(doc, "gameday.schema.json")
    problems += check_long_durations(doc, document_schema("gameday.schema.json"), doc.data, ())
    data = doc.data if isinstance(doc.data, dict) else {}
    scope = Scope(data)
    connections = _map(data.get("connections"))
    problems += check_inputs(doc, data.get("inputs"))
    problems += _check_ids(doc, data)
    steady = _map(data.get("steady_state"))
    for i, probe in enumerate(_list(steady.get("probes"))):
        problems += _check_probe(doc, probe, ("steady_state", "probes", i), connections, scope)
    guardrails = _map(data.get("guardrails"))
    for i, stop in enumerate(_list(guardrails.get("abort_when"))):
        if isinstance(stop, dict):
            problems += _check_probe(
                doc, stop.get("probe"), ("guardrails", "abort_when", i, "probe"), connections, scope
            )
    for i, fault in enumerate(_list(data.get("faults"))):
        problems += _check_fault(doc, fault, ("faults", i), connections, scope)
    for i, signal in enumerate(_list(data.get("detection"))):
        if isinstance(signal, dict):
            for kind, family in SIGNAL_ACTIONS.items():
                if isinstance(signal.get(kind), dict):
                    problems += check_connection(
                        doc, family, signal[kind].get("connection"), ("detection", i, kind, "connection"), connections
                    )
    problems += _check_response(doc, data.get("response"), path, scope)
    return sorted(set(problems))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _check_ids(doc: Document, data: dict[str, Any]) -> list[Diagnostic]:
    seen: dict[str, PathKey] = {}
    out = []
    steady = _map(data.get("steady_state"))
    items: list[tuple[PathKey, Any]] = [
        (("steady_state", "probes", i), p) for i, p in enumerate(_list(steady.get("probes")))
    ]
    items += [(("faults", i), f) for i, f in enumerate(_list(data.get("faults")))]
    for at, item in items:
        ident = item.get("id") if isinstance(item, dict) else None
        if isinstance(ident, str):
            if ident in seen:
                out.append(doc.diagnostic((*at, "id"), f"duplicate id {ident!r}", "probe and fault ids must be unique"))
            seen.setdefault(ident, at)
    return out


def _check_probe(doc: Document, probe: Any, at: PathKey, connections: dict[str, Any], scope: Scope) -> list[Diagnostic]:
    # A probe name that is not text (a list, a mapping) is the schema's to report; it cannot even be looked up.
    if not isinstance(probe, dict) or not isinstance(probe.get("probe"), str) or probe["probe"] not in PROBE_ACTIONS:
        return []
    params = dict(_map(probe.get("with")))  # not a mapping: the schema says so
    out = []
    if isinstance(probe.get("expect"), dict):
        params["expect"] = {**_map(params.get("expect")), **probe["expect"]}
    action, params = probe_action(probe["probe"], params)
    out += validate_params(doc, action, params, (*at, "with"))
    out += check_long_durations(doc, action_schema(action), params, (*at, "with"))
    out += check_connection(doc, action, params.get("connection"), (*at, "with", "connection"), connections)
    out += check_template_sites(doc, judged_sites(action, probe.get("with"), (*at, "with")), scope, GAMEDAY_ROOTS)
    expect = judged_sites(action, probe.get("expect"), (*at, "expect"), ("expect",))
    out += check_template_sites(doc, expect, scope, GAMEDAY_ROOTS)
    out += check_shell_text(doc, action, params, (*at, "with"))
    return out


def _check_fault(doc: Document, fault: Any, at: PathKey, connections: dict[str, Any], scope: Scope) -> list[Diagnostic]:
    if not isinstance(fault, dict) or not isinstance(fault.get("action"), str):
        return []
    action, params = fault["action"], _map(fault.get("with"))  # not a mapping: the schema says so
    out: list[Diagnostic] = []
    out += validate_params(doc, action, params, (*at, "with"))
    out += check_long_durations(doc, action_schema(action), params, (*at, "with"))
    declared_revert = fault_traits(action).revert is Revert.DECLARED
    if declared_revert and "revert" not in fault:
        out.append(
            doc.diagnostic(
                at,
                f"an {action} fault needs a revert command",
                "add revert: {argv: [...]} or {command: ...} that undoes it",
            )
        )
    out += check_shell_text(doc, action, params, (*at, "with"))
    if declared_revert and isinstance(fault.get("revert"), dict):
        # As the revert runs: the fault's parameters with its command replaced by the revert's.
        out += validate_params(doc, action, revert_command_params(action, params, fault["revert"]), (*at, "revert"))
        # Rendered with the fault, like `with`: the same template and shell-text checks.
        out += check_shell_text(doc, action, fault["revert"], (*at, "revert"))
        out += check_template_sites(doc, template_strings(fault["revert"], (*at, "revert")), scope, GAMEDAY_ROOTS)
    if fault.get("revert") is not None and not declared_revert:
        out.append(doc.diagnostic((*at, "revert"), f"{action} knows its own revert", "remove revert:"))
    out += check_connection(doc, action, params.get("connection"), (*at, "with", "connection"), connections)
    out += check_template_sites(doc, template_strings(params, (*at, "with")), scope, GAMEDAY_ROOTS)
    return out


def _check_response(doc: Document, response: Any, path: Path | None, scope: Scope) -> list[Diagnostic]:
    if not isinstance(response, dict) or not isinstance(response.get("runbook"), str) or path is None:
        return []
    target = (path.parent / response["runbook"]).resolve()
    at: PathKey = ("response", "runbook")
    if not target.exists():
        return [
            doc.diagnostic(
                at, f"response runbook {response['runbook']} does not exist", "paths are relative to the scenario file"
            )
        ]
    try:
        runbook = load_runbook(target)
    except DocumentInvalid as exc:
        return [
            doc.diagnostic(
                at,
                f"response runbook is invalid ({len(exc.diagnostics)} error(s))",
                f"run fireline validate {response['runbook']}",
            )
        ]
    out = []
    given = _map(response.get("inputs"))
    for name in given:
        if name not in runbook.inputs:
            out.append(
                doc.diagnostic(
                    ("response", "inputs", name),
                    f"the runbook has no input {name!r}",
                    "inputs: " + ", ".join(runbook.inputs),
                )
            )
    for name, spec in runbook.inputs.items():
        if spec.required and not spec.has_default and name not in given:
            out.append(doc.diagnostic(("response", "inputs"), f"the runbook needs input {name!r}"))
    out += check_template_sites(doc, template_strings(given, ("response", "inputs")), scope, GAMEDAY_ROOTS)
    return out


# --- the model ------------------------------------------------------------------------------------------


def build_gameday(doc: Document, path: Path) -> GameDay:
    data = doc.data
    steady = data["steady_state"]
    interval = parse_duration(steady.get("interval", "1s"))
    guard = data.get("guardrails") or {}
    response = data["response"]
    return GameDay(
        path=str(path.resolve()),
        digest=doc.digest,
        name=data["metadata"]["name"],
        title=data["metadata"].get("title", data["metadata"]["name"]),
        metadata=data["metadata"],
        inputs={name: build_input(name, spec) for name, spec in (data.get("inputs") or {}).items()},
        secrets={
            n: SecretRef(n, s["from"], s.get("name") or s.get("path"), s.get("optional", False))
            for n, s in (data.get("secrets") or {}).items()
        },
        connections=data.get("connections") or {},
        interval=interval,
        settle=parse_duration(steady["settle"]) if "settle" in steady else 3 * interval,
        probes=tuple(_probe(p, interval) for p in steady["probes"]),
        faults=tuple(
            Fault(
                f["id"],
                f["action"],
                f.get("with") or {},
                f.get("revert"),
                parse_duration(f["duration"]) if "duration" in f else None,
            )
            for f in data["faults"]
        ),
        detection=tuple(_signal(s) for s in data["detection"]),
        response=Response(
            response["mode"],
            str((path.parent / response["runbook"]).resolve()) if response.get("runbook") else None,
            response.get("inputs") or {},
            bool(response.get("approve", True)),
            parse_duration(response["timeout"]) if "timeout" in response else None,
        ),
        objectives={k: parse_duration(v) for k, v in (data.get("objectives") or {}).items()},
        max_duration=parse_duration(guard.get("max_duration", "30m")),
        abort_when=tuple(
            _probe({"id": f"abort-{i}", **s["probe"]}, interval) for i, s in enumerate(guard.get("abort_when") or [])
        ),
        max_pods_percent=guard.get("max_pods_percent"),
    )


def _probe(spec: Mapping[str, Any], interval: float) -> Probe:
    params = dict(spec.get("with") or {})
    if spec.get("expect"):
        params["expect"] = {**(params.get("expect") or {}), **spec["expect"]}
    action, params = probe_action(spec["probe"], params)
    # A probe may take longer than the interval (the ticker skips missed ticks); a slow answer is not a failure
    # until it exceeds this.
    timeout = parse_duration(spec["timeout"]) if "timeout" in spec else max(2 * interval, 2.0)
    return Probe(spec.get("id", spec["probe"]), spec["probe"], action, params, timeout)


def _signal(spec: Mapping[str, Any]) -> Signal:
    kind = next(iter(spec))
    return Signal(kind, spec[kind] if isinstance(spec[kind], dict) else {})
