"""The picture of an incident's timeline as an inline SVG, drawn from a small description (`Picture`) so that
the incident report and the post-mortem draw it one way: milestones as dashed lines across every lane with
their labels above the lanes, lanes of moments, of statuses and of runbook steps, and a time axis in UTC
times of day or in offsets from T+0.

Drawn with the game-day report's parts (runner.report.svg): its sizes, colours and escaping; every drawn
thing has `class="marker <kind>"` and a <title> (a tooltip, and text for tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from runner.report import fmt
from runner.report.svg import (
    CHAR_W,
    COLOURS,
    FONT,
    LABEL_ROW,
    LANE,
    LEFT,
    PLOT,
    STEP_COLOURS,
    STEP_ROW,
    WIDTH,
    Canvas,
    PlacedLabel,
    Scale,
    css_token,
    diamond,
    esc,
    lane_frame,
    offset_ticks,
    place_labels,
    tick_step,
)

GAP = 4  # between lanes
ONE_SECOND = timedelta(seconds=1)  # the shortest picture


class Shape(Enum):
    DIAMOND = "diamond"
    DOT = "dot"


@dataclass(frozen=True)
class Mark:
    """A milestone: a dashed line across all lanes, labelled above them."""

    at: datetime
    kind: str  # fault | detect | ack | mitigate | recover: its colour in COLOURS, and its class
    label: str
    title: str


@dataclass(frozen=True)
class Moment:
    """One thing that happened at one time: a status update, a note, an alert."""

    at: datetime
    kind: str  # its class
    title: str
    colour: str


@dataclass(frozen=True)
class MomentLane:
    name: str
    moments: Sequence[Moment]
    shape: Shape = Shape.DIAMOND


@dataclass(frozen=True)
class Status:
    """The incident's status from `at` until the next one (the last until the end of the picture)."""

    at: datetime
    state: str
    title: str
    colour: str


@dataclass(frozen=True)
class StatusLane:
    name: str
    statuses: Sequence[Status]


@dataclass(frozen=True)
class Span:
    """A runbook step: a bar from its start to its end."""

    started: datetime
    ended: datetime | None  # None: still running at the end of the picture
    label: str
    outcome: str  # a key of STEP_COLOURS, else drawn as running
    title: str
    change: bool  # it changed production: drawn with an outline


@dataclass(frozen=True)
class SpanLane:
    name: str
    spans: Sequence[Span]
    empty: str  # said in the lane when there is no span


Lane = MomentLane | StatusLane | SpanLane


@dataclass(frozen=True)
class Axis:
    origin: datetime | None  # T+0: ticks are offsets from it; None: ticks are UTC times of day
    first: str  # the caption under the axis's left end
    last: str  # under its right end
    unit: str = ""  # left of the tick labels
    grid: bool = False  # light lines across the lanes at the ticks


@dataclass(frozen=True)
class Picture:
    title: str
    start: datetime
    end: datetime
    milestones: Sequence[Mark]
    lanes: Sequence[Lane]
    axis: Axis
    milestone_points: bool = False  # a diamond for each milestone just above the lanes


@dataclass(frozen=True)
class _Bar:
    row: int
    x0: float
    x1: float
    span: Span


def _x(scale: Scale, moment: datetime) -> float:
    return scale.x(moment.timestamp())


def _pack(spans: Sequence[Span], scale: Scale) -> list[_Bar]:
    """Each span in the first row where it (and its label) does not overlap one drawn before."""
    rows: list[float] = []
    packed = []
    for s in sorted(spans, key=lambda s: s.started):
        x0 = _x(scale, s.started)
        x1 = max(_x(scale, s.ended) if s.ended else scale.x(scale.end), x0 + 3)
        right = max(x1, x0 + CHAR_W * len(s.label) + 8) + 6
        row = next((i for i, edge in enumerate(rows) if edge <= x0), len(rows))
        if row == len(rows):
            rows.append(right)
        else:
            rows[row] = right
        packed.append(_Bar(row, x0, x1, s))
    return packed


