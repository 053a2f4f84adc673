"""`Incident`: the fold of an incident's events into what a responder asks about — who, how bad, where it
stands, when each milestone was reached (after corrections) and when the next status update is due."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from runner.incident import events as ev
from runner.incident.model import FINISHED, IncidentType, LinkKind, Milestone, Role, Severity, Status
from runner.journal.events import Event
from runner.journal.incidents import parse_utc as parse_utc  # one reading of incident times, shared with the index


@dataclass(frozen=True)
class Correction:
    old: str | None
    new: str
    reason: str
    by: str | None
    seq: int


@dataclass(frozen=True)
class MilestoneTime:
    """When a milestone was reached, the event that recorded it, and the correction that overrode it."""

    at: datetime
    source: str  # what set it: "command", "run … step …", "gameday …", "alert …", or "declaration"
    seq: int  # the recording event's seq
    actor: str | None
    recorded: datetime  # when it was recorded (differs from `at` for a milestone given after the fact)
    correction: Correction | None = None  # the last correction: `at` is its new time


@dataclass(frozen=True)
class Link:
    run_id: str
    kind: LinkKind | None  # None: a kind this version does not know
    name: str
    at: datetime | None


@dataclass(frozen=True)
class Update:
    at: datetime | None
    by: str | None
    status: str
    summary: str
    shape: str
    message: str
    next_update_at: datetime | None


@dataclass(frozen=True)
class Incident:
    id: str
    title: str
    severity: Severity
    type: IncidentType
    status: Status
    declared_at: datetime | None
    declared_by: str | None
    systems: tuple[str, ...] = ()
    impact: str = ""
    roles: Mapping[Role, str] = field(default_factory=dict)
    participants: tuple[str, ...] = ()
    milestones: Mapping[Milestone, MilestoneTime] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    last_update: Update | None = None
    updates: int = 0
    notes: int = 0
    assessment: Mapping[str, object] | None = None
    drill_of: str | None = None
    policy: str = ""
    closed_reason: str | None = None
    last_seq: int = 0

    @property
    def finished(self) -> bool:
        """Resolved or closed: no update is due, no interval keeps growing."""
        return self.status in FINISHED

    @property
    def is_drill(self) -> bool:
        return self.type is IncidentType.DRILL

    def at(self, milestone: Milestone) -> datetime | None:
        found = self.milestones.get(milestone)
        return found.at if found else None

    def next_update_due(self, cadence_s: float | None) -> datetime | None:
        """When the next status update is due: what the last update promised, else the declaration plus the
        severity's cadence (`cadence_s`, None: no cadence). None once the incident is resolved or closed."""
        if self.finished:
            return None
        if self.last_update is not None:
            return self.last_update.next_update_at
        if cadence_s is None or self.declared_at is None:
            return None
        return self.declared_at + timedelta(seconds=cadence_s)


def fold(events: Iterable[Event]) -> Incident:
    """The incident as its events (in seq order, the first one `incident.declared`) make it."""
    incident: Incident | None = None
    for event in events:
        if event.type == ev.DECLARED and incident is None:
            incident = _declared(event)
        elif incident is not None:
            step = _STEPS.get(event.type)
            if step is not None:
                incident = replace(step(incident, event), last_seq=event.seq)
    if incident is None:
        raise ValueError("an incident's events begin with incident.declared")
    return incident


def _declared(event: Event) -> Incident:
    declared = ev.IncidentDeclared.of(event)
    roles = {Role.COMMANDER: declared.commander} if declared.commander else {}
    return Incident(
        id=event.run_id,
        title=declared.title,
        severity=declared.severity,
        type=declared.type,
        status=Status.INVESTIGATING,
        declared_at=parse_utc(event.ts_wall),
        declared_by=event.actor,
        systems=declared.systems,
        impact=declared.impact,
        roles=roles,
        assessment=declared.assessment,
        drill_of=declared.drill_of,
        policy=declared.policy,
        last_seq=event.seq,
    )


def _milestone(incident: Incident, event: Event) -> Incident:
    payload = ev.IncidentMilestone.of(event)
    name, at = _known(Milestone, payload.name), parse_utc(payload.at)
    if name is None or at is None or name in incident.milestones:  # the first one counts
        return incident
    recorded = parse_utc(event.ts_wall) or at
    reached = MilestoneTime(at, payload.source, event.seq, event.actor, recorded)
    return replace(incident, milestones={**incident.milestones, name: reached})


def _corrected(incident: Incident, event: Event) -> Incident:
    payload = ev.IncidentCorrected.of(event)
    name, new = _known(Milestone, payload.milestone), parse_utc(payload.new)
    if name is None or new is None:
        return incident
    fix = Correction(payload.old, payload.new, payload.reason, event.actor, event.seq)
    before = incident.milestones.get(name)
    recorded = parse_utc(event.ts_wall) or new
    reached = (
        replace(before, at=new, correction=fix)
        if before is not None
        else MilestoneTime(new, "correction", event.seq, event.actor, recorded, fix)
    )
    return replace(incident, milestones={**incident.milestones, name: reached})


def _status(incident: Incident, event: Event) -> Incident:
    new = _known(Status, ev.IncidentStatusChanged.of(event).new)
    return incident if new is None else replace(incident, status=new)


def _severity(incident: Incident, event: Event) -> Incident:
    return replace(incident, severity=ev.IncidentSeverityChanged.of(event).new)


def _role(incident: Incident, event: Event) -> Incident:
    payload = ev.IncidentRoleAssigned.of(event)
    role = _known(Role, payload.role)
    if role is None or not payload.name:
        return incident
    if role is Role.PARTICIPANT:
        if payload.name in incident.participants:
            return incident
        return replace(incident, participants=(*incident.participants, payload.name))
    return replace(incident, roles={**incident.roles, role: payload.name})


def _note(incident: Incident, event: Event) -> Incident:
    return replace(incident, notes=incident.notes + 1)


def _update(incident: Incident, event: Event) -> Incident:
    payload = ev.IncidentUpdate.of(event)
    update = Update(
        at=parse_utc(event.ts_wall),
        by=event.actor,
        status=payload.status,
        summary=payload.summary,
        shape=payload.shape,
        message=payload.message,
        next_update_at=parse_utc(payload.next_update_at or ""),
    )
    return replace(incident, last_update=update, updates=incident.updates + 1)


def _linked(incident: Incident, event: Event) -> Incident:
    payload = ev.IncidentLinked.of(event)
    if any(link.run_id == payload.run_id for link in incident.links):
        return incident
    link = Link(payload.run_id, _known(LinkKind, payload.kind), payload.name, parse_utc(event.ts_wall))
    return replace(incident, links=(*incident.links, link))


def _closed(incident: Incident, event: Event) -> Incident:
    return replace(incident, status=Status.CLOSED, closed_reason=ev.IncidentClosed.of(event).reason)


_STEPS: Mapping[str, Callable[[Incident, Event], Incident]] = {
    ev.MILESTONE: _milestone,
    ev.CORRECTED: _corrected,
    ev.STATUS_CHANGED: _status,
    ev.SEVERITY_CHANGED: _severity,
    ev.ROLE_ASSIGNED: _role,
    ev.NOTE: _note,
    ev.UPDATE: _update,
    ev.LINKED: _linked,
    ev.CLOSED: _closed,
}


K = TypeVar("K", bound=StrEnum)


def _known(kind: type[K], value: str) -> K | None:
    """`value` as a member of `kind`, or None for a value a newer fireline wrote (skipped, not misread)."""
    try:
        return kind(value)
    except ValueError:
        return None
