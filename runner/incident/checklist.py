"""The resolution gate's checklist: per severity, in the policy's `verification:` section, probe items (the
game-day probe types, each a read-only action run as a check) that must pass and keep passing for a hold
window, and manual items a responder confirms by name. An item may be limited to some systems.

A team's entry for a severity replaces the built-in one (runner/incident/default-policy.yaml: holds only, no
checks); `hold` and `interval` it leaves out keep the built-in values. Reading it costs no action import;
runner.incident.gate runs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.durations import parse_duration

if TYPE_CHECKING:
    from runner.document.diagnostics import Diagnostic
    from runner.document.yamlsource import Document
    from runner.incident.view import Incident
    from runner.policy import Policy

DEFAULTS = Path(__file__).parent / "default-policy.yaml"  # the built-in policy (runner.policy.DEFAULT_FILE)
DEFAULT_INTERVAL_S = 30.0
MIN_INTERVAL_S = 0.1  # a shorter one would run the probes without a pause, against a system just recovering
DEFAULT_TIMEOUT_S = 10.0  # one probe's answer; a check that takes longer failed


class CheckKind(StrEnum):
    PROBE = "probe"  # a read-only action that must pass (and keep passing for the hold)
    MANUAL = "manual"  # a person confirms it (`--confirm NAME`)


@dataclass(frozen=True)
class Check:
    name: str
    kind: CheckKind
    systems: tuple[str, ...] = ()  # applies only when the incident affects one of these (empty: always)
    probe: str = ""  # the probe type: http.get, postgres.query, kubernetes, prometheus.query, shell.run
    action: str = ""  # the action the probe runs
    params: Mapping[str, Any] = field(default_factory=dict)  # its parameters (`with`, plus `expect`)
    timeout_s: float = DEFAULT_TIMEOUT_S
    confirm: str = ""  # manual: what the person confirms, in words

    def applies_to(self, systems: Iterable[str]) -> bool:
        return not self.systems or bool(set(self.systems) & set(systems))


@dataclass(frozen=True)
class Checklist:
    severity: str
    hold_s: float
    interval_s: float
    checks: tuple[Check, ...]  # those that apply to the incident, in the policy's order
    names: tuple[str, ...] = ()  # every item of the severity's checklist, whether it applies or not

    @property
    def probes(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.kind is CheckKind.PROBE)

    @property
    def manuals(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.kind is CheckKind.MANUAL)


@cache
def _builtin() -> Mapping[str, Any]:
    """The built-in entries (the file is checked against the policy schema where the severities are read)."""
    from runner.document.yamlsource import load_document

    data = load_document(DEFAULTS).data
    return dict((data.get("verification") if isinstance(data, dict) else None) or {})


def checklist(policy: Policy, incident: Incident) -> Checklist:
    """The checklist of the incident's severity, with the items that apply to its systems."""
    severity = str(incident.severity)
    builtin = _builtin().get(severity) or {}
    entry = (policy.data.get("verification") or {}).get(severity) or builtin
    hold = entry.get("hold", builtin.get("hold", "0s"))
    interval = entry.get("interval", builtin.get("interval"))
    every = [_check(item) for item in entry.get("checks") or ()]
    return Checklist(
        severity=severity,
        hold_s=parse_duration(hold),
        interval_s=max(MIN_INTERVAL_S, parse_duration(interval)) if interval is not None else DEFAULT_INTERVAL_S,
        checks=tuple(c for c in every if c.applies_to(incident.systems)),
        names=tuple(c.name for c in every),
    )


def _check(item: Mapping[str, Any]) -> Check:
    systems = tuple(str(s) for s in item.get("systems") or ())
    if "manual" in item:
        return Check(str(item["name"]), CheckKind.MANUAL, systems, confirm=str(item["manual"]))
    action, params = _probe_action(item)
    timeout = parse_duration(item["timeout"]) if "timeout" in item else DEFAULT_TIMEOUT_S
    return Check(str(item["name"]), CheckKind.PROBE, systems, str(item["probe"]), action, params, timeout)