def _height(lane: Lane, scale: Scale) -> float:
    if isinstance(lane, SpanLane):
        rows = max((bar.row for bar in _pack(lane.spans, scale)), default=0) + 1
        return 10 + rows * STEP_ROW - 6
    return LANE


def _moments(c: Canvas, lane: MomentLane, scale: Scale, top: float) -> None:
    lane_frame(c, lane.name, top, LANE)
    mid = top + LANE / 2
    for m in lane.moments:
        x = _x(scale, m.at)
        if lane.shape is Shape.DIAMOND:
            diamond(c, css_token(m.kind), x, mid, m.title, m.colour)
        else:
            c.add(f'<circle class="marker {css_token(m.kind)}" cx="{x:.1f}" cy="{mid:.1f}" r="5" fill="{m.colour}" '
                  f'stroke="#ffffff" stroke-width="1"><title>{esc(m.title)}</title></circle>')  # fmt: skip


def _statuses(c: Canvas, lane: StatusLane, scale: Scale, top: float) -> None:
    lane_frame(c, lane.name, top, LANE)
    changes = sorted(lane.statuses, key=lambda s: s.at)
    for index, change in enumerate(changes):
        x0 = _x(scale, change.at)
        x1 = _x(scale, changes[index + 1].at) if index + 1 < len(changes) else scale.x(scale.end)
        c.add(f'<rect class="marker status status-{css_token(change.state)}" x="{x0:.1f}" y="{top + 6:.1f}" '
              f'width="{max(x1 - x0, 1):.1f}" height="{LANE - 12}" fill="{change.colour}"><title>'
              f"{esc(change.title)}</title></rect>")  # fmt: skip
        if x1 - x0 > CHAR_W * len(change.state) + 8:
            c.text(x0 + 4, top + LANE / 2 + 4, change.state, size=11)


def _spans(c: Canvas, lane: SpanLane, scale: Scale, top: float, height: float) -> None:
    lane_frame(c, lane.name, top, height)
    packed = _pack(lane.spans, scale)
    if not packed:
        c.text(LEFT + 8, top + height / 2 + 4, lane.empty, size=11, fill="#757575")
    for bar in packed:
        s, x0, x1 = bar.span, bar.x0, bar.x1
        outcome = s.outcome if s.outcome in STEP_COLOURS else "running"
        y = top + 5 + bar.row * STEP_ROW
        change = " change" if s.change else ""
        stroke = ' stroke="#212121" stroke-width="1.5"' if s.change else ""
        c.add(f'<g class="marker step{change} status-{css_token(outcome)}"><title>{esc(s.title)}</title>'
              f'<rect x="{x0:.1f}" y="{y:.1f}" width="{x1 - x0:.1f}" height="{STEP_ROW - 6}" rx="3" '
              f'fill="{STEP_COLOURS.get(outcome, "#1565c0")}"{stroke}/>')  # fmt: skip
        if x1 + CHAR_W * len(s.label) + 8 <= WIDTH - 4:
            c.text(x1 + 4, y + 13, s.label, size=11)
        else:
            c.text(x0 - 4, y + 13, s.label, size=11, anchor="end")
        c.add("</g>")


def _milestones(c: Canvas, p: Picture, labels: Sequence[PlacedLabel], scale: Scale, top: float,
                bottom: float) -> None:  # fmt: skip
    for m, lab in zip(p.milestones, labels, strict=True):
        x, colour = _x(scale, m.at), COLOURS[m.kind]
        label_y = 16 + lab.row * LABEL_ROW
        c.add(f'<g class="marker milestone {m.kind}"><title>{esc(m.title)}</title>'
              f'<line x1="{x:.1f}" y1="{label_y + 4:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" stroke="{colour}" '
              f'stroke-width="1.5" stroke-dasharray="4 3"/>')  # fmt: skip
        c.text(lab.x, label_y, m.label, anchor=lab.anchor, size=12, fill=colour, weight="600")
        if p.milestone_points:
            diamond(c, f"{m.kind}-point", x, top - 2, m.title, colour)
        c.add("</g>")


