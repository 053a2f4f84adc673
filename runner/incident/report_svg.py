"""The incident's timeline as an inline SVG: one time axis (UTC wall clock) from the impact start to the
resolution (or to the report's moment, while it goes on), lanes for the status, the runbook steps of the
linked runs, the status updates and the notes, and dashed lines across them at each milestone.

What to draw is said here; how, by the incident timeline picture (runner.report.incident_svg).
"""

from __future__ import annotations

from datetime import UTC, datetime

from runner.incident.model import Milestone
from runner.incident.report import IncidentReport, StepSpan
from runner.incident.report_outline import plain, stamp
from runner.incident.times import span
from runner.report import incident_svg as picture
from runner.report.svg import COLOURS

MILESTONE_KINDS = {
    Milestone.STARTED: "fault",  # the impact start: drawn like a game day's injected fault
    Milestone.DETECTED: "detect",
    Milestone.ACKNOWLEDGED: "ack",
    Milestone.MITIGATED: "mitigate",
    Milestone.RESOLVED: "recover",
}
STATUS_COLOURS = {"investigating": "#ef9a9a", "identified": "#ffcc80", "monitoring": "#80deea",
                  "resolved": "#a5d6a7", "closed": "#e0e0e0"}  # fmt: skip
STEP_OUTCOMES = {"succeeded": "succeeded", "failed": "failed", "skipped": "skipped", "rolled back": "rolled-back"}


def _bounds(r: IncidentReport) -> tuple[datetime, datetime]:
    times = [at for _, at in r.milestones] + [s.at for s in r.statuses]
    times += [t for s in r.steps for t in (s.started, s.ended) if t is not None]
    start = r.clock.started or min(times, default=r.as_of)
    end = max([r.clock.end, *times])
    first = min([start, *times])
    return first, max(end, first + picture.ONE_SECOND)


def _statuses(r: IncidentReport) -> picture.StatusLane:
    return picture.StatusLane("Status", [
        picture.Status(s.at, s.status, f"{s.status} from {stamp(s.at)}", STATUS_COLOURS.get(s.status, "#bdbdbd"))
        for s in r.statuses
    ])  # fmt: skip


def _span(s: StepSpan, started: datetime) -> picture.Span:
    title = (f"{plain(s.step_id)} ({plain(s.action)}): {s.outcome}"
             + (" (changed production)" if s.change else "") + f", run {s.run_id}")  # fmt: skip
    return picture.Span(started, s.ended, plain(s.step_id), STEP_OUTCOMES.get(s.outcome, "running"), title, s.change)


def _steps(r: IncidentReport) -> picture.SpanLane:
    spans = [_span(s, s.started) for s in r.steps if s.started is not None]
    return picture.SpanLane("Runbooks", spans, "no runbook ran for this incident")


def _updates(r: IncidentReport) -> picture.MomentLane:
    found = []
    for c in r.communications:
        if c.at is None:
            continue
        failed = [o.channel for o in c.channels if o.delivery is not None and not o.delivery.ok]
        colour = COLOURS["revert-failed"] if failed else COLOURS["ack"]
        note = f"; delivery FAILED to {', '.join(failed)}" if failed else ""
        title = f"{stamp(c.at)} status update ({c.shape}, {c.status}): {plain(c.summary)}{note}"
        found.append(picture.Moment(c.at, "update", title, colour))
    return picture.MomentLane("Updates", found)


def _notes(r: IncidentReport) -> picture.MomentLane:
    return picture.MomentLane("Notes", [
        picture.Moment(n.at, "note", f"{stamp(n.at)} note ({n.kind}): {plain(n.text)}", COLOURS["note"])
        for n in r.notes if n.at is not None
    ])  # fmt: skip


def _milestones(r: IncidentReport) -> list[picture.Mark]:
    return [picture.Mark(at, MILESTONE_KINDS[name], f"{name} {at.astimezone(UTC).strftime('%H:%M:%S')}",
                         f"{name}: {stamp(at)}") for name, at in r.milestones]  # fmt: skip


def timeline_svg(r: IncidentReport) -> str:
    start, end = _bounds(r)
    until = f"to {stamp(end)}" + (" (now: ongoing)" if r.ongoing else "") + f", {span((end - start).total_seconds())}"
    return picture.timeline_svg(picture.Picture(
        title=f"Timeline of incident {r.id}: {plain(r.title)}",
        start=start,
        end=end,
        milestones=_milestones(r),
        lanes=(_statuses(r), _steps(r), _updates(r), _notes(r)),
        axis=picture.Axis(origin=None, first=f"from {stamp(start)}", last=until, unit="UTC"),
    ))  # fmt: skip
