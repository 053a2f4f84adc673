"""The incident's timeline as an inline SVG: one time axis (UTC wall clock) from the impact start to the
resolution (or to the report's moment, while it goes on), lanes for the status, the runbook steps of the
linked runs, the status updates and the notes, and dashed lines across them at each milestone.

Drawn with the game-day report's conventions (runner.report.svg): its sizes, colours and escaping; every
drawn thing has `class="marker <kind>"` and a <title> (a tooltip, and text for tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from runner.incident.model import Milestone
from runner.incident.report import IncidentReport, StepSpan
from runner.incident.report_outline import plain, stamp
from runner.incident.times import span
from runner.report.svg import (
    CHAR_W,
    COLOURS,
    FONT,
    LABEL_ROW,
    LANE,
    LEFT,
    NICE_STEPS,
    PLOT,
    STEP_COLOURS,
    STEP_ROW,
    WIDTH,
    Scale,
    css_token,
    esc,
)

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


def _t(moment: datetime) -> float:
    return moment.timestamp()


def _bounds(r: IncidentReport) -> tuple[float, float]:
    times = [at for _, at in r.milestones] + [s.at for s in r.statuses]
    times += [t for s in r.steps for t in (s.started, s.ended) if t is not None]
    start = r.clock.started or min(times, default=r.as_of)
    end = r.as_of if r.ongoing or r.clock.resolved is None else r.clock.resolved
    end = max([end, *times])
    first = min([start, *times])
    return _t(first), max(_t(end), _t(first) + 1.0)


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 12, fill: str = "#212121",
          weight: str = "normal", cls: str = "") -> str:  # fmt: skip
    klass = f' class="{cls}"' if cls else ""
    return (f'<text{klass} x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
            f'font-weight="{weight}" fill="{fill}">{esc(text)}</text>')  # fmt: skip


def _lane(name: str, top: float, height: float) -> list[str]:
    return [
        f'<rect class="lane" x="{LEFT}" y="{top:.1f}" width="{PLOT}" height="{height:.1f}" fill="#fafafa" '
        f'stroke="{COLOURS["grid"]}"/>',
        _text(LEFT - 10, top + height / 2 + 4, name, anchor="end", weight="600"),
    ]


def _status_lane(r: IncidentReport, scale: Scale, top: float, end: float) -> list[str]:
    parts = _lane("Status", top, LANE)
    changes = sorted(r.statuses, key=lambda s: s.at)
    for index, change in enumerate(changes):
        x0 = scale.x(_t(change.at))
        x1 = scale.x(_t(changes[index + 1].at)) if index + 1 < len(changes) else scale.x(end)
        colour = STATUS_COLOURS.get(change.status, "#bdbdbd")
        parts.append(f'<rect class="marker status status-{css_token(change.status)}" x="{x0:.1f}" y="{top + 6:.1f}" '
                     f'width="{max(x1 - x0, 1):.1f}" height="{LANE - 12}" fill="{colour}"><title>'
                     f"{esc(change.status)} from {esc(stamp(change.at))}</title></rect>")  # fmt: skip
        if x1 - x0 > CHAR_W * len(change.status) + 8:
            parts.append(_text(x0 + 4, top + LANE / 2 + 4, change.status, size=11))
    return parts


def _pack(steps: Sequence[StepSpan], scale: Scale, end: float) -> list[tuple[int, float, float, StepSpan]]:
    """Each step in the first row where it (and its label) does not overlap one drawn before."""
    rows: list[float] = []
    packed = []
    timed = [(s.started, s) for s in steps if s.started is not None]
    for started, s in sorted(timed, key=lambda pair: pair[0]):
        x0 = scale.x(_t(started))
        x1 = max(scale.x(_t(s.ended) if s.ended else end), x0 + 3)
        right = max(x1, x0 + CHAR_W * len(plain(s.step_id)) + 8) + 6
        row = next((i for i, edge in enumerate(rows) if edge <= x0), len(rows))
        if row == len(rows):
            rows.append(right)
        else:
            rows[row] = right
        packed.append((row, x0, x1, s))
    return packed


def _steps_lane(packed: Sequence[tuple[int, float, float, StepSpan]], top: float, height: float) -> list[str]:
    parts = _lane("Runbooks", top, height)
    if not packed:
        parts.append(_text(LEFT + 8, top + height / 2 + 4, "no runbook ran for this incident", size=11,
                           fill="#757575"))  # fmt: skip
    for row, x0, x1, s in packed:
        outcome = STEP_OUTCOMES.get(s.outcome, "running")
        colour = STEP_COLOURS.get(outcome, "#1565c0")
        y = top + 5 + row * STEP_ROW
        change = " change" if s.change else ""
        tip = (f"{plain(s.step_id)} ({plain(s.action)}): {s.outcome}"
               + (" (changed production)" if s.change else "") + f", run {s.run_id}")  # fmt: skip
        stroke = ' stroke="#212121" stroke-width="1.5"' if s.change else ""
        parts.append(f'<g class="marker step{change} status-{css_token(outcome)}"><title>{esc(tip)}</title>'
                     f'<rect x="{x0:.1f}" y="{y:.1f}" width="{x1 - x0:.1f}" height="{STEP_ROW - 6}" rx="3" '
                     f'fill="{colour}"{stroke}/>')  # fmt: skip
        label = plain(s.step_id)
        if x1 + CHAR_W * len(label) + 8 <= WIDTH - 4:
            parts.append(_text(x1 + 4, y + 13, label, size=11))
        else:
            parts.append(_text(x0 - 4, y + 13, label, size=11, anchor="end"))
        parts.append("</g>")
    return parts


def _points_lane(name: str, kind: str, points: Sequence[tuple[datetime, str, str]], scale: Scale,
                 top: float) -> list[str]:  # fmt: skip
    parts = _lane(name, top, LANE)
    mid = top + LANE / 2
    for at, title, colour in points:
        x = scale.x(_t(at))
        parts.append(f'<path class="marker {kind}" d="M{x:.1f},{mid - 7:.1f} L{x + 7:.1f},{mid:.1f} '
                     f'L{x:.1f},{mid + 7:.1f} L{x - 7:.1f},{mid:.1f} Z" fill="{colour}" stroke="#ffffff" '
                     f'stroke-width="1.5"><title>{esc(title)}</title></path>')  # fmt: skip
    return parts


def _updates(r: IncidentReport) -> list[tuple[datetime, str, str]]:
    found = []
    for c in r.communications:
        if c.at is None:
            continue
        failed = [o.channel for o in c.channels if o.delivery is not None and not o.delivery.ok]
        colour = COLOURS["revert-failed"] if failed else COLOURS["ack"]
        note = f"; delivery FAILED to {', '.join(failed)}" if failed else ""
        found.append((c.at, f"{stamp(c.at)} status update ({c.shape}, {c.status}): {plain(c.summary)}{note}", colour))
    return found


def _notes(r: IncidentReport) -> list[tuple[datetime, str, str]]:
    return [(n.at, f"{stamp(n.at)} note ({n.kind}): {plain(n.text)}", COLOURS["note"]) for n in r.notes
            if n.at is not None]  # fmt: skip


@dataclass(frozen=True)
class _Placed:
    name: Milestone
    at: datetime
    x: float
    anchor: str  # start | end: the label after the line, or before it near the right edge
    row: int  # label rows from the top, so that no two labels overlap
    label: str


def _place(r: IncidentReport, scale: Scale) -> list[_Placed]:
    placed = []
    rows: list[float] = []  # each row's right edge
    for name, at in r.milestones:
        x = scale.x(_t(at))
        label = f"{name} {at.astimezone(UTC).strftime('%H:%M:%S')}"
        width = CHAR_W * len(label)
        anchor = "start" if x + 4 + width <= WIDTH - 4 else "end"
        lo, hi = (x, x + 4 + width) if anchor == "start" else (x - 4 - width, x)
        row = next((i for i, edge in enumerate(rows) if edge + 6 <= lo), len(rows))
        if row == len(rows):
            rows.append(hi)
        else:
            rows[row] = hi
        placed.append(_Placed(name, at, x, anchor, row, label))
    return placed


def _milestones(placed: Sequence[_Placed], bottom: float) -> list[str]:
    parts = []
    for p in placed:
        kind = MILESTONE_KINDS[p.name]
        colour = COLOURS[kind]
        y = 16 + p.row * LABEL_ROW
        label = _text(p.x + 4 if p.anchor == "start" else p.x - 4, y, p.label, anchor=p.anchor, fill=colour,
                      weight="600")  # fmt: skip
        parts.append(f'<g class="marker milestone {kind}"><title>{esc(p.name)}: {esc(stamp(p.at))}</title>'
                     f'<line x1="{p.x:.1f}" y1="{y + 4:.1f}" x2="{p.x:.1f}" y2="{bottom:.1f}" stroke="{colour}" '
                     f'stroke-width="1.5" stroke-dasharray="4 3"/>{label}</g>')  # fmt: skip
    return parts


def _axis(scale: Scale, y: float, r: IncidentReport) -> list[str]:
    parts = [f'<line class="axis" x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + PLOT}" y2="{y:.1f}" '
             f'stroke="{COLOURS["axis"]}" stroke-width="1.5"/>']  # fmt: skip
    length = scale.end - scale.start
    step = next((s for s in NICE_STEPS if length / s <= 8), NICE_STEPS[-1])
    tick = (scale.start // step + 1) * step
    while tick <= scale.end:
        x = scale.x(tick)
        moment = datetime.fromtimestamp(tick, UTC)
        parts.append(f'<line class="tick" x1="{x:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{y + 6:.1f}" '
                     f'stroke="{COLOURS["axis"]}"/>')  # fmt: skip
        parts.append(_text(x, y + 20, _clock(moment, step), anchor="middle",
                           size=11, cls="tick-label"))  # fmt: skip
        tick += step
    start, end = datetime.fromtimestamp(scale.start, UTC), datetime.fromtimestamp(scale.end, UTC)
    parts.append(_text(LEFT, y + 40, f"from {stamp(start)}", size=11, fill="#616161"))
    until = f"to {stamp(end)}" + (" (now: ongoing)" if r.ongoing else "") + f", {span(scale.end - scale.start)}"
    parts.append(_text(LEFT + PLOT, y + 40, until, anchor="end", size=11, fill="#616161"))
    parts.append(_text(LEFT - 10, y + 20, "UTC", anchor="end", size=11, fill="#616161"))
    return parts


def _clock(moment: datetime, step: float) -> str:
    """A tick's time of day, as precise as the ticks are apart."""
    if step >= 60:
        return moment.strftime("%H:%M")
    if step >= 1:
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def timeline_svg(r: IncidentReport) -> str:
    start, end = _bounds(r)
    scale = Scale(start, end)
    placed = _place(r, scale)
    label_rows = max((p.row for p in placed), default=-1) + 1
    packed = _pack(r.steps, scale, end)
    step_rows = max((row for row, *_ in packed), default=0) + 1
    top = 16 + label_rows * LABEL_ROW + 6
    status, steps = top, top + LANE + 4
    steps_h = 10 + step_rows * STEP_ROW - 6
    updates = steps + steps_h + 4
    notes = updates + LANE + 4
    bottom = notes + LANE
    height = bottom + 60
    parts = [f'<svg id="timeline" viewBox="0 0 {WIDTH} {height:.0f}" width="100%" role="img" '
             f'aria-labelledby="timeline-title" {FONT}>',
             f'<title id="timeline-title">Timeline of incident {esc(r.id)}: {esc(plain(r.title))}</title>',
             f'<rect x="0" y="0" width="{WIDTH}" height="{height:.0f}" fill="#ffffff"/>']  # fmt: skip
    parts += _status_lane(r, scale, status, end)
    parts += _steps_lane(packed, steps, steps_h)
    parts += _points_lane("Updates", "update", _updates(r), scale, updates)
    parts += _points_lane("Notes", "note", _notes(r), scale, notes)
    parts += _milestones(placed, bottom)
    parts += _axis(scale, bottom + 8, r)
    parts.append("</svg>")
    return "\n".join(parts)