def _ticks(axis: Axis, scale: Scale) -> list[tuple[float, str]]:
    """About eight round moments across the axis, each with its label: an offset from T+0, or a time of day."""
    if axis.origin is not None:
        t0 = axis.origin.timestamp()
        return [(t0 + t, fmt.offset(t)) for t in offset_ticks(t0, scale)]
    step = tick_step(scale)
    ticks = []
    tick = (scale.start // step + 1) * step
    while tick <= scale.end:
        ticks.append((tick, _clock(datetime.fromtimestamp(tick, UTC), step)))
        tick += step
    return ticks


def _clock(moment: datetime, step: float) -> str:
    """A tick's time of day, as precise as the ticks are apart."""
    if step >= 60:
        return moment.strftime("%H:%M")
    if step >= 1:
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _axis(c: Canvas, axis: Axis, ticks: Sequence[tuple[float, str]], scale: Scale, y: float) -> None:
    c.add(f'<line class="axis" x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + PLOT}" y2="{y:.1f}" stroke="{COLOURS["axis"]}" '
          'stroke-width="1.5"/>')  # fmt: skip
    for at, label in ticks:
        x = scale.x(at)
        c.add(f'<line class="tick" x1="{x:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{y + 6:.1f}" '
              f'stroke="{COLOURS["axis"]}"/>')  # fmt: skip
        c.text(x, y + 20, label, anchor="middle", size=11, cls="tick-label")
    c.text(LEFT, y + 40, axis.first, size=11, fill="#616161")
    c.text(LEFT + PLOT, y + 40, axis.last, anchor="end", size=11, fill="#616161")
    if axis.unit:
        c.text(LEFT - 10, y + 20, axis.unit, anchor="end", size=11, fill="#616161")


def timeline_svg(p: Picture) -> str:
    """The picture, lanes stacked from the top below the milestone labels; at least a second wide."""
    scale = Scale(p.start.timestamp(), max(p.end, p.start + ONE_SECOND).timestamp())
    labels = place_labels([(_x(scale, m.at), m.label) for m in p.milestones])
    top = 16 + (max((lab.row for lab in labels), default=-1) + 1) * LABEL_ROW + 6.0
    heights = [_height(lane, scale) for lane in p.lanes]
    tops: list[float] = []
    bottom = top - GAP
    for lane_height in heights:
        tops.append(bottom + GAP)
        bottom = tops[-1] + lane_height
    height = bottom + 60
    ticks = _ticks(p.axis, scale)
    c = Canvas()
    c.add(f'<svg id="timeline" viewBox="0 0 {WIDTH} {height:.0f}" width="100%" role="img" '
          f'aria-labelledby="timeline-title" {FONT}>')  # fmt: skip
    c.add(f'<title id="timeline-title">{esc(p.title)}</title>')
    c.add(f'<rect x="0" y="0" width="{WIDTH}" height="{height:.0f}" fill="#ffffff"/>')
    if p.axis.grid:  # first, so everything else draws over it
        for at, _ in ticks:
            x = scale.x(at)
            c.add(f'<line class="grid" x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" '
                  f'stroke="{COLOURS["grid"]}"/>')  # fmt: skip
    for lane, lane_top, lane_height in zip(p.lanes, tops, heights, strict=True):
        if isinstance(lane, MomentLane):
            _moments(c, lane, scale, lane_top)
        elif isinstance(lane, StatusLane):
            _statuses(c, lane, scale, lane_top)
        else:
            _spans(c, lane, scale, lane_top, lane_height)
    _milestones(c, p, labels, scale, top, bottom)
    _axis(c, p.axis, ticks, scale, bottom + 8)
    c.add("</svg>")
    return "\n".join(c.parts)
