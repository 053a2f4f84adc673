"""`fireline incident timeline ID`: one account, in order, of everything that happened to an incident.

It reads the incident's own events and, for each run, plan and game day linked to it, that stream's events as
they were stored (secrets were redacted when they were written): nothing is copied from one stream into
another, so the timeline cannot disagree with `runs show` or a game day's report. Every line carries its full
date and time, in UTC unless another zone is asked for (then with its UTC offset, which may change within a
multi-day incident). A milestone is placed at the time it marks, and says when it was recorded when that was
later; corrections are lines of their own (the original stays where it was, marked as corrected).
"""

from __future__ import annotations

import json
import re
import unicodedata
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from runner.durations import format_duration
from runner.errors import UsageError
from runner.gameday import events as gev
from runner.identity import events as idev
from runner.incident import action_items, action_sync, delivery, gate, intake, store
from runner.incident import events as iev
from runner.incident.view import Incident, fold, parse_utc
from runner.journal import events as ev
from runner.journal.events import Event
from runner.journal.store import Journal
from runner.postmortem import record as postmortem_record

TEXT_LIMIT = 240  # characters of one value (an output, an input) on a line; the journal keeps it whole
LATE_AFTER = timedelta(minutes=1)  # a milestone recorded this much after it happened says when it was recorded
# Terminal escape sequences (CSI such as colours and cursor moves, OSC such as window titles and links).
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
INCIDENT = "incident"  # the stream kind of the incident's own events
_LINK_WORDS = {"runbook": "run", "plan": "plan", "gameday": "game day"}  # a linked stream's kind, as people say it


@dataclass(frozen=True)
class Stream:
    """One stream on the timeline: the incident itself, or a run, plan or game day linked to it."""

    id: str
    kind: str  # "incident" or a LinkKind value
    name: str = ""  # the runbook's or scenario's name


@dataclass(frozen=True)
class Entry:
    at: datetime  # when it happened (UTC): the event's time, or the time a milestone marks
    recorded: datetime  # when the event was written
    stream: Stream
    seq: int
    type: str
    step_id: str | None
    actor: str | None
    text: str  # one line, as a responder reads it (times in it are in the timeline's zone)
    detail: str = ""  # more lines: a status update's message as it was sent
    data: Mapping[str, Any] = field(default_factory=dict)  # the event's payload as stored (redacted)


@dataclass(frozen=True)
class Timeline:
    incident: Incident
    zone: Zone
    entries: tuple[Entry, ...]


# -- time zones -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Zone:
    """The zone times are shown in: UTC (the default) or an IANA zone, shown with its offset."""

    name: str
    tz: tzinfo

    @property
    def is_utc(self) -> bool:
        return self.tz is UTC

    def local(self, moment: datetime) -> datetime:
        """`moment` in this zone; in UTC when the zone cannot show it (a year-1 time an older version stored
        lands before year 1 in a zone west of UTC, or in one whose oldest offset was)."""
        try:
            return moment.astimezone(self.tz)
        except OverflowError:
            return moment.astimezone(UTC)

    def stamp(self, moment: datetime) -> str:
        """`2026-12-04 23:58:10Z`, or `2026-12-05 00:58:10+01:00` in a zone: always the full date."""
        local = self.local(moment)
        shown = local.isoformat(sep=" ", timespec="seconds")[:19]  # the year with 4 digits, as strftime may not
        return shown + ("Z" if local.tzinfo is UTC else _offset(local))

    def iso(self, moment: datetime) -> str:
        return self.local(moment).isoformat(timespec="microseconds")

    def day(self, moment: datetime) -> str:
        local = self.local(moment)
        return local.date().isoformat() + local.strftime(" (%A)")


