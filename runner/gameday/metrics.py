"""Measured response times, from journal timestamps (CLOCK_MONOTONIC, comparable across processes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from runner.gameday import events as gev
from runner.journal.events import Event, RunStatus, on_one_clock

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


def measure(events: Sequence[Event], objectives: Mapping[str, float]) -> list[Metric]:
    """Each time is measured from the first fault.injected event."""
    events = on_one_clock(events)
    injected = _first(events, gev.FAULT_INJECTED)
    moments: dict[str, float | None] = dict.fromkeys(METRICS)
    if injected is not None:
        detected = _first(events, gev.DETECTED)
        acknowledged = _first(events, gev.ACKNOWLEDGED)
        mitigated = _mitigated(events)
        recovered = _first(events, gev.RECOVERED)
        moments["time_to_detect"] = detected.ts_mono if detected else None
        moments["time_to_acknowledge"] = acknowledged.ts_mono if acknowledged else None
        moments["time_to_mitigate"] = mitigated.ts_mono if mitigated else None
        moments["time_to_recover"] = _recovered_at(recovered) if recovered else None
    start = injected.ts_mono if injected else 0.0
    return [
        Metric(name, None if at is None else max(0.0, at - start), objectives.get(name)) for name, at in moments.items()
    ]


def _recovered_at(recovered: Event) -> float:
    """Recovery counts from the start of the window in which the steady state held (the event's own time in
    journals that did not record it)."""
    since = gev.GameDayRecovered.of(recovered).since_mono
    return recovered.ts_mono if since is None else since
