"""Measured response times, from journal timestamps (CLOCK_MONOTONIC, comparable across processes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from runner.gameday import events as gev
from runner.journal.events import Event, RunStatus, on_one_clock

WALL_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # the journal's ts_wall
METRICS = ("time_to_detect", "time_to_acknowledge", "time_to_mitigate", "time_to_recover")
LABELS = {
    "time_to_detect": "Time to detect",
    "time_to_acknowledge": "Time to acknowledge",
    "time_to_mitigate": "Time to mitigate",
    "time_to_recover": "Time to recover",
}


@dataclass(frozen=True)
class Metric:
    name: str
    seconds: float | None  # None: it never happened
    objective: float | None

    @property
    def passed(self) -> bool | None:
        if self.objective is None:
            return None if self.seconds is not None else False
        return self.seconds is not None and self.seconds <= self.objective


    def record(self) -> gev.MetricRecord:
        """What gameday.finished records of it."""
        return gev.MetricRecord(self.name, self.seconds, self.objective, self.passed)


def _first(events: Sequence[Event], type_: str) -> Event | None:
    return next((event for event in events if event.type == type_), None)


def _mitigated(events: Sequence[Event]) -> Event | None:
    """The first response run that finished successfully."""
    return next(
        (
            e
            for e in events
            if e.type == gev.RESPONSE_FINISHED and gev.ResponseFinished.of(e).status == RunStatus.SUCCEEDED
        ),
        None,
    )


@dataclass(frozen=True)
class Moment:
    """When something the metrics measure happened: on the monotonic clock of the game day's first event (what
    the metrics subtract) and on the wall clock (what an incident records: it spans machines and days)."""

    mono: float
    wall: str  # UTC ISO 8601 with microseconds and `Z`, as the journal writes ts_wall


# The moments of a game day (runner.gameday.drill gives them to its incident), and the metric each one ends.
INJECTED = "injected"
ENDS = {
    "time_to_detect": "detected",
    "time_to_acknowledge": "acknowledged",
    "time_to_mitigate": "mitigated",
    "time_to_recover": "recovered",
}
MARKS = (gev.FAULT_INJECTED, gev.DETECTED, gev.ACKNOWLEDGED, gev.RESPONSE_FINISHED, gev.RECOVERED)  # their events


def moments(events: Sequence[Event]) -> dict[str, Moment]:
    """The moments the metrics are measured between, each by the first event that marks it (the only place
    that chooses them: the metrics and the drill incident's milestones cannot disagree). Nothing counts
    before the first fault.injected."""
    events = on_one_clock(events)
    injected = _first(events, gev.FAULT_INJECTED)
    if injected is None:
        return {}
    marks = {
        INJECTED: injected,
        "detected": _first(events, gev.DETECTED),
        "acknowledged": _first(events, gev.ACKNOWLEDGED),
        "mitigated": _mitigated(events),
    }
    found = {name: Moment(e.ts_mono, e.ts_wall) for name, e in marks.items() if e is not None}
    recovered = _first(events, gev.RECOVERED)
    if recovered is not None:
        found["recovered"] = _recovered_at(recovered)
    return found


def measure(events: Sequence[Event], objectives: Mapping[str, float]) -> list[Metric]:
    """Each time is measured from the first fault.injected event."""
    found = moments(events)
    start = found[INJECTED].mono if INJECTED in found else 0.0
    ended = {name: found.get(ENDS[name]) for name in METRICS}
    return [
        Metric(name, None if at is None else max(0.0, at.mono - start), objectives.get(name))
        for name, at in ended.items()
    ]


def _recovered_at(recovered: Event) -> Moment:
    """Recovery counts from the start of the window in which the steady state held (the event's own time in
    journals that did not record it)."""
    since = gev.GameDayRecovered.of(recovered).since_mono
    if since is None:
        return Moment(recovered.ts_mono, recovered.ts_wall)
    return Moment(since, wall_before(recovered.ts_wall, recovered.ts_mono - since))


def wall_before(wall: str, seconds: float) -> str:
    """The journal wall time `seconds` before `wall` (unchanged when `wall` is not one the journal wrote)."""
    try:
        at = datetime.strptime(wall, WALL_FORMAT)
    except ValueError:
        return wall
    return (at - timedelta(seconds=seconds)).strftime(WALL_FORMAT)
