"""Journal event records and the names of event types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 2

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
