"""The inline SVG timeline of a game day: one horizontal time axis from its start to its finish, lanes for
the steady state, the faults, detection, the response runbook's steps and notes, and milestone lines
(injected, detected, acknowledged, mitigated, recovered, reverted) across all lanes.

Colours are presentation attributes rather than CSS so the drawing survives being copied out of the page,
and every drawn thing carries a `class="marker <kind>"` and a <title> (a tooltip, and text for tests).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from runner.gameday import events as gev
from runner.report import fmt
from runner.report.data import GameDayReport

WIDTH = 1100
LEFT = 150  # lane names
RIGHT = 40
PLOT = WIDTH - LEFT - RIGHT
LANE = 30
STEP_ROW = 24
LABEL_ROW = 16
CHAR_W = 6.4  # average glyph width of 11-12px sans-serif; only used to keep labels from overlapping
FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif\""

COLOURS = {"fault": "#e65100", "detect": "#6a1b9a", "ack": "#1565c0", "mitigate": "#00838f",
           "recover": "#2e7d32", "revert": "#5d4037", "revert-failed": "#c62828", "violated": "#d32f2f",
           "ok": "#c8e6c9", "probe": "#d32f2f", "finding": "#6a1b9a", "alert": "#ad1457", "note": "#455a64",
           "axis": "#424242", "grid": "#e0e0e0"}
STEP_COLOURS = {"succeeded": "#2e7d32", "ok": "#2e7d32", "failed": "#c62828", "skipped": "#9e9e9e",
                "rolled-back": "#8e24aa", "rolled_back": "#8e24aa"}
NICE_STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
              14400, 21600, 43200, 86400)
METRIC_KINDS = {"time_to_detect": ("detect", "Detected"), "time_to_acknowledge": ("ack", "Acknowledged"),
                "time_to_mitigate": ("mitigate", "Mitigated"), "time_to_recover": ("recover", "Recovered")}


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def css_token(text: str) -> str:
    """A status as a class name: journal data must never be able to break out of an attribute."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-") or "unknown"


@dataclass(frozen=True)
class Scale:
    start: float
    end: float

    def x(self, mono: float) -> float:
        span = max(self.end - self.start, 1e-9)
        clamped = min(max(mono, self.start), self.end)
        return LEFT + (clamped - self.start) / span * PLOT


@dataclass(frozen=True)
class Milestone:
    kind: str
    mono: float
    label: str
    title: str


@dataclass(frozen=True)
class PlacedLabel:
    x: float
    anchor: str  # start | end
    row: int


def _text_width(text: str) -> float:
    return len(text) * CHAR_W


def _first_free_row(rows: list[float], lo: float, hi: float) -> int:
    """Greedy packing: the first row whose last item ends before `lo`; `rows` holds each row's right edge."""
    for i, right in enumerate(rows):
        if right + 6 <= lo:
            rows[i] = hi
            return i
    rows.append(hi)
    return len(rows) - 1


def _milestones(r: GameDayReport) -> list[Milestone]:
    found = []
    for f in r.faults:
        if f.injected_t is not None:
            at = r.origin_mono + f.injected_t
            title = f"Fault {f.id} injected at {fmt.offset(f.injected_t)}"
            found.append(Milestone("fault", at, f"Fault {f.id}", title))
    # Milestones sit where the metrics put them (recovery: when steady state began to hold), so the
    # picture and the table can never disagree.
    for m in r.metrics:
        if m.name in METRIC_KINDS and m.seconds is not None and r.origin == gev.FAULT_INJECTED:
            kind, word = METRIC_KINDS[m.name]
            found.append(Milestone(kind, r.origin_mono + m.seconds, f"{word} {fmt.offset(m.seconds)}",
                                   f"{m.label}: {fmt.seconds(m.seconds)} (objective {fmt.seconds(m.objective)})"))
    for f in r.faults:
        if f.reverted_t is not None:
            kind = "revert" if f.revert_ok else "revert-failed"
            word = "Reverted" if f.revert_ok else "REVERT FAILED"
            found.append(Milestone(kind, r.origin_mono + f.reverted_t, f"{word} {f.id}",
                                   f"Fault {f.id}: {word.lower()} at {fmt.offset(f.reverted_t)}"))
    return sorted(found, key=lambda m: m.mono)


def place_labels(items: Sequence[tuple[float, str]]) -> list[PlacedLabel]:
    """Labels beside their x, flipped left near the right edge, stacked into rows so none overlap (the incident
    timeline places its milestone labels with it too)."""
    rows: list[float] = []
    placed = []
    for x, text in items:
        w = _text_width(text)
        anchor = "start" if x + 4 + w <= WIDTH - 4 else "end"
        lo, hi = (x, x + 4 + w) if anchor == "start" else (x - 4 - w, x)
        placed.append(PlacedLabel(x + 4 if anchor == "start" else x - 4, anchor, _first_free_row(rows, lo, hi)))
    return placed


