"""What happens to an incident, as functions every caller shares (the CLI, runs linked to an incident, game
days opening drills): declare it, reach a milestone, change its status. Each records events; none prints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from runner.errors import FirelineError
from runner.incident import events as ev
from runner.incident import ids
from runner.incident.checklist import checklist
from runner.incident.model import (
    TRANSITIONS,
    IncidentType,
    Milestone,
    NoteKind,
    Role,
    Severity,
    Status,
    allowed_next,
)
from runner.incident.store import append, iso, load
from runner.incident.times import utc
from runner.incident.view import Incident
from runner.journal.store import Journal

if TYPE_CHECKING:
    from runner.policy import Policy


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


def change_status(
    journal: Journal, incident: Incident, new: Status, actor: str | None, *, closing: bool = False
) -> bool:
    """Move the incident to `new`; False when it is there already. Refuses a change its life does not allow.
    Only `runner.incident.closing.close` (`closing`) closes: it checks the post-mortem and action items first."""
    if incident.status is new:
        return False
    if new not in TRANSITIONS[incident.status]:
        allowed = ", ".join(allowed_next(incident.status)) or "nothing (closed is final)"
        raise TransitionRefused(
            f"{incident.id} is {incident.status}: it cannot become {new}; from {incident.status} it can become "
            f"{allowed}"
        )
    if new is Status.CLOSED and not closing:
        raise TransitionRefused(
            f"{incident.id}: closing checks the post-mortem and the action items first",
            hint=f"fireline incident close {incident.id}",
        )
    append(journal, incident.id, ev.IncidentStatusChanged(str(incident.status), str(new)), actor)
    return True


# -- what responders do -------------------------------------------------------------------------------------------


class IncidentClosed(FirelineError):
    """The incident is closed (its post-mortem is done): only notes and milestone corrections are taken."""


def require_open(incident: Incident, doing: str) -> None:
    if incident.status is Status.CLOSED:
        raise IncidentClosed(
            f"{incident.id} is closed: refusing to {doing}",
            hint=f"notes (`fireline incident note {incident.id} …`) and corrections are still taken",
        )


def check_order(incident: Incident, milestone: Milestone, at: datetime) -> None:
    """Every interval starts at `started`: no milestone may come before it, and `started` after none."""
    started = incident.at(Milestone.STARTED)
    if milestone is not Milestone.STARTED and started is not None and at < started:
        raise MilestoneOrder(
            f"{incident.id}: {milestone} at {utc(at)} would come before the impact started ({utc(started)})",
            hint=f"if the impact started earlier, correct it first: fireline incident correct {incident.id} "
            "started TIME --reason …",
        )
    if milestone is Milestone.STARTED:
        later = [(m, t.at) for m, t in incident.milestones.items() if m is not Milestone.STARTED and t.at < at]
        if later:
            name, when = min(later, key=lambda pair: pair[1])
            raise MilestoneOrder(
                f"{incident.id}: the impact cannot have started at {utc(at)}, after {name} ({utc(when)})"
            )


class MilestoneOrder(FirelineError):
    """A milestone time that would make an interval negative."""


def acknowledge(journal: Journal, incident: Incident, actor: str | None, now: datetime | None = None) -> bool:
    require_open(incident, "acknowledge it")
    return reach(journal, incident.id, Milestone.ACKNOWLEDGED, now or datetime.now(UTC), "command", actor)


def assign(journal: Journal, incident: Incident, role: Role, name: str, actor: str | None) -> None:
    require_open(incident, "assign roles")
    append(journal, incident.id, ev.IncidentRoleAssigned(str(role), name), actor)


def change_severity(journal: Journal, incident: Incident, new: Severity, reason: str, actor: str | None) -> bool:
    require_open(incident, "change its severity")
    if incident.severity is new:
        return False
    append(journal, incident.id, ev.IncidentSeverityChanged(incident.severity, new, reason), actor)
    return True


def add_note(journal: Journal, incident: Incident, text: str, kind: NoteKind, actor: str | None) -> None:
    append(journal, incident.id, ev.IncidentNote(text, str(kind)), actor)


def mitigate(journal: Journal, incident: Incident, actor: str | None, source: str = "command") -> list[str]:
    """The `mitigated` milestone, and the status `monitoring` when the incident was still being worked on.
    Returns what changed, for the responder."""
    require_open(incident, "mark it mitigated")
    if incident.status is Status.RESOLVED:
        raise TransitionRefused(f"{incident.id} is resolved already; mitigation comes before resolution")
    changed = []
    if reach(journal, incident.id, Milestone.MITIGATED, datetime.now(UTC), source, actor):
        changed.append("mitigated")
    if incident.status in (Status.INVESTIGATING, Status.IDENTIFIED):
        change_status(journal, incident, Status.MONITORING, actor)
        changed.append(f"status {incident.status} → {Status.MONITORING}")
    return changed


def resolution_problems(incident: Incident, policy: Policy | None = None) -> list[str]:
    """Why the incident may not be called resolved without passing the resolution gate: the verification
    checklist of its severity (in `policy`, else the policy in force) has items that apply to it. With nothing
    to check, a status change or an update may resolve it; otherwise only `fireline incident resolve` can
    (runner.incident.gate), which runs the checks and holds them."""
    from runner.policy import policy_in_force  # read only when the gate is asked

    found = checklist(policy or policy_in_force(), incident)
    if not found.checks:
        return []
    names = ", ".join(repr(c.name) for c in found.checks)
    return [f"its {found.severity} verification checklist has {len(found.checks)} item(s) to pass first ({names})"]


class ResolutionRefused(FirelineError):
    """The resolution gate found a reason the incident is not resolved."""


def resolve(
    journal: Journal,
    incident: Incident,
    actor: str | None,
    now: datetime | None = None,
    *,
    verified: bool = False,
    source: str = "command",
    policy: Policy | None = None,
) -> list[str]:
    """The `resolved` milestone and status at `now`. `verified`: the resolution gate passed (or was forced)
    at that moment; otherwise the gate must have nothing to check (`resolution_problems`). An incident
    resolved without a recorded mitigation was mitigated by the resolution: the milestone is recorded at the
    same moment, so that time to mitigate is never missing for a resolved incident. Returns what changed."""
    require_open(incident, "resolve it")
    if incident.status is not Status.RESOLVED and Status.RESOLVED not in TRANSITIONS[incident.status]:
        change_status(journal, incident, Status.RESOLVED, actor)  # raises with what is allowed
    # Already resolved: nothing new is claimed (an update repeating it, a milestone recorded late).
    problems = [] if verified or incident.status is Status.RESOLVED else resolution_problems(incident, policy)
    if problems:
        raise ResolutionRefused(
            f"{incident.id} is not resolved: " + "; ".join(problems),
            hint=f"run `fireline incident resolve {incident.id}`: it runs the checks and resolves the incident "
            "once they hold",
        )
    moment = now or datetime.now(UTC)
    changed = []
    if Milestone.MITIGATED not in incident.milestones:
        reach(journal, incident.id, Milestone.MITIGATED, moment, "resolution (no earlier mitigation recorded)", actor)
        changed.append("mitigated")
    if reach(journal, incident.id, Milestone.RESOLVED, moment, source, actor):
        changed.append("resolved")
    if change_status(journal, incident, Status.RESOLVED, actor):
        changed.append(f"status {incident.status} → {Status.RESOLVED}")
    return changed


def set_status(
    journal: Journal, incident: Incident, new: Status, actor: str | None, *, policy: Policy | None = None
) -> list[str]:
    """`fireline incident status`: resolving goes through `resolve` (its milestone and its gate, judged by
    `policy`, else the policy in force)."""
    if new is Status.RESOLVED:
        return resolve(journal, incident, actor, policy=policy)
    return [f"status {incident.status} → {new}"] if change_status(journal, incident, new, actor) else []
