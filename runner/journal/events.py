"""Journal event records and the names of event types."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

SCHEMA_VERSION = 3

RUN_STARTED = "run.started"
RUN_PAUSED = "run.paused"
RUN_RESUMED = "run.resumed"
RUN_FINISHED = "run.finished"
PLAN_STARTED = "plan.started"
PLAN_STEP = "plan.step"
PLAN_FINISHED = "plan.finished"
STEP_STARTED = "step.started"
STEP_APPROVED = "step.approved"
STEP_SUCCEEDED = "step.succeeded"
STEP_FAILED = "step.failed"
STEP_SKIPPED = "step.skipped"
STEP_ROLLED_BACK = "step.rolled_back"
STEP_ATTEMPT_FAILED = "step.attempt_failed"
STEP_DECISION = "step.decision"
STEP_TRANSITION = "step.transition"  # where the run goes after a step, and why (runner.engine.transitions)


@dataclass(frozen=True)
class Event:
    run_id: str
    seq: int
    ts_wall: str  # UTC ISO 8601 with microseconds
    ts_mono: float  # CLOCK_MONOTONIC: comparable across processes on one boot
    type: str
    step_id: str | None = None
    actor: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    boot: str = ""  # the machine boot of ts_mono: only comparable with events of the same boot


def on_one_clock(events: Sequence[Event]) -> list[Event]:
    """The events with `ts_mono` on the first event's clock. A shared store holds events from several
    machines (an acknowledgement typed elsewhere); their monotonic clocks are unrelated, so those events are
    placed by wall-clock difference instead. Events of the first event's own boot keep their exact times."""
    if not events:
        return []
    reference = events[0]
    origin = _wall(reference.ts_wall)
    return [
        e
        if not e.boot or not reference.boot or e.boot == reference.boot
        else replace(e, ts_mono=reference.ts_mono + (_wall(e.ts_wall) - origin).total_seconds(), boot=reference.boot)
        for e in events
    ]


def _wall(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
