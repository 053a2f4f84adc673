"""`fireline incident report ID`: the incident in the shape of an "Incident Response Analysis" — severity and
why, summary, timeline, investigation, impact, communication log, remediation, post-mortem analysis, action
items and metrics — built once from the journal as an `IncidentReport`, then rendered (runner.incident.
report_outline for text, Markdown, HTML and PDF; runner.incident.report_json for JSON).

Everything comes from recorded facts: milestones (after corrections), the runs linked to the incident, the
status updates and their deliveries, notes, tracked action items and the post-mortem file. A report of an
incident that is not resolved says so: its durations run up to the moment the report was made (`as_of`) and
are marked as such; no interval is ever invented.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from runner.incident import events as iev
from runner.incident import metrics as m
from runner.incident import report_sources as src
from runner.incident import store
from runner.incident.action_items import ActionItem
from runner.incident.delivery import DeliveryRecord
from runner.incident.links import changes_production
from runner.incident.model import IncidentType, LinkKind, Milestone, NoteKind, Severity, Status
from runner.incident.timeline import INCIDENT, Stream, Timeline, build, zone
from runner.incident.view import Incident, fold, parse_utc
from runner.journal import events as ev
from runner.journal.events import Event
from runner.journal.store import Journal
from runner.policy import SeverityLevel

WINDOW = timedelta(days=30)  # the span the report's team-wide numbers cover, ending when it is made
SHORT_TERM = timedelta(days=7)  # an action item due within this of the incident's end is short-term


@dataclass(frozen=True)
class SeverityChange:
    at: datetime | None
    old: Severity
    new: Severity
    reason: str
    by: str | None


@dataclass(frozen=True)
class SeverityFacts:
    """The severity and what put it there: the declaration's assessment (the criteria the responder gave and
    the reasons they matched), else the level's definition; and any later change with its reason."""

    level: Severity
    title: str  # the policy's word for it: critical, high, …
    definition: str
    response_target: str
    update_cadence: str
    assessed: bool  # chosen with --assess (from criteria), not set directly
    why: tuple[str, ...]
    criteria: tuple[tuple[str, str], ...]  # as typed, in the order given
    changes: tuple[SeverityChange, ...]


@dataclass(frozen=True)
class Clock:
    """When it started and ended, and how long it lasted: up to `as_of` when it is still going on."""

    started: datetime | None
    resolved: datetime | None
    as_of: datetime
    ongoing: bool

    @property
    def end(self) -> datetime:
        """Where its durations end: the resolution, else (still going on) the moment of the report."""
        return self.as_of if self.ongoing or self.resolved is None else self.resolved

    @property
    def duration_s(self) -> float | None:
        if self.started is None:
            return None
        return max(0.0, (self.end - self.started).total_seconds())


@dataclass(frozen=True)
class Note:
    at: datetime | None
    by: str | None
    kind: str
    text: str


@dataclass(frozen=True)
class Summary:
    title: str
    impact: str
    systems: tuple[str, ...]
    root_cause: str  # "" when nobody has named it yet
    resolution: str  # "" while unresolved and unsaid


@dataclass(frozen=True)
class TimelineLine:
    at: datetime
    source: str  # "incident", or "run RUN_ID", "game day GD_ID"
    text: str
    detail: str = ""


@dataclass(frozen=True)
class Investigation:
    primary_cause: str
    contributing_factors: tuple[str, ...]
    five_whys: tuple[src.Why, ...]
    root_cause_notes: tuple[Note, ...]


@dataclass(frozen=True)
class Impact:
    user_impact: str
    systems: tuple[str, ...]
    duration_s: float | None
    ongoing: bool
    criteria: tuple[tuple[str, str], ...]  # what the responder gave when assessing the severity
    users_affected: str | None  # from the post-mortem, where people fill them in
    revenue: str | None
    tickets: str | None
    reported: tuple[tuple[datetime | None, str], ...]  # the impact as each status update stated it


@dataclass(frozen=True)
class ChannelOutcome:
    channel: str
    delivery: DeliveryRecord | None  # None: recorded only (no delivery was attempted or recorded)


@dataclass(frozen=True)
class Communication:
    at: datetime | None
    by: str | None
    shape: str
    status: str
    summary: str
    channels: tuple[ChannelOutcome, ...]


@dataclass(frozen=True)
class StepSpan:
    """One step of a runbook run linked to the incident."""

    run_id: str
    runbook: str
    step_id: str
    action: str
    started: datetime | None
    ended: datetime | None
    outcome: str  # succeeded | failed | skipped | rolled back | running
    summary: str
    change: bool  # it changed production (mutating, and the action's production_change trait)
    approved_by: tuple[str, ...]


