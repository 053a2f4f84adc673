"""The machine-readable report: stable keys, seconds as numbers, nothing formatted for people."""

from __future__ import annotations

import json
from typing import Any

from runner.report.data import GameDayReport

REPORT_VERSION = 1


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def report_dict(report: GameDayReport) -> dict[str, Any]:
    return {
        "report_version": REPORT_VERSION,
        "id": report.id,
        "scenario": report.scenario,
        "title": report.title,
        "hypothesis": report.hypothesis,
        "path": report.path,
        "status": report.status,
        "incident": report.incident,  # the drill incident this game day opened (`fireline incident show ID`)
        "complete": report.complete,
        "started_at": report.started_wall,
        "finished_at": report.finished_wall,
        "duration_s": _round(report.end_mono - report.start_mono),
        # Detection and recovery are observed at probe ticks, so no time is more precise than this.
        "resolution_s": report.resolution,
        "resolution_source": "probe interval",
        "metrics": [{"name": m.name, "label": m.label, "seconds": _round(m.seconds), "objective_s": m.objective,
                     "passed": m.passed} for m in report.metrics],
        "timeline_origin": report.origin,
        "timeline": [{"t": _round(e.t), "at": e.wall, "type": e.type, "label": e.label, "actor": e.actor,
                      "finding": e.finding} for e in report.timeline],
        "faults": [{"id": f.id, "action": f.action, "injected": f.injected_t is not None,
                    "injected_t": _round(f.injected_t), "reverted": f.reverted_t is not None,
                    "reverted_t": _round(f.reverted_t), "ok": f.revert_ok, "why": f.why, "summary": f.summary}
                   for f in report.faults],
        "response_run_ids": [r.run_id for r in report.responses],
        "responses": [{"run_id": r.run_id, "runbook": r.runbook, "mode": r.mode, "status": r.status,
                       "steps": [{"id": s.id, "status": s.status, "start_t": _round(report.at(s.start_mono)),
                                  "end_t": _round(report.at(s.end_mono)),
                                  "approvals": [a.to_data() for a in s.approvals]} for s in r.steps]}
                      for r in report.responses],
        "notes": [{"t": _round(n.t), "at": n.wall, "actor": n.actor, "text": n.text} for n in report.notes],
        "warnings": list(report.warnings),
    }


def render_json(report: GameDayReport) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False) + "\n"
