"""What happens to an incident, as functions every caller shares (the CLI, runs linked to an incident, game
days opening drills): declare it, reach a milestone, change its status. Each records events; none prints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from runner.errors import FirelineError
from runner.incident import events as ev
from runner.incident import ids
from runner.incident.model import TRANSITIONS, IncidentType, Milestone, Severity, Status, allowed_next
from runner.incident.store import append, iso, load
from runner.incident.view import Incident
from runner.journal.store import Journal


class TransitionRefused(FirelineError):
    """A status change the incident's life does not allow (exit 1: a refusal, not a typo)."""


@dataclass(frozen=True)
class Declaration:
    title: str
    severity: Severity
    type: IncidentType = IncidentType.AVAILABILITY
    systems: tuple[str, ...] = ()
    impact: str = ""
    started_at: datetime | None = None  # impact start; None: now
    detected_at: datetime | None = None  # None: now (declaring is detecting, unless told otherwise)
    commander: str | None = None
    assessment: Mapping[str, Any] | None = None
    drill_of: str | None = None
    policy: str = ""  # digest of the severity policy in force
    source: str = "command"  # what declared it, for the milestones' source


def declare(journal: Journal, declaration: Declaration, actor: str | None, now: datetime | None = None) -> str:
    """Open an incident: a new id, `incident.declared`, and its `started` and `detected` milestones."""
    moment = now or datetime.now(UTC)
    incident_id = ids.allocate(journal, moment)
    started = declaration.started_at or moment
    payload = ev.IncidentDeclared(
        title=declaration.title,
        severity=declaration.severity,
        type=declaration.type,
        systems=declaration.systems,
        impact=declaration.impact,
        started_at=iso(started),
        commander=declaration.commander,
        assessment=declaration.assessment,
        drill_of=declaration.drill_of,
        policy=declaration.policy,
    )
    append(journal, incident_id, payload, actor)
    reach(journal, incident_id, Milestone.STARTED, started, declaration.source, actor)
    reach(journal, incident_id, Milestone.DETECTED, declaration.detected_at or moment, declaration.source, actor)
    return incident_id


def reach(
    journal: Journal, incident_id: str, milestone: Milestone, at: datetime, source: str, actor: str | None
) -> bool:
    """Record that `milestone` was reached at `at`; False (and nothing written) when it already was: the
    first one counts, and a wrong one is corrected with `correct`."""
    if milestone in load(journal, incident_id).milestones:
        return False
    append(journal, incident_id, ev.IncidentMilestone(str(milestone), iso(at), source), actor)
    return True


def correct(
    journal: Journal, incident_id: str, milestone: Milestone, new: datetime, reason: str, actor: str | None
) -> ev.IncidentCorrected:
    """Set a milestone's time right; the correction records the old and the new time and why."""
    incident = load(journal, incident_id)
    before = incident.milestones.get(milestone)
    payload = ev.IncidentCorrected(str(milestone), iso(before.at) if before else None, iso(new), reason)
    append(journal, incident_id, payload, actor)
    return payload


def change_status(journal: Journal, incident: Incident, new: Status, actor: str | None) -> bool:
    """Move the incident to `new`; False when it is there already. Refuses a change its life does not allow."""
    if incident.status is new:
        return False
    if new not in TRANSITIONS[incident.status]:
        allowed = ", ".join(allowed_next(incident.status)) or "nothing (closed is final)"
        raise TransitionRefused(
            f"{incident.id} is {incident.status}: it cannot become {new}; from {incident.status} it can become "
            f"{allowed}"
        )
    append(journal, incident.id, ev.IncidentStatusChanged(str(incident.status), str(new)), actor)
    return True
