"""Past game days and their trend: is the response getting faster than the last time this scenario ran?

Only game days that ran to a verdict (passed or failed) are compared: an aborted or interrupted one has
missing times by construction, and comparing against it would report an improvement nobody made.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from runner.durations import format_duration
from runner.gameday import events as gev
from runner.gameday.metrics import METRICS, measure
from runner.journal.events import Event
from runner.journal.store import Journal

WINDOW = 500  # game days scanned, newest first: enough history for any team, bounded for a shared store
WIDTH = 100
COMPARABLE = ("passed", "failed")
_EVENTS = (
    gev.GAMEDAY_STARTED,
    gev.FINISHED,
    gev.FAULT_INJECTED,
    gev.DETECTED,
    gev.ACKNOWLEDGED,
    gev.RESPONSE_FINISHED,
    gev.RECOVERED,
)
_HEADERS = {
    "time_to_detect": "DETECT",
    "time_to_acknowledge": "ACK",
    "time_to_mitigate": "MITIGATE",
    "time_to_recover": "RECOVER",
}
_ARROWS = {"better": "↑", "worse": "↓", "same": "="}


@dataclass(frozen=True)
class MetricChange:
    seconds: float | None
    previous: float | None = None
    trend: str | None = None  # better | worse | same; None: nothing to compare with

    @property
    def delta(self) -> float | None:
        """Current minus previous, in seconds: negative is faster."""
        if self.seconds is None or self.previous is None:
            return None
        return self.seconds - self.previous

    @property
    def arrow(self) -> str:
        return _ARROWS.get(self.trend or "", "")


@dataclass(frozen=True)
class HistoryRow:
    id: str
    scenario: str
    title: str
    started_at: str
    status: str
    resolution: float | None
    metrics: Mapping[str, MetricChange] = field(default_factory=dict)
    previous_id: str | None = None  # the game day this one is compared with


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _seconds_by_metric(
    events: Sequence[Event], started: gev.GameDayStarted, finished: gev.GameDayFinished | None
) -> dict[str, float | None]:
    if finished is not None and finished.metrics:
        return {m.name: _number(m.seconds) for m in finished.metrics}
    return {m.name: m.seconds for m in measure(events, started.objectives)}


def _row(journal: Journal, start: Event) -> HistoryRow:
    events = journal.events(start.run_id, _EVENTS)
    end = next((e for e in events if e.type == gev.FINISHED), None)
    started = gev.GameDayStarted.of(start)
    finished = gev.GameDayFinished.of(end) if end else None
    seconds = _seconds_by_metric(events, started, finished)
    return HistoryRow(
        id=start.run_id,
        scenario=started.scenario,
        title=started.title,
        started_at=start.ts_wall,
        status=str(finished.status) if finished else "incomplete",
        resolution=_number(started.interval),
        metrics={name: MetricChange(seconds.get(name)) for name in METRICS},
    )


def trend(current: float | None, previous: float | None, resolution: float | None) -> str:
    """Lower is better. A difference within the probe interval is noise: both runs saw the same tick."""
    if current is None or previous is None:
        if current is None and previous is None:
            return "same"
        return "worse" if current is None else "better"
    if abs(current - previous) < (resolution or 0.0):
        return "same"
    return "better" if current < previous else "worse"


def _compare(row: HistoryRow, previous: HistoryRow) -> HistoryRow:
    changes = {}
    for name, change in row.metrics.items():
        before = previous.metrics.get(name, MetricChange(None)).seconds
        changes[name] = MetricChange(change.seconds, before, trend(change.seconds, before, row.resolution))
    return HistoryRow(row.id, row.scenario, row.title, row.started_at, row.status, row.resolution, changes, previous.id)


def history(journal: Journal, scenario: str | None, *, limit: int = 50) -> list[HistoryRow]:
    """Past game days, newest first, each compared with the previous completed game day of its scenario."""
    starts = [
        e
        for e in journal.first_events(gev.GAMEDAY_STARTED, WINDOW)
        if scenario is None or gev.GameDayStarted.of(e).scenario == scenario
    ]
    rows = [_row(journal, e) for e in sorted(starts, key=lambda e: (e.ts_wall, e.run_id))]
    last_completed: dict[str, HistoryRow] = {}
    compared = []
    for row in rows:  # oldest first, so "previous" is always already known
        before = last_completed.get(row.scenario)
        comparable = row.status in COMPARABLE
        compared.append(_compare(row, before) if before is not None and comparable else row)
        if comparable:
            last_completed[row.scenario] = row
    return compared[::-1][:limit]


def _cell(change: MetricChange) -> str:
    if change.seconds is None and change.trend in (None, "same"):
        return "—"
    value = "—" if change.seconds is None else format_duration(change.seconds)
    delta = change.delta
    return f"{value} {change.arrow}{format_duration(abs(delta)) if delta is not None else ''}".rstrip()


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def render_history(rows: Sequence[HistoryRow]) -> str:
    """A plain table within 100 columns. The scenario column is dropped when every row shares one scenario
    (it becomes the heading), which is the `--scenario NAME` case."""
    if not rows:
        return "No game days in the journal yet. Run one with `fireline gameday run SCENARIO`.\n"
    one_scenario = len({r.scenario for r in rows}) == 1
    columns: list[tuple[str, list[str]]] = [
        # The whole id: it is what `report` and `recover` take, and it already says when the game day began.
        ("ID", [r.id for r in rows]),
        ("STATUS", [r.status for r in rows]),
        *(
            (_HEADERS.get(name, name), [_cell(r.metrics.get(name, MetricChange(None))) for r in rows])
            for name in METRICS
        ),
    ]
    widths = [max(len(h), *(len(c) for c in cells)) for h, cells in columns]
    if not one_scenario:
        room = WIDTH - sum(widths) - 2 * len(columns)
        natural = max(len("SCENARIO"), *(len(r.scenario) for r in rows))
        columns.insert(2, ("SCENARIO", [r.scenario for r in rows]))
        widths.insert(2, max(8, min(natural, room)))
    lines = ["  ".join(_fit(h, w).ljust(w) for (h, _), w in zip(columns, widths, strict=True)).rstrip()]
    for i in range(len(rows)):
        lines.append(
            "  ".join(_fit(cells[i], w).ljust(w) for (_, cells), w in zip(columns, widths, strict=True)).rstrip()
        )
    heading = [f"Game days of {rows[0].scenario}"] if one_scenario else []
    legend = (
        "↑ faster than the previous passed/failed game day of the scenario, ↓ slower, = within the probe "
        "interval; the duration after the arrow is the difference."
    )
    return "\n".join(_fit(line, WIDTH) for line in [*heading, *lines, "", *textwrap.wrap(legend, WIDTH)]) + "\n"
