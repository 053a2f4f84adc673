"""What `incident list` and `incident show` print: one summary row per incident, and one incident in full
(as text and as JSON). Dates are full and in UTC; a duration is never shown growing past the resolution."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from runner.incident.model import Milestone, Role
from runner.incident.store import iso
from runner.incident.times import span, utc
from runner.incident.view import Incident, Link, MilestoneTime
from runner.policy import SeverityLevel


def summary_row(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "title": incident.title,
        "severity": str(incident.severity),
        "type": str(incident.type),
        "status": str(incident.status),
        "systems": list(incident.systems),
        "declared_at": iso(incident.declared_at) if incident.declared_at else None,
        "commander": incident.roles.get(Role.COMMANDER),
    }


def update_due(incident: Incident, level: SeverityLevel, now: datetime) -> dict[str, Any] | None:
    """When the next status update is due and whether it is overdue (None: none is due — resolved, closed,
    or a severity without a cadence and no promise made)."""
    due = incident.next_update_due(level.update_cadence_s)
    if due is None:
        return None
    late = (now - due).total_seconds()
    return {"due_at": iso(due), "overdue": late > 0, "overdue_s": round(late, 3) if late > 0 else 0.0,
            "in_s": round(-late, 3) if late <= 0 else 0.0}  # fmt: skip


def missing_roles(incident: Incident, level: SeverityLevel) -> list[str]:
    return [role for role in level.roles if Role(role) not in incident.roles]


def show_data(incident: Incident, level: SeverityLevel, now: datetime | None = None) -> dict[str, Any]:
    moment = now or datetime.now(UTC)
    return {
        **summary_row(incident),
        "impact": incident.impact,
        "declared_by": incident.declared_by,
        "severity_title": level.title,
        "roles": {str(role): name for role, name in incident.roles.items()},
        "roles_missing": missing_roles(incident, level),
        "participants": list(incident.participants),
        "milestones": {str(m): _milestone_data(incident.milestones.get(m)) for m in Milestone},
        "next_update": update_due(incident, level, moment),
        "last_update": _last_update(incident),
        "updates": incident.updates,
        "notes": incident.notes,
        "links": [_link_data(link) for link in incident.links],
        "assessment": incident.assessment,
        "drill_of": incident.drill_of,
    }


def _link_data(link: Link) -> dict[str, Any]:
    kind = str(link.kind) if link.kind else None
    return {"run_id": link.run_id, "kind": kind, "name": link.name, "at": iso(link.at) if link.at else None}


def _milestone_data(reached: MilestoneTime | None) -> dict[str, Any] | None:
    if reached is None:
        return None
    correction = reached.correction
    return {
        "at": iso(reached.at),
        "source": reached.source,
        "by": reached.actor,
        "seq": reached.seq,
        "corrected": None
        if correction is None
        else {"old": correction.old, "new": correction.new, "reason": correction.reason, "by": correction.by},
    }


def _last_update(incident: Incident) -> dict[str, Any] | None:
    last = incident.last_update
    if last is None:
        return None
    return {"at": iso(last.at) if last.at else None, "by": last.by, "status": last.status, "summary": last.summary,
            "shape": last.shape}  # fmt: skip


def show_text(incident: Incident, level: SeverityLevel, now: datetime | None = None) -> str:
    moment = now or datetime.now(UTC)
    lines = [
        f"{incident.id}  {incident.severity} ({level.title})  {incident.status}  {incident.title}",
        f"  type: {incident.type}"
        + (f"   systems: {', '.join(incident.systems)}" if incident.systems else "")
        + (f"   impact: {incident.impact}" if incident.impact else ""),
    ]
    if incident.declared_at:
        lines.append(f"  declared {utc(incident.declared_at)} by {incident.declared_by or '?'}")
    if incident.drill_of:
        lines.append(f"  drill of game day {incident.drill_of}")
    lines.append("roles:")
    for role in (r for r in Role if r is not Role.PARTICIPANT):
        required = " (required for " + str(incident.severity) + ")" if role in level.roles else ""
        lines.append(f"  {role:<12} {incident.roles.get(role) or '-' + required}")
    if incident.participants:
        lines.append(f"  participants {', '.join(incident.participants)}")
    lines.append("milestones:")
    lines.extend(_milestone_lines(incident))
    lines.append(_due_line(incident, level, moment))
    if incident.last_update is not None:
        last = incident.last_update
        when = utc(last.at) if last.at else "?"
        lines.append(f"last update: {when} by {last.by or '?'} ({last.status}): {last.summary}")
    if incident.links:
        lines.append("linked:")
        lines.extend(f"  {link.run_id}  {link.kind or '?'}  {link.name}" for link in incident.links)
    return "\n".join(lines)


def _milestone_lines(incident: Incident) -> list[str]:
    started = incident.at(Milestone.STARTED)
    out = []
    for name in Milestone:
        reached = incident.milestones.get(name)
        if reached is None:
            out.append(f"  {name:<13} -")
            continue
        since = (
            f"  (+{span((reached.at - started).total_seconds())})"
            if started is not None and name is not Milestone.STARTED
            else ""
        )
        line = f"  {name:<13} {utc(reached.at)}{since}  by {reached.actor or '?'} via {reached.source}"
        fix = reached.correction
        if fix is not None:
            line += f"; corrected by {fix.by or '?'} from {fix.old or 'not recorded'}: {fix.reason}"
        out.append(line)
    return out


def _due_line(incident: Incident, level: SeverityLevel, now: datetime) -> str:
    if incident.finished:
        return "next update: none due (the incident is " + str(incident.status) + ")"
    due = update_due(incident, level, now)
    if due is None:
        return f"next update: none scheduled ({incident.severity} has no update cadence)"
    at = datetime.fromisoformat(due["due_at"].replace("Z", "+00:00"))
    if due["overdue"]:
        return f"next update: OVERDUE by {span(due['overdue_s'])} (was due {utc(at)})"
    return f"next update: due {utc(at)} (in {span(due['in_s'])})"
