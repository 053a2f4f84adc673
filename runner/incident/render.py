"""What `incident list` and `incident show` print: one summary row per incident, and one incident in full
(as text and as JSON). Dates are full and in UTC; a duration is never shown growing past the resolution.

Both say when the next status update is due, or how long it is overdue (the cadence): from what the last
update promised, else from the declaration plus the severity's cadence. Nothing is due for a resolved or
closed incident, nor for a severity without a cadence when no update promised one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from runner.incident.checklist import Checklist
from runner.incident.model import Milestone, Role
from runner.incident.store import iso
from runner.incident.times import span, utc
from runner.incident.view import Incident, Link, MilestoneTime
from runner.policy import SeverityLevel

if TYPE_CHECKING:
    from runner.incident.gate import Attempt


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


def cadence_line(incident: Incident, level: SeverityLevel, now: datetime) -> str | None:
    """`next update due in 12m, by 2026-12-04 10:30 UTC` or `update overdue by 7m (was due by …)`; None when
    no update is due."""
    due = incident.next_update_due(level.update_cadence_s)
    if due is None:
        return None
    late = (now - due).total_seconds()
    if late > 0:
        return f"update overdue by {_approx(late)} (was due by {_minute(due)})"
    return f"next update due in {_approx(-late)}, by {_minute(due)}"


def impact_duration(incident: Incident, now: datetime) -> tuple[float, bool] | None:
    """Seconds from `started` to `resolved` — or to `now` while the incident is open (reopened included) — and
    whether it is still growing. None when an end is not known (resolved or closed without the milestone)."""
    started = incident.at(Milestone.STARTED)
    if started is None:
        return None
    if incident.finished:
        resolved = incident.at(Milestone.RESOLVED)
        return None if resolved is None else (max(0.0, (resolved - started).total_seconds()), False)
    return max(0.0, (now - started).total_seconds()), True


def list_row(incident: Incident, level: SeverityLevel | None, now: datetime | None = None) -> dict[str, Any]:
    """`incident list`'s row: the summary, how long the impact has lasted, and the next update due."""
    moment = now or datetime.now(UTC)
    lasted = impact_duration(incident, moment)
    return {
        **summary_row(incident),
        "duration_s": _seconds(lasted),
        "ongoing": lasted[1] if lasted else False,
        "next_update": update_due(incident, level, moment) if level is not None else None,
        "cadence": cadence_line(incident, level, moment) if level is not None else None,
    }


def list_line(row: dict[str, Any]) -> str:
    declared = row["declared_at"][:19].replace("T", " ") if row["declared_at"] else "?"
    lasted = "-" if row["duration_s"] is None else span(row["duration_s"]) + ("+" if row["ongoing"] else "")
    line = f"{row['id']}  {row['severity']}  {row['status']:<13} {declared} UTC  {lasted:>7}  {row['title']}"
    return line + (f"  [{row['cadence']}]" if row["cadence"] else "")


def _approx(seconds: float) -> str:
    """A duration to the minute (to the second under one): how long until an update is due, or since."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 1440:
        return f"{minutes // 60}h{minutes % 60:02d}m"
    return f"{minutes // 1440}d{minutes % 1440 // 60:02d}h"


def _minute(moment: datetime) -> str:
    """To the minute, rounded down: "by 10:30" is never later than the moment it stands for."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def missing_roles(incident: Incident, level: SeverityLevel) -> list[str]:
    return [role for role in level.roles if Role(role) not in incident.roles]


def show_data(
    incident: Incident,
    level: SeverityLevel,
    now: datetime | None = None,
    gate: Checklist | None = None,
    attempt: Attempt | None = None,
) -> dict[str, Any]:
    moment = now or datetime.now(UTC)
    lasted = impact_duration(incident, moment)
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
        "cadence": cadence_line(incident, level, moment),
        "duration_s": _seconds(lasted),
        "ongoing": lasted[1] if lasted else False,
        "last_update": _last_update(incident),
        "updates": incident.updates,
        "notes": incident.notes,
        "links": [_link_data(link) for link in incident.links],
        "assessment": incident.assessment,
        "drill_of": incident.drill_of,
        "resolution_gate": _gate_data(gate) if gate is not None and not incident.finished else None,
        "last_verification": _attempt_data(attempt) if attempt is not None else None,
    }


def _gate_data(gate: Checklist) -> dict[str, Any]:
    checks = [{"name": c.name, "kind": str(c.kind), "systems": list(c.systems)} for c in gate.checks]
    return {"severity": gate.severity, "hold_s": gate.hold_s, "interval_s": gate.interval_s, "checks": checks}


def _attempt_data(attempt: Attempt) -> dict[str, Any]:
    v = attempt.verification
    return {"at": iso(attempt.at) if attempt.at else None, "by": attempt.by, "passed": v.passed, "forced": v.forced,
            "reason": v.reason, "checks": [dict(c) for c in v.checks]}  # fmt: skip


def gate_line(gate: Checklist) -> str:
    """What resolving takes: `to resolve: 1 probe check held 15m (checkout answers); confirm: support ok`."""
    probes = [c.name for c in gate.probes]
    manuals = [c.name for c in gate.manuals]
    parts = []
    if probes:
        noun = "probe check" if len(probes) == 1 else "probe checks"
        parts.append(f"{len(probes)} {noun} held {span(gate.hold_s)} ({', '.join(probes)})")
    if manuals:
        parts.append("confirm: " + ", ".join(manuals))
    return "to resolve: " + (
        "; ".join(parts) if parts else f"nothing to check (the {gate.severity} checklist is empty)"
    )


def attempt_line(attempt: Attempt) -> str:
    v = attempt.verification
    outcome = "forced (--force)" if v.forced else "passed" if v.passed else "refused"
    when = f" {utc(attempt.at)}" if attempt.at else ""
    return f"last resolution attempt: {outcome}{when} by {attempt.by or '?'}" + (f": {v.reason}" if v.reason else "")


def _seconds(lasted: tuple[float, bool] | None) -> float | None:
    return round(lasted[0], 3) if lasted else None


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


def show_text(
    incident: Incident,
    level: SeverityLevel,
    now: datetime | None = None,
    gate: Checklist | None = None,
    attempt: Attempt | None = None,
) -> str:
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
    lasted = impact_duration(incident, moment)
    if lasted is not None:
        lines.append(f"impact: {span(lasted[0])} so far (still open)" if lasted[1]
                     else f"impact: lasted {span(lasted[0])} (started → resolved)")  # fmt: skip
    cadence = cadence_line(incident, level, moment)
    if cadence is not None:
        lines.append(cadence)
    if gate is not None and not incident.finished:
        lines.append(gate_line(gate))
    if attempt is not None:
        lines.append(attempt_line(attempt))
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
