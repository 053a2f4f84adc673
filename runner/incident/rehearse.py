"""`fireline incident rehearse ID`: a game-day scenario drafted from an incident, so the fix can be proved by
practising the incident again.

What goes in (the rules that are data live in rehearsal.yaml beside this file):

- the probes that would have seen it: the checks the response runbook ran that can fail (a rollout status, an
  HTTP check, a query that states an `expect`), with the parameters they ran with; and one Prometheus probe
  per alert that fired (`incident.alert` events), on `ALERTS{alertname="…"}`, when a Prometheus is known (a
  connection of the runbook, else the alert's generator URL). Alerts also become detection signals when the
  Alertmanager that sent them is known;
- a fault: for a drill (a game day's incident) the faults the game day injected, read from its scenario;
  otherwise the fault that reproduces what the mitigation undid (the production change a linked run made, or
  words in the notes and updates), its parameters taken from the step that mitigated. Where nothing matches,
  a fault that refuses to run and says TODO: the draft still validates, and cannot pass by accident;
- the response: the runbook of the run that mitigated (else the last linked run), with the inputs it ran with
  that differ from the runbook's defaults; no run: a manual response, marked TODO;
- objectives: the incident's measured intervals (TTD, TTA, TTM, TTR), rounded up to a round value and never
  below what the probe interval can measure.

The document is built as data and written with a YAML library: no incident text is ever pasted into YAML.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml

from runner.durations import format_duration, parse_duration
from runner.errors import UsageError
from runner.files import relative, write_new
from runner.gameday import events as gev
from runner.incident import events as iev
from runner.incident import store
from runner.incident.intake import IncidentAlert
from runner.incident.metrics import Interval, facts_of
from runner.incident.model import LinkKind, Milestone
from runner.incident.view import fold
from runner.journal import events as ev
from runner.journal.incidents import ALERT
from runner.journal.payloads import mapping, text

if TYPE_CHECKING:
    from runner.incident.view import Incident
    from runner.journal.store import Journal

RULES = Path(__file__).resolve().parent / "rehearsal.yaml"
TODO = "TODO"
# The scenario metric each measured interval sets.
OBJECTIVES: Mapping[Interval, str] = {
    Interval.TTD: "time_to_detect",
    Interval.TTA: "time_to_acknowledge",
    Interval.TTM: "time_to_mitigate",
    Interval.TTR: "time_to_recover",
}
DEFAULT_INTERVAL = 1.0  # the game day's own default probe interval
# Input and template roots a probe or a connection copied from a runbook may use in a scenario.
_PORTABLE_ROOTS = frozenset({"inputs", "secrets"})
# A fault that refuses to run: the draft validates, and a game day of it stops at the injection with this.
_TODO_FAULT_MESSAGE = (
    "TODO: no fault reproduces this incident's mitigation yet; replace the fault todo-fault in the scenario"
)


_TODO_PROBE_MESSAGE = "TODO: replace this probe with a check that passes while the service is healthy"
# Prints its one argument (not shell text: no quoting to get wrong) and fails.
_SAY_AND_FAIL = ("sh", "-c", 'echo "$1" >&2; exit 1', "todo")


# -- the rules (data) ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FaultRule:
    fault: str
    mitigations: tuple[str, ...]
    words: tuple[str, ...]
    connection: str
    keep: tuple[str, ...]
    set: Mapping[str, Any]
    placeholders: Mapping[str, Any]


@dataclass(frozen=True)
class ProbeRule:
    probe: str
    needs_expect: bool
    drop: tuple[str, ...]
    set: Mapping[str, Any]


@dataclass(frozen=True)
class Rules:
    faults: tuple[FaultRule, ...]
    probes: Mapping[str, ProbeRule]
    round_to: tuple[float, ...]
    floor_intervals: int


@cache
def rules() -> Rules:
    data = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    faults = tuple(
        FaultRule(
            fault=r["fault"],
            mitigations=tuple(r.get("mitigations", ())),
            words=tuple(w.lower() for w in r.get("words", ())),
            connection=r["connection"],
            keep=tuple(r.get("keep", ())),
            set=dict(r.get("set", {})),
            placeholders=dict(r.get("placeholders", {})),
        )
        for r in data["faults"]
    )
    probes = {
        action: ProbeRule(r["probe"], bool(r.get("needs_expect")), tuple(r.get("drop", ())), dict(r.get("set", {})))
        for action, r in data["probes"].items()
    }
    steps = tuple(sorted(parse_duration(str(d)) for d in data["round_to"]))
    return Rules(faults, probes, steps, int(data["floor_intervals"]))


# -- what the journal says ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FiredAlert:
    """One alert of an `incident.alert` event (the alert intake's payload, read by its documented fields)."""

    name: str
    generator_url: str
    external_url: str


@dataclass(frozen=True)
class StepRun:
    step_id: str
    action: str
    params: Mapping[str, Any]
    changed: bool  # started as a production change and succeeded


@dataclass(frozen=True)
class RunUsed:
    """A runbook run linked to the incident: the runbook as a document (None: the file is gone), the inputs
    it ran with, and its steps in the order they started."""

    run_id: str
    runbook: Path
    runbook_data: Mapping[str, Any] | None
    inputs: Mapping[str, Any]
    steps: tuple[StepRun, ...]


@dataclass(frozen=True)
class Scenario:
    """The scenario file a drill's game day ran (None fields when it cannot be read any more)."""

    path: Path
    data: Mapping[str, Any]
    changed: bool  # the file is not the one the game day ran (its digest differs)


@dataclass(frozen=True)
class Evidence:
    incident: Incident
    runs: tuple[RunUsed, ...]
    response: RunUsed | None  # the run that mitigated, else the last one
    alerts: tuple[FiredAlert, ...]
    texts: tuple[str, ...]  # notes and status updates, for matching a mitigation by its words
    scenario: Scenario | None


def gather(journal: Journal, incident_id: str) -> Evidence:
    """Everything the draft is made from; a usage error for an unknown incident."""
    events = store.incident_events(journal, incident_id.strip().upper())  # read once: the view and its texts
    incident = fold(events)
    runs = tuple(r for r in (_run(journal, link.run_id) for link in incident.links if link.kind is LinkKind.RUNBOOK)
                 if r is not None)
    return Evidence(
        incident=incident,
        runs=runs,
        response=_response(incident, runs),
        alerts=_alerts(journal, incident.id),
        texts=_texts(events),
        scenario=_scenario(journal, incident.drill_of) if incident.drill_of else None,
    )


def _run(journal: Journal, run_id: str) -> RunUsed | None:
    events = journal.events(run_id, (ev.RUN_STARTED, ev.STEP_STARTED, ev.STEP_SUCCEEDED))
    start = next((e for e in events if e.type == ev.RUN_STARTED), None)
    if start is None:
        return None
    started = ev.RunStarted.of(start)
    runbook = Path(started.runbook)
    return RunUsed(run_id, runbook, _document(runbook), dict(started.inputs), _steps(events))


def _steps(events: Sequence[ev.Event]) -> tuple[StepRun, ...]:
    """Each step that started (not its rollback), in order; changed when it was a production change that
    succeeded (the same test as the incident's mitigation watch)."""
    from runner.incident.links import changes_production

    found: dict[str, StepRun] = {}
    succeeded: set[str] = set()
    for event in events:
        if event.step_id is None:
            continue
        if event.type == ev.STEP_SUCCEEDED:
            succeeded.add(event.step_id)
        elif event.type == ev.STEP_STARTED:
            started = ev.StepStarted.of(event)
            if not started.rollback:
                found[event.step_id] = StepRun(
                    event.step_id, started.action, dict(started.params), changes_production(started)
                )
    return tuple(
        StepRun(s.step_id, s.action, s.params, s.changed and s.step_id in succeeded) for s in found.values()
    )


def _response(incident: Incident, runs: Sequence[RunUsed]) -> RunUsed | None:
    """The run named by the `mitigated` milestone ("run RUN step STEP"), else the last linked run."""
    mitigated = incident.milestones.get(Milestone.MITIGATED)
    if mitigated is not None:
        words = mitigated.source.split()
        if len(words) >= 2 and words[0] == "run":
            named = next((r for r in runs if r.run_id == words[1]), None)
            if named is not None:
                return named
    return runs[-1] if runs else None


def _alerts(journal: Journal, incident_id: str) -> tuple[FiredAlert, ...]:
    found: dict[str, FiredAlert] = {}
    for event in journal.events(incident_id, (ALERT,)):
        received = IncidentAlert.of(event)
        if received.status != "firing":
            continue
        for alert in received.alerts:  # each as the intake recorded it (alertname, labels, generator_url, …)
            name = text(alert, "alertname") or text(mapping(alert, "labels"), "alertname")
            if name and name not in found:
                found[name] = FiredAlert(name, text(alert, "generator_url"), received.external_url)
    return tuple(found.values())


def _texts(events: Sequence[ev.Event]) -> tuple[str, ...]:
    found: list[str] = []
    for event in events:
        if event.type == iev.NOTE:
            found.append(iev.IncidentNote.of(event).text)
        elif event.type == iev.UPDATE:
            update = iev.IncidentUpdate.of(event)
            found += [update.summary, *update.actions]
    return tuple(found)


def _scenario(journal: Journal, gameday_id: str) -> Scenario | None:
    start = next(iter(journal.events(gameday_id, (gev.GAMEDAY_STARTED,))), None)
    if start is None:
        return None
    started = gev.GameDayStarted.of(start)
    if not started.path:
        return None
    path = Path(started.path)
    data = _document(path)
    if data is None or data.get("kind") != "GameDay":
        return None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Scenario(path, data, bool(started.digest) and digest != started.digest)


def _document(path: Path) -> Mapping[str, Any] | None:
    """A YAML document as data, None when it cannot be read or parsed (moved, deleted, broken since)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


# -- the draft ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Draft:
    name: str
    data: Mapping[str, Any]
    todos: tuple[str, ...]
    notes: tuple[str, ...]  # what was left out, and why

    def yaml_text(self, where: Path) -> str:
        """The document as written in directory `where` (the editor's schema comment is relative to it)."""
        from runner.actions.declarations import schema_dir

        body = yaml.dump(dict(self.data), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
        header = f"# yaml-language-server: $schema={relative(schema_dir() / 'gameday.schema.json', where)}\n"
        if self.todos:
            header += "# TODO: this draft is incomplete: see metadata.description\n"
        return header + body


class _Dumper(yaml.SafeDumper):
    """Safe YAML; text of several lines as a block (the emitter quotes it instead when a block cannot hold
    it exactly); a part used twice (a scenario's alias, a rule's values) written out twice, never as an
    anchor people would have to follow."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text_block(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text_block)


def default_path(incident_id: str) -> Path:
    return Path("scenarios") / f"{scenario_name(incident_id)}.yaml"


def scenario_name(incident_id: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", incident_id.lower()).strip("-")
    return f"rehearse-{slug}"


def draft(evidence: Evidence, out: Path) -> Draft:
    """The scenario for `evidence`, to be written at `out` (paths in it are relative to its directory)."""
    builder = _Builder(evidence, out.resolve().parent)
    return builder.build()


class _Builder:
    """Collects the scenario's parts; inputs, secrets and connections are merged as parts need them."""

    def __init__(self, evidence: Evidence, where: Path) -> None:
        self.evidence = evidence
        self.incident = evidence.incident
        self.where = where
        base = evidence.scenario.data if evidence.scenario else {}
        self.inputs: dict[str, Any] = dict(_as_map(base.get("inputs")))
        self.secrets: dict[str, Any] = dict(_as_map(base.get("secrets")))
        self.connections: dict[str, Any] = dict(_as_map(base.get("connections")))
        self.steady: dict[str, Any] = dict(_as_map(base.get("steady_state")))
        probes = _as_list(self.steady.get("probes"))
        self.probes: list[dict[str, Any]] = [dict(p) for p in probes if isinstance(p, dict)]
        self.todos: list[str] = []
        self.notes: list[str] = []
        if evidence.scenario and evidence.scenario.changed:
            self.notes.append(f"the scenario {evidence.scenario.path} changed since the game day ran; drafted "
                              "from the file as it is now")

    def build(self) -> Draft:
        faults = self._faults()
        response = self._response()
        self._runbook_probes()
        detection = self._alert_probes()
        if not self.probes:
            self.probes.append(_todo_probe())
            self.todos.append("no check that can fail was found: replace the probe todo-probe with one that "
                              "passes while the service is healthy")
        interval = _interval(self.steady.get("interval"))
        data: dict[str, Any] = {
            "apiVersion": "fireline/v1",
            "kind": "GameDay",
            "metadata": self._metadata(),
        }
        for key, value in (("inputs", self.inputs), ("secrets", self.secrets), ("connections", self.connections)):
            if value:
                data[key] = value
        data["steady_state"] = {**{k: v for k, v in self.steady.items() if k != "probes"}, "probes": self.probes}
        data["faults"] = faults
        data["detection"] = detection
        data["response"] = response
        objectives = self._objectives(interval)
        if objectives:
            data["objectives"] = objectives
        guardrails = _as_map((self.evidence.scenario.data if self.evidence.scenario else {}).get("guardrails"))
        data["guardrails"] = dict(guardrails) or {"max_duration": "30m"}
        data["metadata"]["description"] = self._description()
        return Draft(str(data["metadata"]["name"]), data, tuple(self.todos), tuple(self.notes))

    # -- metadata ------------------------------------------------------------------------------------------------
    def _metadata(self) -> dict[str, Any]:
        incident = self.incident
        meta: dict[str, Any] = {
            "name": scenario_name(incident.id),
            "title": f"Rehearsal of {incident.id}: {incident.title}",
            "description": "",
            "hypothesis": self._hypothesis(),
            "severity": incident.severity.value,
        }
        if incident.systems:
            meta["systems"] = list(incident.systems)
        base = _as_map(self.evidence.scenario.data.get("metadata")) if self.evidence.scenario else {}
        if base.get("owners"):
            meta["owners"] = list(_as_list(base.get("owners")))
        meta["tags"] = ["rehearsal", *(["todo"] if self.todos else [])]
        return meta

    def _hypothesis(self) -> str:
        facts = facts_of(self.incident)
        parts = [
            f"{name} within {format_duration(seconds)}"
            for name, seconds in (
                ("detected", facts.interval(Interval.TTD)),
                ("mitigated", facts.interval(Interval.TTM)),
                ("recovered", facts.interval(Interval.TTR)),
            )
            if seconds is not None and seconds >= 0
        ]
        measured = ", ".join(parts) if parts else "no measured times"
        return f"The response does at least as well as in {self.incident.id} ({measured})."

    def _description(self) -> str:
        lines = [f"Drafted by `fireline incident rehearse` from incident {self.incident.id} "
                 f"({self.incident.type.value}, {self.incident.severity.value})."]
        lines += [f"TODO: {todo}" for todo in self.todos]
        lines += [f"Note: {note}" for note in self.notes]
        return "\n".join(lines)

    # -- faults --------------------------------------------------------------------------------------------------
    def _faults(self) -> list[dict[str, Any]]:
        scenario = self.evidence.scenario
        if scenario is not None:
            faults = [dict(f) for f in _as_list(scenario.data.get("faults")) if isinstance(f, dict)]
            if faults:
                self.notes.append(f"the faults are the ones game day {self.incident.drill_of} injected")
                return faults
        matched = self._fault_from_steps() or self._fault_from_words()
        if matched is not None:
            return [matched]
        self.todos.append("no fault action matches the mitigation: replace the fault todo-fault (it refuses to "
                          "run) with one that reproduces the incident")
        return [_todo_fault()]

    def _fault_from_steps(self) -> dict[str, Any] | None:
        ordered = [self.evidence.response] if self.evidence.response else []
        ordered += [r for r in self.evidence.runs if r is not self.evidence.response]
        for run in ordered:
            for step in run.steps:
                rule = next((r for r in rules().faults if step.changed and step.action in r.mitigations), None)
                if rule is None:
                    continue
                params = {k: v for k, v in step.params.items() if k in rule.keep and _given(v)}
                connection = self._connection_of(run, params.get("connection"))
                if connection is None:
                    continue
                params["connection"] = connection
                self.notes.append(f"the fault {rule.fault} reproduces what step {step.step_id} ({step.action}) "
                                  f"of run {run.run_id} undid")
                return _fault(rule, {**rule.placeholders, **params, **rule.set})
        return None

    def _fault_from_words(self) -> dict[str, Any] | None:
        said = " ".join(self.evidence.texts).lower()
        for rule in rules().faults:
            word = next((w for w in rule.words if w in said), None)
            if word is None:
                continue
            connection = self._runbook_connection(rule.connection) or self._placeholder_connection(rule.connection)
            params = {**rule.placeholders, **self._inputs_named(rule.keep), "connection": connection, **rule.set}
            self.todos.append(f"the fault {rule.fault} was chosen from the words {word!r} in the incident's "
                              "notes or updates: check its parameters")
            return _fault(rule, params)
        return None

    def _runbook_connection(self, kind: str) -> str | None:
        """The response runbook's connection of type `kind`, copied (None: it has none, or it cannot be)."""
        run = self.evidence.response
        if run is None:
            return None
        for name, spec in _as_map((run.runbook_data or {}).get("connections")).items():
            if isinstance(spec, dict) and spec.get("type") == kind:
                return self._connection_of(run, name)
        return None

    def _inputs_named(self, names: Iterable[str]) -> dict[str, Any]:
        """The response run's inputs named like a fault's parameters (deployment, namespace, flag), as it ran."""
        run = self.evidence.response
        found = {n: run.inputs[n] for n in names if run is not None and n in run.inputs and n != "connection"}
        return {n: v for n, v in found.items() if isinstance(v, str) and _given(v) and not _holds_mask(v)}

    def _placeholder_connection(self, kind: str) -> str:
        for name, spec in self.connections.items():
            if isinstance(spec, dict) and spec.get("type") == kind:
                return str(name)
        name = _free(self.connections, f"todo_{kind}", "_")
        self.connections[name] = _placeholder_spec(kind, self.secrets)
        self.todos.append(f"the connection {name} is a placeholder: point it at the system to rehearse on")
        return name

    # -- response ------------------------------------------------------------------------------------------------
    def _response(self) -> dict[str, Any]:
        scenario = self.evidence.scenario
        run = self.evidence.response
        base = dict(_as_map(scenario.data.get("response"))) if scenario else {}
        if run is not None and run.runbook.is_file():
            response: dict[str, Any] = {"mode": "runbook", "runbook": relative(run.runbook, self.where)}
            inputs = dict(_as_map(base.get("inputs"))) if base else _changed_inputs(run)
            if inputs:
                response["inputs"] = inputs
            for key in ("approve", "timeout"):
                if key in base:
                    response[key] = base[key]
            return response
        if run is not None:
            self.todos.append(f"the runbook the response ran ({run.runbook}) is not there any more: name the "
                              "response runbook, or keep the manual response")
        else:
            self.todos.append("no runbook run is linked to the incident: the response is manual (people respond, "
                              "`fireline gameday ack` records it); name a runbook to automate it")
        return {"mode": "manual"}

    # -- probes --------------------------------------------------------------------------------------------------
    def _runbook_probes(self) -> None:
        run = self.evidence.response
        if run is None:
            return
        for step in run.steps:
            rule = rules().probes.get(step.action)
            if rule is None or step.changed or (rule.needs_expect and not step.params.get("expect")):
                continue
            if _holds_mask(step.params) or _mutating(step.action, step.params):
                continue
            params = {k: v for k, v in step.params.items() if k not in rule.drop}
            params.update(rule.set)
            if "connection" in params:
                connection = self._connection_of(run, params["connection"])
                if connection is None:
                    self.notes.append(f"step {step.step_id} left out: its connection could not be copied")
                    continue
                params["connection"] = connection
            probe = {"probe": rule.probe, "with": params}
            if any(_same_probe(probe, p) for p in self.probes):
                continue
            probe_id = _free({p.get("id"): None for p in self.probes}, _step_id(step.step_id))
            self.probes.append({"id": probe_id, **probe, "timeout": "5s"})

    def _alert_probes(self) -> list[dict[str, Any]]:
        base = self.evidence.scenario.data.get("detection") if self.evidence.scenario else None
        detection = [dict(d) for d in _as_list(base) if isinstance(d, dict)] or [{"steady_state_violated": True}]
        for alert in self.evidence.alerts:
            prometheus = self._prometheus(alert)
            if prometheus is None:
                self.todos.append(f"alert {alert.name} fired, but no Prometheus is known to ask: add a prometheus "
                                  "connection and a probe on ALERTS")
            else:
                probe_id = _free({p.get("id"): None for p in self.probes}, _step_id(f"alert-{alert.name}"))
                self.probes.append({
                    "id": probe_id,
                    "probe": "prometheus.query",
                    "with": {
                        "connection": prometheus,
                        "query": f'count(ALERTS{{alertname="{_promql_string(alert.name)}",alertstate="firing"}})',
                        "expect": {"op": "==", "value": 0},
                        "empty": "zero",
                    },
                    "timeout": "5s",
                })
            alertmanager = self._http_connection("alertmanager", alert.external_url)
            if alertmanager is not None:
                signal = {"alert": {"connection": alertmanager, "name": alert.name}}
                if signal not in detection:
                    detection.append(signal)
        return detection

    def _prometheus(self, alert: FiredAlert) -> str | None:
        for run in self.evidence.runs:
            for name, spec in _as_map((run.runbook_data or {}).get("connections")).items():
                if isinstance(spec, dict) and spec.get("type") == "prometheus":
                    copied = self._connection_of(run, name)
                    if copied is not None:
                        return copied
        for name, spec in self.connections.items():
            if isinstance(spec, dict) and spec.get("type") == "prometheus":
                return str(name)
        return self._http_connection("prometheus", alert.generator_url)

    def _http_connection(self, kind: str, url: str) -> str | None:
        """A connection of `kind` at the origin of `url` (reused when one is there already)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
            return None
        spec = {"type": kind, "url": f"{parts.scheme}://{parts.netloc}"}
        for name, existing in self.connections.items():
            if existing == spec:
                return str(name)
        name = _free(self.connections, kind, "_")
        self.connections[name] = spec
        return name

    # -- connections, inputs and secrets copied from a runbook -------------------------------------------------
    def _connection_of(self, run: RunUsed, name: Any) -> str | None:
        """The scenario's name for connection `name` of the run's runbook: copied with the inputs and secrets
        its templates use (inputs default to the values the run had), or an identical one reused. None when it
        cannot be copied faithfully."""
        spec = _as_map((run.runbook_data or {}).get("connections")).get(str(name)) if name is not None else None
        if not isinstance(spec, dict):
            return None
        for existing, other in self.connections.items():
            if other == spec:
                return str(existing)
        used = _references(spec)
        if used is None or not self._take_inputs(run, used.get("inputs", ())) \
                or not self._take_secrets(run, used.get("secrets", ())):
            return None
        copied = str(name) if str(name) not in self.connections else _free(self.connections, f"{name}_runbook", "_")
        self.connections[copied] = dict(spec)
        return copied

    def _take_inputs(self, run: RunUsed, names: Iterable[str]) -> bool:
        declared = _as_map((run.runbook_data or {}).get("inputs"))
        for name in names:
            if name in self.inputs:
                continue  # the scenario has it already (a drill's): same meaning, its value
            spec = declared.get(name)
            if not isinstance(spec, dict):
                return False
            copied = {k: v for k, v in spec.items() if k != "required"}
            if name in run.inputs and _plain(run.inputs[name]) and not _holds_mask(run.inputs[name]):
                copied["default"] = run.inputs[name]
            if "default" not in copied:
                return False
            self.inputs[name] = copied
        return True

    def _take_secrets(self, run: RunUsed, names: Iterable[str]) -> bool:
        declared = _as_map((run.runbook_data or {}).get("secrets"))
        for name in names:
            spec = declared.get(name)
            if not isinstance(spec, dict):
                return False
            if name in self.secrets and self.secrets[name] != spec:
                return False
            self.secrets[name] = dict(spec)
        return True

    # -- objectives ----------------------------------------------------------------------------------------------
    def _objectives(self, interval: float) -> dict[str, str]:
        facts = facts_of(self.incident)
        found: dict[str, str] = {}
        for which, metric in OBJECTIVES.items():
            seconds = facts.interval(which)
            if seconds is None or seconds < 0:
                continue
            found[metric] = round_text(objective(seconds, interval))
        missing = [m for m in OBJECTIVES.values() if m not in found]
        if missing:
            self.notes.append("no objective for " + ", ".join(missing) + ": the incident has no measured time")
        return found


def objective(measured: float, interval: float) -> float:
    """The bar a rehearsal must meet: the measured time rounded up to a round value, never below what the
    probe interval can tell apart (rules().floor_intervals intervals)."""
    settings = rules()
    wanted = max(measured, settings.floor_intervals * interval)
    for step in settings.round_to:
        if wanted <= step:
            return step
    return float(math.ceil(wanted / 3600) * 3600)


def round_text(seconds: float) -> str:
    """A round duration as people write it: 45s, 2m, 90m, 4h."""
    whole = round(seconds)
    if whole >= 3600 and whole % 3600 == 0:
        return f"{whole // 3600}h"
    if whole >= 60 and whole % 60 == 0:
        return f"{whole // 60}m"
    return f"{whole}s" if whole == seconds else format_duration(seconds)


# -- small pieces ------------------------------------------------------------------------------------------------
def _fault(rule: FaultRule, params: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": _step_id(rule.fault.replace(".", "-").replace("_", "-")), "action": rule.fault,
            "with": dict(params), "duration": "10m"}


def _todo_fault() -> dict[str, Any]:
    # shell.run with a declared revert: the one fault that needs no system, and it fails at once when run.
    return {
        "id": "todo-fault",
        "action": "shell.run",
        "with": {"argv": [*_SAY_AND_FAIL, _TODO_FAULT_MESSAGE]},
        "revert": {"argv": ["true"]},
        "duration": "1m",
    }


def _todo_probe() -> dict[str, Any]:
    return {"id": "todo-probe", "probe": "shell.run",
            "with": {"argv": [*_SAY_AND_FAIL, _TODO_PROBE_MESSAGE]}}


def _placeholder_spec(kind: str, secrets: dict[str, Any]) -> dict[str, Any]:
    if kind == "postgres":
        secrets.setdefault("TODO_DSN", {"from": "env", "name": "TODO_DSN"})
        return {"type": "postgres", "dsn": "{{ secrets.TODO_DSN }}"}
    if kind == "flagd":
        return {"type": "flagd", "path": "todo-flags.json"}
    return {"type": kind}


def _changed_inputs(run: RunUsed) -> dict[str, Any]:
    """The inputs the run had that differ from the runbook's defaults (what the responder chose)."""
    declared = _as_map((run.runbook_data or {}).get("inputs"))
    found: dict[str, Any] = {}
    for name, value in run.inputs.items():
        spec = declared.get(name)
        if isinstance(spec, dict) and spec.get("default") == value:
            continue
        if isinstance(spec, dict) and _plain(value) and not _holds_mask(value):
            found[name] = value
    return found


def _references(value: Any) -> dict[str, set[str]] | None:
    """Names of inputs and secrets the templates in `value` read; None when one reads anything else."""
    from runner.templating import references, templates_in

    found: dict[str, set[str]] = {}
    for string in templates_in(value):
        try:
            refs = references(string)
        except Exception:  # a template that does not parse cannot be copied
            return None
        for ref in refs:
            if ref.root not in _PORTABLE_ROOTS or not ref.chain or not isinstance(ref.chain[0], str):
                return None
            found.setdefault(ref.root, set()).add(ref.chain[0])
    return found


def _holds_mask(value: Any) -> bool:
    """A value the journal recorded redacted: copied, it would send *** instead of the secret."""
    from runner.secrets import MASK
    from runner.templating import strings_in

    return any(MASK in s for s in strings_in(value))


def _given(value: Any) -> bool:
    """A parameter the step set (an optional one rendered to nothing is left to the fault's default)."""
    return value is not None and value != ""


def _mutating(action: str, params: Mapping[str, Any]) -> bool:
    from runner.actions.registry import get_action

    return get_action(action).is_mutating(params)


def _same_probe(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return a.get("probe") == b.get("probe") and a.get("with") == b.get("with")


def _plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or (
        isinstance(value, list) and all(isinstance(v, str | int | float | bool) for v in value)
    )


def _promql_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _step_id(text_: str) -> str:
    """A valid probe or fault id from free text."""
    slug = re.sub(r"[^a-z0-9]+", "-", text_.lower()).strip("-")[:50].strip("-")
    return slug or "check"


def _free(taken: Mapping[Any, Any], wanted: str, joint: str = "-") -> str:
    """`wanted`, or it numbered (joined by `joint`: ids take "-", connection names "_") when taken."""
    name, n = wanted, 2
    while name in taken:
        name, n = f"{wanted}{joint}{n}", n + 1
    return name


def _interval(value: Any) -> float:
    try:
        return parse_duration(str(value)) if value is not None else DEFAULT_INTERVAL
    except ValueError:
        return DEFAULT_INTERVAL


def _as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# -- writing -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Written:
    path: Path
    draft: Draft
    replaced: bool = field(default=False)


def write(draft_: Draft, path: Path, force: bool) -> Written:
    """Write the draft; never over an existing file unless `force` (then atomically)."""
    text_ = draft_.yaml_text(path.resolve().parent)
    if path.is_dir():
        raise UsageError(f"{path} is a directory", hint="give a file name, e.g. -o scenarios/rehearsal.yaml")
    existed = write_new(path, text_, force)  # creates the directory
    return Written(path, draft_, existed)