def tick_step(scale: Scale) -> float:
    """The round distance between ticks that puts about eight of them across the axis."""
    span = max(scale.end - scale.start, 1e-3)
    return next((s for s in NICE_STEPS if span / s <= 8), NICE_STEPS[-1])


def offset_ticks(origin: float, scale: Scale) -> list[float]:
    """Round offsets from `origin` (T+0) that lie on the axis (the incident timeline's ticks too)."""
    step = tick_step(scale)
    first = int((scale.start - origin) // step)
    last = int((scale.end - origin) // step) + 1
    return [k * step for k in range(first, last + 1) if scale.start - 1e-9 <= origin + k * step <= scale.end + 1e-9]


def _ticks(r: GameDayReport, scale: Scale) -> list[float]:
    """Round offsets from fault injection (T+0), about eight of them across the axis."""
    return offset_ticks(r.origin_mono, scale)


class Canvas:
    """Collects SVG fragments; every text goes through `esc`."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, fragment: str) -> None:
        self.parts.append(fragment)

    def text(self, x: float, y: float, text: str, *, anchor: str = "start", size: int = 12, fill: str = "#212121",
             weight: str = "normal", cls: str = "") -> None:
        klass = f' class="{cls}"' if cls else ""
        self.add(f'<text{klass} x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
                 f'font-weight="{weight}" fill="{fill}">{esc(text)}</text>')


def lane_frame(c: Canvas, name: str, top: float, height: float) -> None:
    """A lane's light background across the plot, and its name to the left of it."""
    c.add(f'<rect class="lane" x="{LEFT}" y="{top:.1f}" width="{PLOT}" height="{height:.1f}" fill="#fafafa" '
          f'stroke="{COLOURS["grid"]}"/>')
    c.text(LEFT - 10, top + height / 2 + 4, name, anchor="end", weight="600")


def _steady_lane(c: Canvas, r: GameDayReport, scale: Scale, top: float) -> None:
    lane_frame(c, "Steady state", top, LANE)
    c.add(f'<rect class="band ok" x="{LEFT}" y="{top + 8:.1f}" width="{PLOT}" height="{LANE - 16}" '
          f'fill="{COLOURS["ok"]}"><title>steady state holding</title></rect>')
    for span in r.violations:
        x0, x1 = scale.x(span.start), scale.x(span.end)
        until = "still violated when the journal ends" if span.open_end else f"until {fmt.offset(r.at(span.end))}"
        # Violated while the fault was in place: the impact the game day provoked, drawn like its finding.
        kind, why = ("finding", " (the fault's expected impact)") if span.during_fault else ("violated", "")
        c.add(f'<g class="marker violated {kind}"><rect class="band violated" x="{x0:.1f}" y="{top + 3:.1f}" '
              f'width="{max(x1 - x0, 2):.1f}" height="{LANE - 6}" fill="{COLOURS[kind]}" fill-opacity="0.8">'
              f'<title>Steady state violated{why} from {esc(fmt.offset(r.at(span.start)))} {esc(until)}</title>'
              "</rect>")
        if x1 - x0 > 70:
            c.text((x0 + x1) / 2, top + LANE / 2 + 4, "violated", anchor="middle", size=11, fill="#ffffff",
                   weight="600")
        c.add("</g>")


def _fault_lane(c: Canvas, r: GameDayReport, scale: Scale, top: float) -> None:
    lane_frame(c, "Faults", top, LANE)
    for f in r.faults:
        if f.injected_t is None:
            continue
        x0 = scale.x(r.origin_mono + f.injected_t)
        x1 = scale.x(r.origin_mono + f.reverted_t) if f.reverted_t is not None else scale.x(scale.end)
        state = "in place" if f.reverted_t is not None else "no revert recorded"
        c.add(f'<rect class="marker fault-active" x="{x0:.1f}" y="{top + 9:.1f}" width="{max(x1 - x0, 2):.1f}" '
              f'height="{LANE - 18}" fill="{COLOURS["fault"]}" fill-opacity="0.45"><title>Fault {esc(f.id)} '
              f'{esc(state)}</title></rect>')


def diamond(c: Canvas, kind: str, x: float, y: float, title: str, colour: str, r: float = 7) -> None:
    """A diamond centred on (x, y), `class="marker <kind>"`, its title as the tooltip."""
    c.add(f'<path class="marker {kind}" d="M{x:.1f},{y - r:.1f} L{x + r:.1f},{y:.1f} L{x:.1f},{y + r:.1f} '
          f'L{x - r:.1f},{y:.1f} Z" fill="{colour}" stroke="#ffffff" stroke-width="1.5"><title>{esc(title)}</title>'
          "</path>")


def _detection_lane(c: Canvas, r: GameDayReport, scale: Scale, top: float) -> None:
    lane_frame(c, "Detection", top, LANE)
    mid = top + LANE / 2
    for e in r.timeline:
        if e.type == gev.PROBE_FAILED:
            # During the fault a failing probe is what the game day looks for; outside it, a failure.
            kind = "finding" if e.finding else "probe"
            x = scale.x(e.mono)
            c.add(f'<line class="marker {kind}" x1="{x:.1f}" y1="{top + 5:.1f}" x2="{x:.1f}" '
                  f'y2="{top + LANE - 5:.1f}" stroke="{COLOURS[kind]}" stroke-width="2"><title>{esc(fmt.offset(e.t))} '
                  f"{esc(e.label)}</title></line>")
        elif e.type in (gev.ALERT_FIRING, gev.SIGNAL_FIRED):
            x = scale.x(e.mono)
            c.add(f'<circle class="marker alert" cx="{x:.1f}" cy="{mid:.1f}" r="4" fill="{COLOURS["alert"]}">'
                  f"<title>{esc(fmt.offset(e.t))} {esc(e.label)}</title></circle>")


def _pack_steps(r: GameDayReport, scale: Scale) -> list[tuple[int, float, float, str, str, str]]:
    """(row, x0, x1, step id, status, tooltip) for each response step, rows chosen so labels never collide."""
    rows: list[float] = []
    packed = []
    steps = sorted((s for run in r.responses for s in run.steps), key=lambda s: s.start_mono)
    for s in steps:
        x0, x1 = scale.x(s.start_mono), max(scale.x(s.end_mono), scale.x(s.start_mono) + 3)
        label_w = _text_width(s.id) + 8
        # The label goes inside a wide bar, otherwise after it (or before it near the right edge).
        if x1 - x0 >= label_w:
            lo, hi = x0, x1
        elif x1 + label_w <= WIDTH - 4:
            lo, hi = x0, x1 + label_w
        else:
            lo, hi = x0 - label_w, x1
        tip = (f"{s.id}: {s.status}, {fmt.offset(r.at(s.start_mono))} → {fmt.offset(r.at(s.end_mono))} "
               f"({fmt.seconds(s.end_mono - s.start_mono)}), run {s.run_id}")
        packed.append((_first_free_row(rows, lo, hi), x0, x1, s.id, s.status, tip))
    return packed


def _response_lane(c: Canvas, packed: list[tuple[int, float, float, str, str, str]], top: float,
                   height: float) -> None:
    lane_frame(c, "Response", top, height)
    if not packed:
        c.text(LEFT + 8, top + height / 2 + 4, "no response runbook ran", size=11, fill="#757575")
    for row, x0, x1, step_id, status, tip in packed:
        colour = STEP_COLOURS.get(status, "#1565c0")
        y = top + 5 + row * STEP_ROW
        c.add(f'<g class="marker step status-{css_token(status)}"><title>{esc(tip)}</title>'
              f'<rect x="{x0:.1f}" y="{y:.1f}" width="{x1 - x0:.1f}" height="{STEP_ROW - 6}" rx="3" '
              f'fill="{colour}"/>')
        label_w = _text_width(step_id) + 8
        if x1 - x0 >= label_w:
            c.text(x0 + 4, y + 13, step_id, size=11, fill="#ffffff", weight="600")
        elif x1 + label_w <= WIDTH - 4:
            c.text(x1 + 4, y + 13, step_id, size=11)
        else:
            c.text(x0 - 4, y + 13, step_id, size=11, anchor="end")
        c.add("</g>")


def _notes_lane(c: Canvas, r: GameDayReport, scale: Scale, top: float) -> None:
    lane_frame(c, "Notes", top, LANE)
    for n in r.notes:
        x = scale.x(r.origin_mono + n.t)
        c.add(f'<rect class="marker note" x="{x - 4:.1f}" y="{top + LANE / 2 - 5:.1f}" width="8" height="10" '
              f'fill="{COLOURS["note"]}"><title>{esc(fmt.offset(n.t))} {esc(n.actor or "")}: {esc(n.text)}</title>'
              "</rect>")


def _milestone_lines(c: Canvas, milestones: Sequence[Milestone], labels: Sequence[PlacedLabel], scale: Scale,
                     lanes_top: float, lanes_bottom: float, marker_y: dict[str, float]) -> None:
    for m, lab in zip(milestones, labels, strict=True):
        colour = COLOURS.get(m.kind, "#000000")
        x = scale.x(m.mono)
        label_y = 16 + lab.row * LABEL_ROW
        c.add(f'<g class="marker {m.kind}"><title>{esc(m.title)}</title>'
              f'<line x1="{x:.1f}" y1="{label_y + 4:.1f}" x2="{x:.1f}" y2="{lanes_bottom:.1f}" stroke="{colour}" '
              f'stroke-width="1.5" stroke-dasharray="4 3"/>')
        c.text(lab.x, label_y, m.label, anchor=lab.anchor, size=12, fill=colour, weight="600")
        diamond(c, f"{m.kind}-point", x, marker_y.get(m.kind, lanes_top), m.title, colour)
        c.add("</g>")


def _axis(c: Canvas, r: GameDayReport, scale: Scale, y: float) -> None:
    c.add(f'<line class="axis" x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + PLOT}" y2="{y:.1f}" stroke="{COLOURS["axis"]}" '
          'stroke-width="1.5"/>')
    for t in _ticks(r, scale):
        x = scale.x(r.origin_mono + t)
        c.add(f'<line class="tick" x1="{x:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{y + 6:.1f}" '
              f'stroke="{COLOURS["axis"]}"/>')
        c.text(x, y + 20, fmt.offset(t), anchor="middle", size=11, cls="tick-label")
    c.text(LEFT, y + 40, f"start {fmt.wall(r.started_wall)}", size=11, fill="#616161")
    end = fmt.wall(r.finished_wall) if r.finished_wall else "journal ends (unfinished)"
    c.text(LEFT + PLOT, y + 40, f"end {end}", anchor="end", size=11, fill="#616161")
    c.text(LEFT - 10, y + 20, "time", anchor="end", size=11, fill="#616161")


def _legend(c: Canvas, y: float) -> None:
    items: Iterable[tuple[str, str]] = (("fault", "fault injected"), ("detect", "detected"), ("ack", "acknowledged"),
                                        ("mitigate", "mitigated"), ("recover", "recovered"), ("revert", "reverted"),
                                        ("violated", "failure"), ("finding", "expected finding"))
    x = float(LEFT)
    for kind, text in items:
        c.add(f'<rect class="legend" x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{COLOURS[kind]}"/>')
        c.text(x + 14, y, text, size=11)
        x += 14 + _text_width(text) + 18


def timeline_svg(r: GameDayReport, *, standalone: bool = False) -> str:
    """The drawing; `standalone` adds the XML namespace a separate .svg file needs (inline HTML does not)."""
    scale = Scale(r.start_mono, max(r.end_mono, r.start_mono + 1e-3))
    milestones = _milestones(r)
    labels = place_labels([(scale.x(m.mono), m.label) for m in milestones])
    label_rows = max((lab.row for lab in labels), default=-1) + 1
    packed = _pack_steps(r, scale)
    step_rows = max((p[0] for p in packed), default=0) + 1
    # Lanes stacked from the top, below the milestone labels.
    top = 16 + label_rows * LABEL_ROW + 6
    steady, faults, detection = top, top + LANE + 4, top + 2 * (LANE + 4)
    response = top + 3 * (LANE + 4)
    response_h = 10 + step_rows * STEP_ROW - 6
    notes = response + response_h + 4
    bottom = notes + LANE
    height = bottom + 80
    marker_y = {"fault": faults + LANE / 2, "revert": faults + LANE / 2, "revert-failed": faults + LANE / 2,
                "detect": detection + LANE / 2, "ack": detection + LANE / 2, "mitigate": response + response_h / 2,
                "recover": steady + LANE / 2}
    c = Canvas()
    xmlns = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    c.add(f'<svg id="timeline"{xmlns} viewBox="0 0 {WIDTH} {height:.0f}" width="100%" role="img" '
          f'aria-labelledby="timeline-title" {FONT}>')
    c.add(f'<title id="timeline-title">Timeline of game day {esc(r.id)}: {esc(r.title)}</title>')
    c.add(f'<rect x="0" y="0" width="{WIDTH}" height="{height:.0f}" fill="#ffffff"/>')
    for t in _ticks(r, scale):  # light grid first, so everything else draws over it
        x = scale.x(r.origin_mono + t)
        c.add(f'<line class="grid" x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" '
              f'stroke="{COLOURS["grid"]}"/>')
    _steady_lane(c, r, scale, steady)
    _fault_lane(c, r, scale, faults)
    _detection_lane(c, r, scale, detection)
    _response_lane(c, packed, response, response_h)
    _notes_lane(c, r, scale, notes)
    _milestone_lines(c, milestones, labels, scale, top, bottom, marker_y)
    _axis(c, r, scale, bottom + 8)
    _legend(c, height - 10)
    c.add("</svg>")
    return "\n".join(c.parts)