def _offset(local: datetime) -> str:
    delta = local.utcoffset() or timedelta(0)
    sign = "-" if delta < timedelta(0) else "+"
    minutes = abs(int(delta.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def zone(name: str | None) -> Zone:
    """The zone `--tz` names (an IANA name such as Europe/Paris; UTC when not given); a usage error otherwise."""
    if name is None or name.strip().upper() in ("UTC", "Z"):
        return Zone("UTC", UTC)
    cleaned = name.strip()
    try:
        return Zone(cleaned, zoneinfo.ZoneInfo(cleaned))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        shown = repr(cleaned) if len(cleaned) <= 60 else repr(cleaned[:57] + "...")
        raise UsageError(
            f"unknown time zone {shown}", hint="an IANA zone name, e.g. UTC, Europe/Paris, America/New_York"
        ) from None


# -- collecting -------------------------------------------------------------------------------------------------


def collect(journal: Journal, incident_id: str, tz: Zone) -> Timeline:
    """The incident's timeline: its events and those of every run, plan and game day linked to it."""
    # The whole stream, read once: the view folds its own types, the timeline shows the others too
    # (signatures, deliveries, types newer than this version).
    every = store.incident_events(journal, incident_id.strip().upper(), ())
    incident = fold(every)
    linked = [(Stream(link.run_id, str(link.kind or "run"), link.name), journal.events(link.run_id))
              for link in incident.links]  # fmt: skip
    return build(incident, every, linked, tz)


def build(
    incident: Incident, own: Sequence[Event], linked: Sequence[tuple[Stream, Sequence[Event]]], tz: Zone
) -> Timeline:
    """The timeline from events already read (a pure function: tests give it events of any date)."""
    corrected = _corrections(own)
    updates = delivery.update_names(own, tz.stamp)
    streams: list[tuple[Stream, Sequence[Event]]] = [(Stream(incident.id, INCIDENT), own), *linked]
    # In the order of the times shown (what a milestone marks, else when the event was written); at the same
    # moment, what was written first (a step's end before the milestone it set).
    entries: list[tuple[tuple[datetime, datetime, int, int], Entry]] = []
    for index, (stream, events) in enumerate(streams):
        for event in events:
            entry = _entry(stream, event, tz, corrected, updates)
            if entry is not None:
                entries.append(((entry.at, entry.recorded, index, event.seq), entry))
    entries.sort(key=lambda pair: pair[0])
    return Timeline(incident, tz, tuple(entry for _, entry in entries))


def _corrections(events: Iterable[Event]) -> dict[str, str]:
    """milestone → the time its last correction set (a milestone line says it was corrected)."""
    found = {}
    for event in events:
        if event.type == iev.CORRECTED:
            payload = iev.IncidentCorrected.of(event)
            found[payload.milestone] = payload.new
    return found


def _entry(
    stream: Stream, event: Event, tz: Zone, corrected: Mapping[str, str], updates: Mapping[int, str]
) -> Entry | None:
    if event.type in _QUIET:
        return None  # the engine's bookkeeping (transitions, signatures): `runs show` has it
    describe = (_INCIDENT if stream.kind == INCIDENT else _LINKED).get(event.type)
    if stream.kind == INCIDENT and event.type == delivery.DELIVERY:
        said: Said | None = Said(delivery.describe(event, updates))  # names its update by when it was sent
    else:
        said = describe(event, tz) if describe is not None else Said(_generic(event))
    if said is None:
        return None
    recorded = parse_utc(event.ts_wall) or datetime.fromtimestamp(0, UTC)
    at = said.at or recorded
    text = said.text
    if event.type == iev.MILESTONE:
        text += _milestone_notes(event, at, recorded, tz, corrected)
    return Entry(at, recorded, stream, event.seq, event.type, event.step_id, event.actor, text, said.detail,
                 dict(event.data))  # fmt: skip


def _milestone_notes(event: Event, at: datetime, recorded: datetime, tz: Zone, corrected: Mapping[str, str]) -> str:
    notes = []
    if recorded - at >= LATE_AFTER:
        notes.append(f"recorded {tz.stamp(recorded)}")
    name = iev.IncidentMilestone.of(event).name
    fixed = parse_utc(corrected.get(name, ""))
    if fixed is not None:
        notes.append(f"later corrected to {tz.stamp(fixed)}")
    return f" ({'; '.join(notes)})" if notes else ""


# -- what each event says -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Said:
    text: str
    detail: str = ""
    at: datetime | None = None  # when it happened, if not when it was recorded


# None: the event is left out (a step that only read: its end says enough).
Describe = Callable[[Event, Zone], Said | None]


def _declared(event: Event, tz: Zone) -> Said:
    p = iev.IncidentDeclared.of(event)
    parts = [f"declared {p.severity} {p.type} incident {_quote(p.title)}{_by(event)}"]
    if p.systems:
        parts.append("systems: " + ", ".join(p.systems))
    if p.impact:
        parts.append("impact: " + _short(p.impact))
    if p.commander:
        parts.append("commander: " + p.commander)
    started = parse_utc(p.started_at)
    if started is not None:
        parts.append("impact started " + tz.stamp(started))
    why = p.assessment.get("why") if p.assessment else None
    if isinstance(why, list) and why:
        parts.append("severity because " + "; ".join(_short(str(w)) for w in why))
    if p.drill_of:
        parts.append(f"drill of game day {p.drill_of}")
    return Said("; ".join(parts))


def _milestone(event: Event, tz: Zone) -> Said:
    p = iev.IncidentMilestone.of(event)
    source = f" (by {p.source})" if p.source and p.source != "command" else ""
    return Said(f"milestone {p.name}{source}{_by(event)}", at=parse_utc(p.at))


def _corrected(event: Event, tz: Zone) -> Said:
    p = iev.IncidentCorrected.of(event)
    old, new = parse_utc(p.old or ""), parse_utc(p.new)
    before = tz.stamp(old) if old else "not recorded"
    after = tz.stamp(new) if new else repr(p.new)
    return Said(f"correction: {p.milestone} {before} -> {after}{_by(event)}: {_short(p.reason)}")


def _status(event: Event, tz: Zone) -> Said:
    p = iev.IncidentStatusChanged.of(event)
    return Said(f"status {p.old} -> {p.new}{_by(event)}")


def _severity(event: Event, tz: Zone) -> Said:
    p = iev.IncidentSeverityChanged.of(event)
    return Said(f"severity {p.old} -> {p.new}{_by(event)}" + (f": {_short(p.reason)}" if p.reason else ""))


def _role(event: Event, tz: Zone) -> Said:
    p = iev.IncidentRoleAssigned.of(event)
    if p.role == "participant":
        return Said(f"participant {p.name} joined{_by(event)}")
    return Said(f"{p.role}: {p.name}{_by(event)}")


def _note(event: Event, tz: Zone) -> Said:
    p = iev.IncidentNote.of(event)
    first, _, rest = clean_text(p.text).partition("\n")
    return Said(f"note ({p.kind}){_by(event)}: {first}", detail=rest)


def _update(event: Event, tz: Zone) -> Said:
    p = iev.IncidentUpdate.of(event)
    shape = f" ({p.shape})" if p.shape else ""
    parts = [f"status update{shape}{_by(event)}: {p.status}: {_short(p.summary)}"]
    if p.channels:
        parts.append("to " + ", ".join(p.channels))
    nxt = parse_utc(p.next_update_at or "")
    if nxt is not None:
        parts.append("next update " + tz.stamp(nxt))
    return Said("; ".join(parts), detail=clean_text(p.message))


def _linked(event: Event, tz: Zone) -> Said:
    p = iev.IncidentLinked.of(event)
    what = _LINK_WORDS.get(p.kind, p.kind)
    name = f" ({p.name})" if p.name else ""
    return Said(f"linked {what} {p.run_id}{name}{_by(event)}")


def _closed(event: Event, tz: Zone) -> Said:
    reason = iev.IncidentClosed.of(event).reason
    return Said(f"closed{_by(event)}" + (f": {_short(reason)}" if reason else ""))


_INCIDENT: Mapping[str, Describe] = {
    iev.DECLARED: _declared,
    iev.MILESTONE: _milestone,
    iev.CORRECTED: _corrected,
    iev.STATUS_CHANGED: _status,
    iev.SEVERITY_CHANGED: _severity,
    iev.ROLE_ASSIGNED: _role,
    iev.NOTE: _note,
    iev.UPDATE: _update,
    iev.LINKED: _linked,
    iev.CLOSED: _closed,
    intake.ALERT: lambda event, tz: Said(*intake.describe(event)),
    delivery.DELIVERY: lambda event, tz: Said(delivery.describe(event)),
    postmortem_record.POSTMORTEM: lambda event, tz: Said(postmortem_record.describe(event)),
    gate.VERIFICATION: lambda event, tz: _verification(event, tz),
    action_items.ACTION_ITEM: lambda event, tz: Said(action_items.describe(event)),
    action_sync.SYNCED: lambda event, tz: Said(action_sync.describe(event)),
}


def _run_started(event: Event, tz: Zone) -> Said:
    planned = event.type == ev.PLAN_STARTED
    p = ev.PlanStarted.of(event) if planned else ev.RunStarted.of(event)
    what = "plan (dry run)" if planned else "run"
    inputs = f"; inputs {_short(_json(p.inputs))}" if p.inputs else ""
    return Said(f"{what} of {p.title or p.name} started by {p.initiator or event.actor or '?'}{inputs}")


def _step_started(event: Event, tz: Zone) -> Said | None:
    p = ev.StepStarted.of(event)
    if p.rollback:
        return Said(f"{event.step_id}: rollback started ({p.action})")
    if p.mutating:
        return Said(f"{event.step_id}: change started ({p.action})")
    return None  # a read: its end says enough


def _approved(event: Event, tz: Zone) -> Said:
    p = ev.StepApproved.of(event)
    signed = f", signed with key {p.fingerprint}" if p.principal and p.fingerprint else ""
    reason = f": {_short(p.reason)}" if p.reason else ""
    return Said(f"{event.step_id}: approved by {p.principal or event.actor or '?'} via {p.via or '?'}{signed}{reason}")


def _succeeded(event: Event, tz: Zone) -> Said:
    p = ev.StepSucceeded.of(event)
    took = f" in {format_duration(p.duration_s)}" if p.duration_s is not None else ""
    summary = f": {_short(p.summary)}" if p.summary else ""
    outputs = f"; outputs {_short(_json(p.outputs))}" if p.outputs else ""
    missing = f"; outputs not captured: {_short(p.output_error)}" if p.output_error else ""
    return Said(f"{event.step_id}: succeeded{took}{summary}{outputs}{missing}")


def _failed(event: Event, tz: Zone) -> Said:
    p = ev.StepFailed.of(event)
    what = "rollback failed" if p.rollback else "FAILED"
    return Said(f"{event.step_id}: {what}: {_short(p.error)}")


def _skipped(event: Event, tz: Zone) -> Said:
    return Said(f"{event.step_id}: skipped: {_short(ev.StepSkipped.of(event).reason)}")


def _rolled_back(event: Event, tz: Zone) -> Said:
    return Said(f"{event.step_id}: rolled back: {_short(ev.StepRolledBack.of(event).summary)}")


def _attempt(event: Event, tz: Zone) -> Said:
    p = ev.StepAttemptFailed.of(event)
    return Said(f"{event.step_id}: attempt {p.attempt} failed: {_short(p.error)}")


def _decision(event: Event, tz: Zone) -> Said:
    p = ev.StepDecision.of(event)
    why = f": {_short(p.why)}" if p.why else ""
    return Said(f"{event.step_id}: {p.decision}{' (rollback)' if p.rollback else ''}{_by(event)}{why}")


def _paused(event: Event, tz: Zone) -> Said:
    p = ev.RunPaused.of(event)
    why = f": {_short(p.why)}" if p.why and p.why != p.reason else ""
    at = f" at {event.step_id}" if event.step_id else ""
    return Said(f"run paused{at} ({p.reason}){why}")


def _resumed(event: Event, tz: Zone) -> Said:
    p = ev.RunResumed.of(event)
    return Said(f"run resumed{_by(event)}" + (f" at {p.from_step}" if p.from_step else ""))


def _finished(event: Event, tz: Zone) -> Said:
    p = ev.RunFinished.of(event)
    return Said(f"run {p.status}" + (f": {_short(p.message)}" if p.message else ""))


def _plan_step(event: Event, tz: Zone) -> Said:
    p = ev.PlanStep.of(event)
    # A read ran for real: its outputs (`name = value`) are what a responder looks at.
    outputs = "\n".join(_short(clean_text(d).strip()) for d in p.details) if p.verdict == "read" else ""
    return Said(f"{event.step_id}: {p.verdict}" + (f": {_short(p.summary)}" if p.summary else ""), detail=outputs)


def _plan_finished(event: Event, tz: Zone) -> Said:
    counts = ev.PlanFinished.of(event).verdicts
    return Said("plan done: " + (", ".join(f"{n} {verdict}" for verdict, n in counts.items()) or "no steps"))


_RUN: Mapping[str, Describe] = {
    ev.RUN_STARTED: _run_started,
    ev.PLAN_STARTED: _run_started,
    ev.STEP_STARTED: _step_started,
    ev.STEP_APPROVED: _approved,
    ev.STEP_SUCCEEDED: _succeeded,
    ev.STEP_FAILED: _failed,
    ev.STEP_SKIPPED: _skipped,
    ev.STEP_ROLLED_BACK: _rolled_back,
    ev.STEP_ATTEMPT_FAILED: _attempt,
    ev.STEP_DECISION: _decision,
    ev.RUN_PAUSED: _paused,
    ev.RUN_RESUMED: _resumed,
    ev.RUN_FINISHED: _finished,
    ev.PLAN_STEP: _plan_step,
    ev.PLAN_FINISHED: _plan_finished,
}


def _gameday_said(text: Callable[[Event], str]) -> Describe:
    return lambda event, tz: Said(text(event))


_GAMEDAY: Mapping[str, Describe] = {
    gev.GAMEDAY_STARTED: _gameday_said(
        lambda e: f"game day {gev.GameDayStarted.of(e).title or gev.GameDayStarted.of(e).scenario} started{_by(e)}"
    ),
    gev.FAULT_INJECTED: _gameday_said(lambda e: f"fault {e.step_id} injected ({gev.FaultInjected.of(e).action})"),
    gev.FAULT_REVERTED: _gameday_said(
        lambda e: f"fault {e.step_id} " + ("reverted" if gev.FaultReverted.of(e).ok else "NOT reverted")
        + (f": {_short(gev.FaultReverted.of(e).summary)}" if gev.FaultReverted.of(e).summary else "")
    ),
    gev.STEADY_STATE_VIOLATED: _gameday_said(lambda e: "steady state violated"
                                             + (f" ({gev.SteadyStateViolated.of(e).probe})"
                                                if gev.SteadyStateViolated.of(e).probe else "")),
    gev.STEADY_STATE_RESTORED: _gameday_said(lambda e: "steady state restored"),
    gev.ALERT_FIRING: _gameday_said(lambda e: f"alert firing: {gev.AlertFiring.of(e).name or '?'}"),
    gev.DETECTED: _gameday_said(lambda e: f"detected by {_short(_show(gev.GameDayDetected.of(e).signal))}"),
    gev.ACKNOWLEDGED: _gameday_said(lambda e: f"game day acknowledged{_by(e)} via {gev.GameDayAcknowledged.of(e).via}"),
    gev.NOTE: _gameday_said(lambda e: f"game-day note{_by(e)}: {_short(gev.GameDayNote.of(e).text)}"),
    gev.RESPONSE_STARTED: _gameday_said(lambda e: f"response run {gev.ResponseStarted.of(e).run_id or '?'} started"),
    gev.RESPONSE_FINISHED: _gameday_said(
        lambda e: f"response run {gev.ResponseFinished.of(e).run_id or '?'} {gev.ResponseFinished.of(e).status or '?'}"
    ),
    gev.RECOVERED: _gameday_said(lambda e: "recovered: steady state holds again"),
    gev.ABORTED: _gameday_said(lambda e: f"game day aborted: {_short(gev.GameDayAborted.of(e).reason)}"),
    gev.FINISHED: _gameday_said(lambda e: f"game day finished: {gev.GameDayFinished.of(e).status}"),
}

_LINKED: Mapping[str, Describe] = {**_RUN, **_GAMEDAY}

# Events that are bookkeeping rather than something that happened to the incident.
_QUIET = frozenset({
    ev.STEP_TRANSITION, gev.STEADY_STATE_CHECKED, gev.FAULT_INJECTING, gev.PROBE_OK, gev.PROBE_FAILED,
    gev.RESPONSE_STEP, gev.SIGNAL_FIRED, gev.INCIDENT, idev.RUN_SIGNED, idev.STEP_GATE,
})  # fmt: skip


# -- small text helpers ---------------------------------------------------------------------------------------------


def _by(event: Event) -> str:
    return f" by {event.actor}" if event.actor else ""


def clean_text(text: str) -> str:
    """Text people wrote, safe on a terminal: escape sequences and other control characters dropped, lines
    kept, the ends stripped. Every rendering of an incident's words (timeline, report) shows them through it."""
    text = _ESCAPES.sub("", text)
    return "".join(c for c in text if c == "\n" or unicodedata.category(c)[0] != "C").strip()


def _short(text: str | None, limit: int = TEXT_LIMIT) -> str:
    one = " ".join(clean_text(text or "").split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def _quote(text: str) -> str:
    return f'"{_short(text)}"'


def _json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False, separators=(", ", ": "))


def _show(value: Any) -> str:
    return value if isinstance(value, str) else _json(value)


def _generic(event: Event) -> str:
    """An event this version has no words for (a newer type): its type and its data, shortened."""
    data = f": {_short(_json(event.data))}" if event.data else ""
    return f"{event.type}{_by(event)}{data}"


# -- rendering ------------------------------------------------------------------------------------------------------


def _source(stream: Stream) -> str:
    if stream.kind == INCIDENT:
        return "incident"
    what = _LINK_WORDS.get(stream.kind, stream.kind)
    return f"{what} {stream.id}"


def markdown(timeline: Timeline) -> str:
    """The timeline as Markdown that also reads well on a terminal: one line per event, under a heading per
    day, each line with its full date and time."""
    incident, tz = timeline.incident, timeline.zone
    where = "UTC" if tz.is_utc else f"{tz.name} (UTC offsets shown on each line)"
    lines = [
        f"# {incident.id} timeline: {_short(incident.title)}",
        "",
        f"{incident.severity} · {incident.type} · status {incident.status} · times in {where}",
    ]
    day = ""
    for entry in timeline.entries:
        if tz.day(entry.at) != day:
            day = tz.day(entry.at)
            lines += ["", f"## {day}", ""]
        lines.append(f"- {tz.stamp(entry.at)} · {_source(entry.stream)} · {entry.text}")
        lines += [f"  > {line}" if line else "  >" for line in entry.detail.splitlines()]
    if not timeline.entries:
        lines += ["", "(no events)"]
    return "\n".join(lines) + "\n"


def as_json(timeline: Timeline) -> dict[str, Any]:
    incident, tz = timeline.incident, timeline.zone
    return {
        "incident": incident.id,
        "title": incident.title,
        "severity": str(incident.severity),
        "status": str(incident.status),
        "timezone": tz.name,
        "entries": [
            {
                "at": store.iso(entry.at),
                "local": tz.iso(entry.at),
                "recorded_at": store.iso(entry.recorded),
                "source": entry.stream.kind,
                "stream": entry.stream.id,
                "name": entry.stream.name or None,
                "seq": entry.seq,
                "type": entry.type,
                "step_id": entry.step_id,
                "actor": entry.actor,
                "text": entry.text,
                **({"detail": entry.detail} if entry.detail else {}),
                "data": entry.data,
            }
            for entry in timeline.entries
        ],
    }


def _verification(event: Event, tz: Zone) -> Said:
    """An attempt to pass the resolution gate (runner.incident.gate): each check's result on a line of its own."""
    p = gate.IncidentVerification.of(event)
    by = _by(event)
    if p.forced:
        return Said(f"resolution gate overridden (--force){by}: {_short(p.reason)}")
    outcome = "passed" if p.passed else "refused"
    hold = f" (hold {gate.held(p.hold_s)})" if p.hold_s else ""
    lines = [
        f"{'ok  ' if c.get('ok') else 'FAIL'} {c.get('kind', '?')} {_short(str(c.get('name', '?')))}: "
        + _short(str(c.get("detail", "")))
        + (f" (confirmed by {c['confirmed_by']})" if c.get("confirmed_by") else "")
        for c in p.checks
    ]
    summary = f"resolution gate {outcome}{hold}{by}"
    if not p.checks:
        summary += ": no checks to run, nothing was verified" if p.passed else ""
    elif p.reason:
        summary += f": {_short(p.reason)}"
    return Said(summary, detail="\n".join(lines))