@dataclass(frozen=True)
class Remediation:
    immediate: tuple[StepSpan, ...]  # the production changes the runbooks made during the incident
    short_term: tuple[ActionItem, ...]  # action items due within SHORT_TERM of the incident's end
    long_term: tuple[ActionItem, ...]  # later, or with no due date


@dataclass(frozen=True)
class IntervalValue:
    which: m.Interval
    seconds: float | None  # measured (started → milestone)
    so_far: float | None  # not reached and still going on: started → as_of


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime
    summary: m.Summary
    systems: tuple[str, ...]  # the incident's systems, whose MTBF the report shows


@dataclass(frozen=True)
class Metrics:
    intervals: tuple[IntervalValue, ...]
    window: Window
    drill: bool  # this incident is a drill: the window's numbers leave drills out


@dataclass(frozen=True)
class StatusAt:
    at: datetime
    status: str


@dataclass(frozen=True)
class IncidentReport:
    id: str
    title: str
    type: IncidentType
    status: Status
    drill_of: str | None
    roles: tuple[tuple[str, str], ...]
    participants: tuple[str, ...]
    severity: SeverityFacts
    clock: Clock
    milestones: tuple[tuple[Milestone, datetime], ...]
    statuses: tuple[StatusAt, ...]
    summary: Summary
    timeline: tuple[TimelineLine, ...]
    investigation: Investigation
    impact: Impact
    communications: tuple[Communication, ...]
    steps: tuple[StepSpan, ...]
    remediation: Remediation
    postmortem: src.PostMortem | None
    postmortem_path: str
    renderings: tuple[src.Rendering, ...]  # of the post-mortem (md, html, pdf), as the journal recorded them
    action_items: tuple[ActionItem, ...]
    noted_actions: tuple[Note, ...]
    notes: tuple[Note, ...]
    metrics: Metrics

    @property
    def as_of(self) -> datetime:
        return self.clock.as_of

    @property
    def ongoing(self) -> bool:
        return self.clock.ongoing


# -- building ----------------------------------------------------------------------------------------------------


def build_report(
    journal: Journal,
    incident_id: str,
    levels: Mapping[str, SeverityLevel],
    now: datetime | None = None,
    cwd: Path | None = None,
) -> IncidentReport:
    """The report of `incident_id` (an unknown id is a usage error naming `incident list`); `levels`: the
    severity levels of the policy in force (what each severity means and promises)."""
    # Every type, read once: the view folds its own; deliveries, action items, post-mortems are read from it too.
    stream = store.incident_events(journal, incident_id.strip().upper(), ())
    incident = fold(stream)
    linked = [(Stream(link.run_id, str(link.kind or "run"), link.name), journal.events(link.run_id))
              for link in incident.links]  # fmt: skip
    history = [m.facts_of_row(row) for row in journal.incidents()]
    level = levels.get(str(incident.severity))
    return assemble(incident, stream, linked, history, level, now or datetime.now(UTC), cwd or Path.cwd())


def assemble(
    incident: Incident,
    stream: Sequence[Event],
    linked: Sequence[tuple[Stream, Sequence[Event]]],
    history: Sequence[m.Facts],
    level: SeverityLevel | None,
    now: datetime,
    cwd: Path,
) -> IncidentReport:
    """The report from the events already read (the journal is not read again: tests give it events of any
    date); only the post-mortem file is read here, from its recorded or default place under `cwd`."""
    clock = _clock(incident, now)
    notes = _notes(stream)
    path = src.postmortem_path(incident.id, stream, cwd)
    postmortem = src.read_postmortem(path)
    pm = postmortem if postmortem is not None and not postmortem.problem else None
    steps = tuple(span for s, events in linked if s.kind == LinkKind.RUNBOOK for span in _steps(s, events))
    items = tuple(src.action_items(stream))
    severity = _severity(incident, stream, level)
    updates = _updates(stream)
    root_notes = tuple(n for n in notes if n.kind == NoteKind.ROOT_CAUSE)
    root_cause = pm.root_cause if pm and pm.root_cause else root_notes[-1].text if root_notes else ""
    return IncidentReport(
        id=incident.id,
        title=incident.title,
        type=incident.type,
        status=incident.status,
        drill_of=incident.drill_of,
        roles=tuple((str(role), name) for role, name in incident.roles.items()),
        participants=incident.participants,
        severity=severity,
        clock=clock,
        milestones=tuple((name, incident.milestones[name].at) for name in Milestone if name in incident.milestones),
        statuses=_statuses(incident, stream),
        summary=_summary(incident, updates, pm, root_cause, clock),
        timeline=_timeline(build(incident, stream, linked, zone(None))),
        investigation=Investigation(
            primary_cause=root_cause,
            contributing_factors=pm.contributing_factors if pm else (),
            five_whys=pm.five_whys if pm else (),
            root_cause_notes=root_notes,
        ),
        impact=_impact(incident, updates, pm, severity, clock),
        communications=_communications(stream, updates),
        steps=steps,
        remediation=_remediation(steps, items, clock),
        postmortem=postmortem,
        postmortem_path=str(path),
        renderings=tuple(src.renderings(stream)),
        action_items=items,
        noted_actions=tuple(n for n in notes if n.kind == NoteKind.ACTION),
        notes=notes,
        metrics=_metrics(incident, clock, history),
    )


