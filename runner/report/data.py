"""A game day's report as a typed record, built once from its journal events and shared by every format.

Times on the timeline are offsets in seconds from the first `fault.injected` (the moment every metric is
measured from), so the timeline and the metrics table read the same way. A game day that never injected a
fault falls back to its own start as the origin, and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from math import inf
from typing import Any

from runner.durations import format_duration, parse_duration
from runner.errors import UsageError
from runner.gameday import events as gev
from runner.gameday.metrics import LABELS, METRICS, measure, wall_before
from runner.journal.events import Event, on_one_clock

INCOMPLETE = "incomplete"  # no gameday.finished: the game day crashed, was killed, or is still running


@dataclass(frozen=True)
class MetricRow:
    name: str
    label: str
    seconds: float | None  # None: it never happened (or the journal stops before it could)
    objective: float | None
    passed: bool | None  # None: nothing to judge (no objective, or an unfinished game day)


@dataclass(frozen=True)
class TimelineEntry:
    """One journal event on the timeline, at the time of what it records (a response step copied into the game
    day when its run stopped is placed at the step's own end, not at the copy)."""

    t: float  # seconds from the origin (fault injection); negative before it
    mono: float
    wall: str
    type: str
    label: str
    actor: str | None
    # A detection probe failing while a fault is in place: what the game day set out to see, not a failure.
    finding: bool = False


@dataclass(frozen=True)
class FaultRecord:
    id: str
    action: str | None
    injected_t: float | None
    reverted_t: float | None
    revert_ok: bool | None  # None: no fault.reverted event
    why: str | None
    summary: str | None

    @property
    def possibly_in_place(self) -> bool:
        """Injection started but no successful revert was recorded: someone must check (gameday recover)."""
        return self.revert_ok is not True


@dataclass(frozen=True)
class ResponseStep:
    id: str
    run_id: str | None
    status: str
    start_mono: float
    end_mono: float
    approvals: tuple[gev.StepApproval, ...] = ()  # who let it run, and how; () when it passed no gate


@dataclass(frozen=True)
class ResponseRun:
    run_id: str
    runbook: str | None
    mode: str | None
    status: str | None  # None: response.finished never arrived
    steps: tuple[ResponseStep, ...]


@dataclass(frozen=True)
class Note:
    t: float
    wall: str
    actor: str | None
    text: str


@dataclass(frozen=True)
class Interval:
    """A closed span on the monotonic clock; `open_end` when it was still going when the journal stops."""

    start: float
    end: float
    open_end: bool = False
    # It began while a fault was in place: the impact the game day provoked (and detects), not a failure.
    during_fault: bool = False


@dataclass(frozen=True)
class GameDayReport:
    id: str
    scenario: str
    title: str
    hypothesis: str | None
    path: str | None
    status: str
    started_wall: str
    finished_wall: str | None
    start_mono: float
    end_mono: float
    origin_mono: float
    origin: str  # the event type the timeline's t=0 is taken from
    resolution: float | None  # the probe interval: nothing is measured more finely than this
    metrics: tuple[MetricRow, ...]
    timeline: tuple[TimelineEntry, ...]
    faults: tuple[FaultRecord, ...]
    responses: tuple[ResponseRun, ...]
    notes: tuple[Note, ...]
    violations: tuple[Interval, ...]
    warnings: tuple[str, ...] = field(default=())
    incident: str | None = None  # the drill incident the game day opened (None: older game days, or none yet)

    @property
    def complete(self) -> bool:
        return self.status != INCOMPLETE

    def at(self, mono: float) -> float:
        """Offset of a monotonic timestamp from the origin."""
        return mono - self.origin_mono

    def first(self, type_: str) -> TimelineEntry | None:
        return next((e for e in self.timeline if e.type == type_), None)


def build_report(events: Sequence[Event]) -> GameDayReport:
    ordered = on_one_clock(sorted(events, key=lambda e: e.seq))
    started = next((e for e in ordered if e.type == gev.GAMEDAY_STARTED), None)
    if started is None:
        raise UsageError("these journal events are not a game day (no gameday.started event)",
                         hint="pass the id of a game day: `fireline gameday history` lists them")
    finished = next((e for e in ordered if e.type == gev.FINISHED), None)
    injected = next((e for e in ordered if e.type == gev.FAULT_INJECTED), None)
    origin = injected or started
    end = finished or ordered[-1]
    outcome = gev.GameDayFinished.of(finished) if finished else None
    status = str(outcome.status) if outcome else INCOMPLETE
    data = gev.GameDayStarted.of(started)
    faults = _faults(ordered, origin.ts_mono)
    in_place = _fault_windows(faults, origin.ts_mono)
    # In order of when things happened (stable: events of one moment keep the journal's order).
    timeline = tuple(sorted((_entry(e, origin.ts_mono, in_place) for e in ordered), key=lambda e: e.mono))
    return GameDayReport(
        id=started.run_id, scenario=data.scenario, title=data.title or data.scenario,
        hypothesis=_opt_str(data.hypothesis), path=data.path, status=status,
        started_wall=started.ts_wall, finished_wall=finished.ts_wall if finished else None,
        start_mono=started.ts_mono, end_mono=max(end.ts_mono, started.ts_mono), origin_mono=origin.ts_mono,
        origin=origin.type, resolution=_seconds(data.interval),
        metrics=_metrics(ordered, data, outcome), timeline=timeline, faults=faults,
        responses=_responses(ordered), notes=_notes(ordered, origin.ts_mono),
        violations=_violations(ordered, end.ts_mono, in_place),
        warnings=_warnings(finished, injected, faults, ordered[-1]),
        incident=next((gev.GameDayIncident.of(e).incident for e in ordered if e.type == gev.INCIDENT), None),
    )


def _opt_str(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _seconds(value: object) -> float | None:
    """Objectives and intervals are seconds in the journal; a duration string is tolerated for old events."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return parse_duration(value) if isinstance(value, str | int | float) else None
    except ValueError:
        return None


def _objectives(started: gev.GameDayStarted) -> dict[str, float]:
    parsed = {str(k): _seconds(v) for k, v in started.objectives.items()}
    return {k: v for k, v in parsed.items() if v is not None}


def _metrics(events: Sequence[Event], started: gev.GameDayStarted,
             finished: gev.GameDayFinished | None) -> tuple[MetricRow, ...]:
    """The metrics the game day recorded when it finished; measured from the events when it never did."""
    objectives = _objectives(started)
    if finished is not None and finished.metrics:
        by_name = {m.name: m for m in finished.metrics}
        names = [*METRICS, *(n for n in by_name if n not in METRICS)]
        return tuple(_recorded_row(n, by_name[n]) for n in names if n in by_name)
    rows = []
    for metric in measure(events, objectives):
        # An unfinished game day may yet have detected or recovered: "not yet" is not a failure.
        passed = metric.passed if finished is not None or metric.seconds is not None else None
        rows.append(MetricRow(metric.name, LABELS.get(metric.name, metric.name), metric.seconds,
                              metric.objective, passed))
    return tuple(rows)


def _recorded_row(name: str, m: gev.MetricRecord) -> MetricRow:
    return MetricRow(name, LABELS.get(name, name.replace("_", " ").capitalize()), _seconds(m.seconds),
                     _seconds(m.objective_s), m.passed)


def _fault_windows(faults: Sequence[FaultRecord], origin: float) -> list[tuple[float, float]]:
    """Monotonic spans in which a fault was in place: from its injection to its successful revert (to the end
    of time when no revert succeeded)."""
    return [(origin + f.injected_t, origin + f.reverted_t if f.revert_ok and f.reverted_t is not None else inf)
            for f in faults if f.injected_t is not None]


def _entry(event: Event, origin: float, in_place: Sequence[tuple[float, float]]) -> TimelineEntry:
    if event.type == gev.PROBE_FAILED and _within(event.ts_mono, in_place):
        probe = gev.ProbeFailed.of(event)
        label = f"Finding: probe {event.step_id} detects the fault, as expected" + _suffix(probe.detail)
        return TimelineEntry(event.ts_mono - origin, event.ts_mono, event.ts_wall, event.type, label, event.actor,
                             finding=True)
    label_of = _LABELS.get(event.type)
    label = label_of(event) if label_of else event.type
    mono, wall = _own_time(event)
    return TimelineEntry(mono - origin, mono, wall, event.type, label, event.actor)


def _own_time(event: Event) -> tuple[float, str]:
    """When what `event` records happened: a response step's end (its event is written when its run stops,
    possibly much later), else the event's own time. A step time that cannot be on this event's clock (after
    the event, or a day before it) is not used."""
    if event.type != gev.RESPONSE_STEP:
        return event.ts_mono, event.ts_wall
    ended = gev.ResponseStep.of(event).ended_mono
    if ended is None or not event.ts_mono - 86400 <= ended <= event.ts_mono:
        return event.ts_mono, event.ts_wall
    return ended, wall_before(event.ts_wall, event.ts_mono - ended)


def _detail(value: object) -> str:
    """A one-line rendering of a free-form data value (a signal can be a string or a mapping)."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return "" if value is None else str(value)


def _suffix(value: object, sep: str = ": ") -> str:
    text = _detail(value)
    return f"{sep}{text}" if text else ""


def _checked(e: Event) -> str:
    checked = gev.SteadyStateChecked.of(e)
    state = "ok" if checked.ok else "NOT ok"
    failing = [pid for pid, r in checked.probes.items() if not r.ok]
    phase = f" ({checked.phase})" if checked.phase else ""
    return f"Steady state {state}{phase}" + _suffix(", ".join(failing), " — failing: ")


def _reverted(e: Event) -> str:
    reverted = gev.FaultReverted.of(e)
    verdict = "reverted" if reverted.ok else "REVERT FAILED"
    why = f" ({reverted.why})" if reverted.why else ""
    return f"Fault {e.step_id} {verdict}{why}{_suffix(reverted.summary)}"


def _recovered(e: Event) -> str:
    since = gev.GameDayRecovered.of(e).since_mono
    if since is not None:
        held = format_duration(max(0.0, e.ts_mono - since))
        return f"Recovered: steady state has held for {held} (recovery counts from its start)"
    return "Recovered: steady state holds"


def _response_started(e: Event) -> str:
    started = gev.ResponseStarted.of(e)
    return f"Response runbook {started.runbook or '?'} started" + _suffix(started.run_id, ", run ")


def _signal_fired(e: Event) -> str:
    fired = gev.SignalFired.of(e)
    return "Detection signal" + _suffix(fired.kind, " ") + _suffix(fired.detail)


def _status(value: object) -> str:
    return "?" if value is None or value == "unknown" else str(value)


_LABELS: dict[str, Callable[[Event], str]] = {
    gev.GAMEDAY_STARTED: lambda e: f"Game day started ({gev.GameDayStarted.of(e).scenario})",
    gev.STEADY_STATE_CHECKED: _checked,
    gev.FAULT_INJECTING: lambda e: f"Injecting fault {e.step_id}" + _suffix(gev.FaultInjecting.of(e).action, " with "),
    gev.FAULT_INJECTED: lambda e: f"Fault {e.step_id} injected" + _suffix(gev.FaultInjected.of(e).summary),
    gev.FAULT_REVERTED: _reverted,
    gev.PROBE_FAILED: lambda e: f"Probe {e.step_id} failing" + _suffix(gev.ProbeFailed.of(e).detail),
    gev.PROBE_OK: lambda e: f"Probe {e.step_id} ok again",
    gev.STEADY_STATE_VIOLATED: lambda e: "Steady state violated",
    gev.STEADY_STATE_RESTORED: lambda e: "Steady state restored",
    gev.ALERT_FIRING: lambda e: f"Alert {gev.AlertFiring.of(e).name or '?'} firing",
    gev.SIGNAL_FIRED: _signal_fired,
    gev.DETECTED: lambda e: "Detected" + _suffix(gev.GameDayDetected.of(e).signal, " by "),
    gev.ACKNOWLEDGED: lambda e: "Acknowledged" + _suffix(gev.GameDayAcknowledged.of(e).via, " via "),
    gev.NOTE: lambda e: "Note: " + gev.GameDayNote.of(e).text,
    gev.RESPONSE_STARTED: _response_started,
    gev.RESPONSE_STEP: lambda e: f"Response step {e.step_id}: {_status(gev.ResponseStep.of(e).status)}",
    gev.RESPONSE_FINISHED: lambda e: f"Response runbook finished: {_status(gev.ResponseFinished.of(e).status)}",
    gev.RECOVERED: _recovered,
    gev.ABORTED: lambda e: "Aborted" + _suffix(gev.GameDayAborted.of(e).reason),
    gev.FINISHED: lambda e: f"Game day finished: {_status(gev.GameDayFinished.of(e).status)}",
    gev.INCIDENT: lambda e: f"Drill incident {gev.GameDayIncident.of(e).incident} opened",
}


def _faults(events: Sequence[Event], origin: float) -> tuple[FaultRecord, ...]:
    """One record per fault id, in order of injection; the last revert attempt is the one that counts."""
    records: dict[str, dict[str, Any]] = {}
    for e in events:
        if e.type not in (gev.FAULT_INJECTING, gev.FAULT_INJECTED, gev.FAULT_REVERTED):
            continue
        rec = records.setdefault(str(e.step_id), {"action": None, "injected_t": None, "reverted_t": None,
                                                  "revert_ok": None, "why": None, "summary": None})
        if e.type == gev.FAULT_INJECTING:
            rec["action"] = rec["action"] or _opt_str(gev.FaultInjecting.of(e).action)
        elif e.type == gev.FAULT_INJECTED:
            injected = gev.FaultInjected.of(e)
            rec["action"] = rec["action"] or _opt_str(injected.action)
            rec["injected_t"] = e.ts_mono - origin
            rec["summary"] = injected.summary
        else:
            reverted = gev.FaultReverted.of(e)
            rec.update(reverted_t=e.ts_mono - origin, revert_ok=reverted.ok, why=reverted.why)
    return tuple(FaultRecord(fid, **rec) for fid, rec in records.items())


def _responses(events: Sequence[Event]) -> tuple[ResponseRun, ...]:
    runs: dict[str, dict[str, Any]] = {}
    for e in events:
        if e.type not in (gev.RESPONSE_STARTED, gev.RESPONSE_STEP, gev.RESPONSE_FINISHED):
            continue
        if e.type == gev.RESPONSE_STARTED:
            started = gev.ResponseStarted.of(e)
            _run(runs, started.run_id).update(runbook=started.runbook, mode=started.mode)
        elif e.type == gev.RESPONSE_FINISHED:
            finished = gev.ResponseFinished.of(e)
            _run(runs, finished.run_id)["status"] = finished.status
        else:
            step = gev.ResponseStep.of(e)
            _run(runs, step.run_id)["steps"].append(_step(e, step, step.run_id or "?"))
    return tuple(ResponseRun(rid, r["runbook"], r["mode"], r["status"], tuple(r["steps"]))
                 for rid, r in runs.items())


def _run(runs: dict[str, dict[str, Any]], run_id: str | None) -> dict[str, Any]:
    return runs.setdefault(run_id or "?", {"runbook": None, "mode": None, "status": None, "steps": []})


def _step(e: Event, step: gev.ResponseStep, run_id: str) -> ResponseStep:
    # Older or partial events may lack the step's own times; the event time is then the best we know.
    end_mono = step.ended_mono if step.ended_mono is not None else e.ts_mono
    start_mono = step.started_mono if step.started_mono is not None else end_mono
    return ResponseStep(str(e.step_id), run_id, str(step.status), start_mono, end_mono, step.approvals)


def _notes(events: Sequence[Event], origin: float) -> tuple[Note, ...]:
    return tuple(Note(e.ts_mono - origin, e.ts_wall, e.actor, gev.GameDayNote.of(e).text)
                 for e in events if e.type == gev.NOTE)


def _violations(events: Sequence[Event], end: float,
                in_place: Sequence[tuple[float, float]] = ()) -> tuple[Interval, ...]:
    """Spans in which the steady state was violated; one still open at the end runs to the end."""
    spans: list[Interval] = []
    opened: float | None = None
    for e in events:
        if e.type == gev.STEADY_STATE_VIOLATED and opened is None:
            opened = e.ts_mono
        elif e.type == gev.STEADY_STATE_RESTORED and opened is not None:
            spans.append(Interval(opened, e.ts_mono, during_fault=_within(opened, in_place)))
            opened = None
    if opened is not None:
        spans.append(Interval(opened, max(end, opened), open_end=True, during_fault=_within(opened, in_place)))
    return tuple(spans)


def _within(mono: float, in_place: Sequence[tuple[float, float]]) -> bool:
    return any(start <= mono <= end for start, end in in_place)


def _warnings(finished: Event | None, injected: Event | None, faults: Sequence[FaultRecord],
              last: Event) -> tuple[str, ...]:
    warnings = []
    if finished is None:
        warnings.append(f"The journal ends at {last.ts_wall} ({last.type}) without gameday.finished: the game "
                        "day crashed, was killed, or is still running. Times not reached yet are shown as —.")
    if injected is None:
        warnings.append("No fault was injected; the timeline is measured from the game day's start.")
    for fault in faults:
        if fault.possibly_in_place:
            state = "its revert FAILED" if fault.revert_ok is False else "no revert was recorded"
            warnings.append(f"Fault {fault.id}: {state}; it may still be in place. "
                            "Run `fireline gameday recover` and check the system.")
    return tuple(warnings)