def _probe_action(item: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The action a probe item runs and its parameters, as a game-day probe of the same type."""
    from runner.actions.probes import probe_action

    params = dict(item.get("with") or {})
    if isinstance(item.get("expect"), Mapping):
        inner = params.get("expect")
        params["expect"] = {**(inner if isinstance(inner, Mapping) else {}), **item["expect"]}
    return probe_action(str(item["probe"]), params)


def check_verification(doc: Document) -> list[Diagnostic]:
    """What the schema cannot say about `verification:`: an interval long enough to pause between checks, a
    probe's parameters are those of its action, the connection it names is declared (of a type the action can
    use), and item names are unique per severity."""
    data = doc.data if isinstance(doc.data, dict) else {}
    sections = data.get("verification")
    declared = data.get("connections")
    connections: dict[str, Any] = declared if isinstance(declared, dict) else {}
    out: list[Diagnostic] = []
    for severity, entry in sections.items() if isinstance(sections, dict) else ():
        if isinstance(entry, dict):
            out += _check_interval(doc, entry.get("interval"), ("verification", severity, "interval"))
            items = entry.get("checks")
            for i, item in enumerate(items if isinstance(items, list) else ()):
                if isinstance(item, dict):
                    out += _check_probe(doc, item, ("verification", severity, "checks", i), connections)
            out += _check_names(doc, items, ("verification", severity, "checks"))
    return out


def _check_interval(doc: Document, value: Any, at: tuple[str | int, ...]) -> list[Diagnostic]:
    try:
        seconds = parse_duration(value) if isinstance(value, str) else MIN_INTERVAL_S
    except ValueError:
        return []  # the schema says so
    if seconds >= MIN_INTERVAL_S:
        return []
    return [doc.diagnostic(at, f"interval {value} would run the probes without a pause", "at least 100ms, e.g. 30s")]


def _check_names(doc: Document, items: Any, at: tuple[str | int, ...]) -> list[Diagnostic]:
    seen: set[str] = set()
    out = []
    for i, item in enumerate(items if isinstance(items, list) else ()):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            continue
        if name in seen:
            hint = "names are how `--confirm` and the timeline refer to an item: make each unique"
            out.append(doc.diagnostic((*at, i, "name"), f"duplicate item {name!r}", hint))
        seen.add(name)
    return out


def _check_probe(
    doc: Document, item: Mapping[str, Any], at: tuple[str | int, ...], connections: Mapping[str, Any]
) -> list[Diagnostic]:
    from runner.actions.probes import PROBE_ACTIONS
    from runner.document.schemas import validate_params

    probe = item.get("probe")
    if not isinstance(probe, str) or probe not in PROBE_ACTIONS or not isinstance(item.get("with", {}), dict):
        return []  # the schema says what is wrong with it
    action, params = _probe_action(item)
    out = validate_params(doc, action, params, (*at, "with"))
    return out + _check_connection(doc, action, params.get("connection"), (*at, "with", "connection"), connections)


def _check_connection(
    doc: Document, action: str, name: Any, at: tuple[str | int, ...], connections: Mapping[str, Any]
) -> list[Diagnostic]:
    """The connection a probe names is declared under `connections:`, of a type its action can use."""
    from runner.actions.registry import connection_types, traits
    from runner.document.schemas import did_you_mean
    from runner.templating import is_template

    if not isinstance(name, str) or is_template(name):
        return []
    if name not in connections:
        return [doc.diagnostic(at, f"unknown connection {name!r}",
                               did_you_mean(name, connections) or "declare it under connections:")]  # fmt: skip
    kind = connections[name].get("type") if isinstance(connections[name], dict) else None
    allowed = traits(action).connection_types or connection_types(action.partition(".")[0])
    if kind not in allowed:
        return [doc.diagnostic(at, f"connection {name!r} is of type {kind}, {action} needs {' or '.join(allowed)}")]
    return []