def _clock(incident: Incident, now: datetime) -> Clock:
    return Clock(incident.at(Milestone.STARTED), incident.at(Milestone.RESOLVED), now, not incident.finished)


def _severity(incident: Incident, stream: Sequence[Event], level: SeverityLevel | None) -> SeverityFacts:
    assessment = incident.assessment or {}
    why = assessment.get("why")
    given = assessment.get("criteria")
    changes = tuple(
        SeverityChange(parse_utc(e.ts_wall), p.old, p.new, p.reason, e.actor)
        for e in stream
        if e.type == iev.SEVERITY_CHANGED
        for p in (iev.IncidentSeverityChanged.of(e),)
    )
    return SeverityFacts(
        level=incident.severity,
        title=level.title if level else "",
        definition=level.definition if level else "",
        response_target=level.response_target if level else "",
        update_cadence=level.update_cadence if level else "",
        assessed=bool(incident.assessment),
        why=tuple(str(w) for w in why) if isinstance(why, list) else (),
        criteria=tuple((str(k), str(v)) for k, v in given.items()) if isinstance(given, Mapping) else (),
        changes=changes,
    )


def _notes(stream: Sequence[Event]) -> tuple[Note, ...]:
    return tuple(
        Note(parse_utc(e.ts_wall), e.actor, p.kind, p.text)
        for e in stream
        if e.type == iev.NOTE
        for p in (iev.IncidentNote.of(e),)
    )


Updates = Sequence[tuple[Event, iev.IncidentUpdate]]  # the status updates posted, each with its event


def _updates(stream: Sequence[Event]) -> Updates:
    return [(e, iev.IncidentUpdate.of(e)) for e in stream if e.type == iev.UPDATE]


def _statuses(incident: Incident, stream: Sequence[Event]) -> tuple[StatusAt, ...]:
    """The status over time, from the declaration on (for the timeline picture)."""
    found = [StatusAt(incident.declared_at, str(Status.INVESTIGATING))] if incident.declared_at else []
    for event in stream:
        at = parse_utc(event.ts_wall)
        if at is None:
            continue
        if event.type == iev.STATUS_CHANGED:
            found.append(StatusAt(at, iev.IncidentStatusChanged.of(event).new))
        elif event.type == iev.CLOSED:
            found.append(StatusAt(at, str(Status.CLOSED)))
    return tuple(found)


def _summary(incident: Incident, updates: Updates, pm: src.PostMortem | None, root_cause: str, clock: Clock) -> Summary:
    resolution = ""
    said = [p.summary for _, p in updates if p.shape == "resolution"]
    if said and not clock.ongoing:
        resolution = said[-1]
    elif pm and pm.resolution:
        resolution = pm.resolution
    return Summary(incident.title, incident.impact, incident.systems, root_cause, resolution)


def _timeline(timeline: Timeline) -> tuple[TimelineLine, ...]:
    return tuple(TimelineLine(entry.at, _source(entry.stream), entry.text, entry.detail) for entry in timeline.entries)


def _source(stream: Stream) -> str:
    if stream.kind == INCIDENT:
        return "incident"
    what = {"runbook": "run", "plan": "plan", "gameday": "game day"}.get(stream.kind, stream.kind)
    return f"{what} {stream.id}"


def _impact(
    incident: Incident, updates: Updates, pm: src.PostMortem | None, severity: SeverityFacts, clock: Clock
) -> Impact:
    reported = tuple((parse_utc(e.ts_wall), p.impact) for e, p in updates if p.impact)
    return Impact(
        user_impact=(pm.user_impact if pm and pm.user_impact else incident.impact),
        systems=incident.systems,
        duration_s=clock.duration_s,
        ongoing=clock.ongoing,
        criteria=severity.criteria,
        users_affected=pm.users_affected if pm else None,
        revenue=pm.revenue if pm else None,
        tickets=pm.tickets if pm else None,
        reported=reported,
    )


