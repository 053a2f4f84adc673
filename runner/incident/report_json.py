"""The incident report as JSON for machines: the same facts as the other formats, values as recorded (not
shortened or cleaned: JSON escapes what needs escaping), times in UTC ISO 8601 with `Z`, durations in
seconds. Keys are stable; `schema` names the shape, and a change that removes or renames a key changes it.
`fireline incident report --help` lists the top-level keys."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from runner.incident import metrics as m
from runner.incident.action_items import ActionItem
from runner.incident.delivery import DeliveryRecord
from runner.incident.report import WINDOW, Communication, IncidentReport, Note, StepSpan, today
from runner.incident.store import iso

SCHEMA = "fireline/incident-report/v1"
KEYS = (
    "schema", "id", "title", "type", "status", "ongoing", "generated_at", "drill_of", "severity", "started_at",
    "resolved_at", "duration_s", "roles", "participants", "summary", "timeline", "investigation", "impact",
    "communications", "remediation", "postmortem", "action_items", "noted_actions", "metrics",
)  # fmt: skip


def render_json(r: IncidentReport) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "id": r.id,
        "title": r.title,
        "type": str(r.type),
        "status": str(r.status),
        "ongoing": r.ongoing,
        "generated_at": iso(r.as_of),
        "drill_of": r.drill_of,
        "severity": _severity(r),
        "started_at": _time(r.clock.started),
        "resolved_at": None if r.ongoing else _time(r.clock.resolved),
        "duration_s": r.clock.duration_s,  # up to generated_at while ongoing
        "roles": dict(r.roles),
        "participants": list(r.participants),
        "summary": {
            "title": r.summary.title,
            "impact": r.summary.impact,
            "systems": list(r.summary.systems),
            "root_cause": r.summary.root_cause,
            "resolution": r.summary.resolution,
        },
        "timeline": [{"at": iso(t.at), "source": t.source, "text": t.text, "detail": t.detail} for t in r.timeline],
        "investigation": {
            "primary_cause": r.investigation.primary_cause,
            "contributing_factors": list(r.investigation.contributing_factors),
            "five_whys": [{"why": w.why, "because": w.because} for w in r.investigation.five_whys],
            "root_cause_notes": [_note(n) for n in r.investigation.root_cause_notes],
        },
        "impact": _impact(r),
        "communications": [_communication(c) for c in r.communications],
        "remediation": {
            "immediate": [_step(s) for s in r.remediation.immediate],
            "short_term": [_item(i, r) for i in r.remediation.short_term],
            "long_term": [_item(i, r) for i in r.remediation.long_term],
        },
        "postmortem": _postmortem(r),
        "action_items": [_item(i, r) for i in r.action_items],
        "noted_actions": [_note(n) for n in r.noted_actions],
        "metrics": _metrics(r),
    }
    return doc


def _time(moment: datetime | None) -> str | None:
    return iso(moment) if moment is not None else None


def _severity(r: IncidentReport) -> dict[str, Any]:
    s = r.severity
    return {
        "level": str(s.level),
        "title": s.title,
        "definition": s.definition,
        "response_target": s.response_target,
        "update_cadence": s.update_cadence,
        "assessed": s.assessed,
        "why": list(s.why),
        "criteria": dict(s.criteria),
        "changes": [
            {"at": _time(c.at), "old": str(c.old), "new": str(c.new), "reason": c.reason, "by": c.by} for c in s.changes
        ],
    }


def _note(n: Note) -> dict[str, Any]:
    return {"at": _time(n.at), "by": n.by, "kind": n.kind, "text": n.text}


def _impact(r: IncidentReport) -> dict[str, Any]:
    imp = r.impact
    return {
        "user_impact": imp.user_impact,
        "systems": list(imp.systems),
        "duration_s": imp.duration_s,
        "ongoing": imp.ongoing,
        "criteria": dict(imp.criteria),
        "users_affected": imp.users_affected,
        "revenue": imp.revenue,
        "tickets": imp.tickets,
        "reported": [{"at": _time(at), "impact": text} for at, text in imp.reported],
    }


def _communication(c: Communication) -> dict[str, Any]:
    return {
        "at": _time(c.at),
        "by": c.by,
        "shape": c.shape,
        "status": c.status,
        "summary": c.summary,
        "channels": [_delivery(o.channel, o.delivery) for o in c.channels],
    }


def _delivery(channel: str, d: DeliveryRecord | None) -> dict[str, Any]:
    if d is None:
        return {"channel": channel, "delivered": None, "recorded_only": True, "kind": None, "attempts": 0,
                "tries": 0, "detail": "", "at": None}  # fmt: skip
    return {"channel": channel, "delivered": d.ok, "recorded_only": False, "kind": d.kind, "attempts": d.attempts,
            "tries": len(d.history), "detail": d.detail, "at": _time(d.at)}  # fmt: skip


def _step(s: StepSpan) -> dict[str, Any]:
    return {
        "run_id": s.run_id,
        "runbook": s.runbook,
        "step_id": s.step_id,
        "action": s.action,
        "started_at": _time(s.started),
        "ended_at": _time(s.ended),
        "outcome": s.outcome,
        "summary": s.summary,
        "approved_by": list(s.approved_by),
    }


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _item(i: ActionItem, r: IncidentReport) -> dict[str, Any]:
    return {
        "id": i.id,
        "title": i.title,
        "owner": i.owner,
        "due": _day(i.due),
        "priority": str(i.priority),
        "type": str(i.type),
        "status": str(i.status),
        "overdue": i.overdue(today(r)),
    }


def _postmortem(r: IncidentReport) -> dict[str, Any] | None:
    pm = r.postmortem
    if pm is None:
        return None
    return {
        "path": pm.path,
        "status": pm.status,
        "problem": pm.problem or None,
        "went_well": list(pm.went_well),
        "could_be_improved": list(pm.went_wrong),
        "lessons": list(pm.lessons),
        "renderings": [{"format": x.format, "path": x.path, "at": _time(x.at)} for x in r.renderings],
    }


def _metrics(r: IncidentReport) -> dict[str, Any]:
    met, window = r.metrics, r.metrics.window
    return {
        "incident": {str(v.which): {"seconds": v.seconds, "so_far_s": v.so_far} for v in met.intervals},
        "window": {
            "since": iso(window.since),
            "until": iso(window.until),
            "days": WINDOW.days,
            "drills_excluded": True,
            "systems": list(window.systems),
            **m.summary_json(window.summary),
        },
        "definitions": dict(m.DEFINITIONS),
    }
