"""Status updates: rendered from the initial / progress / resolution templates, recorded on the incident,
then handed to `deliver` for the severity's channels.

The templates are plain text with full UTC dates (readers are in other zones and read it days later).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from runner.incident import events as ev
from runner.incident.delivery import Delivery, recorded_only
from runner.incident.delivery import deliver as deliver_to_channels
from runner.incident.lifecycle import TransitionRefused, change_status, require_open, resolve
from runner.incident.model import FINISHED, TRANSITIONS, Milestone, Status, allowed_next
from runner.incident.store import append, iso
from runner.incident.times import span, utc
from runner.incident.view import Incident, parse_utc
from runner.journal.events import Event
from runner.journal.store import Journal
from runner.policy import Policy, SeverityLevel


class Shape(StrEnum):
    INITIAL = "initial"  # the first update of an incident
    PROGRESS = "progress"
    RESOLUTION = "resolution"  # the update that says it is resolved


@dataclass(frozen=True)
class UpdateRequest:
    status: Status
    summary: str
    impact: str = ""
    actions: tuple[str, ...] = ()
    eta: str | None = None
    next_update_s: float | None = None  # None: the severity's cadence


def shape_of(incident: Incident, status: Status) -> Shape:
    if status in FINISHED:
        return Shape.RESOLUTION
    return Shape.PROGRESS if incident.updates else Shape.INITIAL


def render(incident: Incident, request: UpdateRequest, shape: Shape, now: datetime, next_at: datetime | None) -> str:
    """The update's text, in its shape."""
    heading = {
        Shape.INITIAL: f"[{incident.id}] {incident.severity} incident: {incident.title}",
        Shape.PROGRESS: f"[{incident.id}] {incident.severity} update: {incident.title}",
        Shape.RESOLUTION: f"[{incident.id}] {incident.severity} resolved: {incident.title}",
    }[shape]
    lines = [heading, f"Status: {request.status}", f"Summary: {request.summary}"]
    impact = request.impact or incident.impact
    if impact:
        lines.append(f"Impact: {impact}")
    started = incident.at(Milestone.STARTED)
    if started is not None:
        lines.append(f"Started: {utc(started)}")
    if shape is Shape.RESOLUTION and started is not None:
        # Resolved already (by `resolve` and its gate): the update tells that moment, not its own
        ended = (incident.at(Milestone.RESOLVED) if incident.finished else None) or now
        lines.append(f"Resolved: {utc(ended)} (impact lasted {span((ended - started).total_seconds())})")
    if request.actions:
        lines.append("Actions:")
        lines.extend(f"  - {action}" for action in request.actions)
    if request.eta and shape is not Shape.RESOLUTION:
        lines.append(f"ETA: {request.eta}")
    if next_at is not None:
        lines.append(f"Next update: by {utc(next_at)}")
    elif shape is not Shape.RESOLUTION:
        lines.append("Next update: when there is news")
    return "\n".join(lines)


def post_update(
    journal: Journal,
    incident: Incident,
    request: UpdateRequest,
    level: SeverityLevel,
    actor: str | None,
    now: datetime | None = None,
    policy: Policy | None = None,
) -> tuple[ev.IncidentUpdate, list[str], list[Delivery]]:
    """Change the status (resolving goes through `resolve` and its gate), record the update, deliver it to
    the policy's channels. Every check is made before anything is written."""
    require_open(incident, "post an update")
    if request.status is not incident.status and request.status not in TRANSITIONS[incident.status]:
        allowed = ", ".join(allowed_next(incident.status)) or "nothing"
        raise TransitionRefused(
            f"{incident.id} is {incident.status}: an update cannot make it {request.status}; from "
            f"{incident.status} it can become {allowed} (or stay {incident.status})"
        )
    moment = now or datetime.now(UTC)
    shape = shape_of(incident, request.status)
    cadence = request.next_update_s if request.next_update_s is not None else level.update_cadence_s
    next_at = None if request.status in FINISHED or cadence is None else moment + timedelta(seconds=cadence)
    if request.status is Status.RESOLVED:
        changed = resolve(journal, incident, actor, moment, policy=policy)  # the gate of the policy given
    elif change_status(journal, incident, request.status, actor):
        changed = [f"status {incident.status} → {request.status}"]
    else:
        changed = []
    payload = ev.IncidentUpdate(
        status=str(request.status),
        summary=request.summary,
        impact=request.impact,
        actions=request.actions,
        eta=request.eta,
        next_update_at=iso(next_at) if next_at else None,
        shape=str(shape),
        message=render(incident, request, shape, moment, next_at),
        channels=level.channels,
    )
    append(journal, incident.id, payload, actor)
    return payload, changed, deliver(journal, incident, payload, policy, actor)


def deliver(
    journal: Journal, incident: Incident, update: ev.IncidentUpdate, policy: Policy | None, actor: str | None
) -> list[Delivery]:
    """Deliver a recorded update to its channels (runner.incident.delivery). The journal is the source of
    truth: the update is recorded before delivery is tried, and a channel that fails does not undo it.
    Without a policy file no channel is defined: each is reported as recorded only."""
    if policy is None or not policy.data.get("channels"):
        return [recorded_only(name) for name in update.channels]
    recorded = _recorded(journal, incident.id, update)
    return deliver_to_channels(journal, incident, update, recorded.seq, policy, actor, parse_utc(recorded.ts_wall))


def _recorded(journal: Journal, incident_id: str, update: ev.IncidentUpdate) -> Event:
    """The event just appended for `update` (its seq names it in the deliveries): the last of that content."""
    stored = json.loads(json.dumps(update.to_data(), default=str))
    found = [e for e in journal.events(incident_id, (ev.UPDATE,)) if dict(e.data) == stored]
    return found[-1]