def _communications(stream: Sequence[Event], updates: Updates) -> tuple[Communication, ...]:
    delivered: dict[int, list[DeliveryRecord]] = {}
    for d in src.deliveries(stream):
        delivered.setdefault(d.update_seq, []).append(d)
    found = []
    for event, update in updates:
        outcomes = {d.channel: d for d in delivered.get(event.seq, [])}
        names = list(dict.fromkeys([*update.channels, *outcomes]))
        found.append(
            Communication(
                at=parse_utc(event.ts_wall),
                by=event.actor,
                shape=update.shape,
                status=update.status,
                summary=update.summary,
                channels=tuple(ChannelOutcome(name, outcomes.get(name)) for name in names),
            )
        )
    return tuple(found)


# -- the runs' steps ----------------------------------------------------------------------------------------------

_ENDS = {
    ev.STEP_SUCCEEDED: "succeeded",
    ev.STEP_FAILED: "failed",
    ev.STEP_SKIPPED: "skipped",
    ev.STEP_ROLLED_BACK: "rolled back",
}


def _steps(stream: Stream, events: Sequence[Event]) -> list[StepSpan]:
    """Each step of one run, in the order it started (a step run again after a resume or a goto counts once
    per start)."""
    spans: list[StepSpan] = []
    open_: dict[str, int] = {}  # step id → its index in `spans` while it runs
    approvals: dict[str, list[str]] = {}
    for event in events:
        step = event.step_id
        if step is None:
            continue
        if event.type == ev.STEP_APPROVED:
            who = ev.StepApproved.of(event).principal or event.actor or "?"
            approvals.setdefault(step, []).append(who)
        elif event.type == ev.STEP_STARTED:
            started = ev.StepStarted.of(event)
            if started.rollback:
                continue
            change = changes_production(started)
            open_[step] = len(spans)
            spans.append(StepSpan(stream.id, stream.name, step, started.action, parse_utc(event.ts_wall), None,
                                  "running", "", change, tuple(approvals.pop(step, []))))  # fmt: skip
        elif event.type in _ENDS:
            rollback = event.type == ev.STEP_FAILED and ev.StepFailed.of(event).rollback
            if rollback:
                continue
            index = open_.pop(step, None)
            if index is None:  # ended without a start recorded (skipped by a condition): not run
                if event.type == ev.STEP_ROLLED_BACK:
                    index = next((i for i in range(len(spans) - 1, -1, -1) if spans[i].step_id == step), None)
                if index is None:
                    continue
            spans[index] = _ended(spans[index], event)
    return spans


def _ended(span: StepSpan, event: Event) -> StepSpan:
    summary = ""
    if event.type == ev.STEP_SUCCEEDED:
        summary = ev.StepSucceeded.of(event).summary
    elif event.type == ev.STEP_FAILED:
        summary = ev.StepFailed.of(event).error
    elif event.type == ev.STEP_SKIPPED:
        summary = ev.StepSkipped.of(event).reason
    elif event.type == ev.STEP_ROLLED_BACK:
        summary = ev.StepRolledBack.of(event).summary
    return StepSpan(span.run_id, span.runbook, span.step_id, span.action, span.started, parse_utc(event.ts_wall),
                    _ENDS[event.type], summary, span.change, span.approved_by)  # fmt: skip


def _remediation(steps: Sequence[StepSpan], items: Sequence[ActionItem], clock: Clock) -> Remediation:
    horizon = (clock.end + SHORT_TERM).date()
    short = tuple(i for i in items if i.due is not None and i.due <= horizon)
    return Remediation(
        immediate=tuple(s for s in steps if s.change),
        short_term=short,
        long_term=tuple(i for i in items if i not in short),
    )


# -- metrics -------------------------------------------------------------------------------------------------------


def _metrics(incident: Incident, clock: Clock, history: Sequence[m.Facts]) -> Metrics:
    facts = m.facts_of(incident)
    intervals = []
    for which in m.Interval:
        seconds = facts.interval(which)
        so_far = clock.duration_s if seconds is None and clock.ongoing else None
        intervals.append(IntervalValue(which, seconds, so_far))
    since = clock.as_of - WINDOW
    chosen = m.select(history, m.Selection(since=since, until=clock.as_of))
    return Metrics(
        intervals=tuple(intervals),
        window=Window(since, clock.as_of, m.summarize(chosen), incident.systems),
        drill=incident.is_drill,
    )


def today(report_: IncidentReport) -> date:
    """The date action items are judged overdue against: the day the report was made (UTC)."""
    return report_.as_of.astimezone(UTC).date()
