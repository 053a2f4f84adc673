"""Journal event records and the names of event types."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar

from runner.journal.payloads import (
    Payload,
    RunStatus,
    StepStatus,
    Unknown,
    decode,
    enum_of,
    flag,
    mapping,
    number,
    opt_text,
    raw,
    register,
    text,
    texts,
)

__all__ = ["Event", "Payload", "RunStatus", "StepStatus", "Unknown", "decode", "on_one_clock"]

SCHEMA_VERSION = 4

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


# -- payloads of run and plan events --------------------------------------------------------------------------


@register
@dataclass(frozen=True)
class RunStarted(Payload):
    TYPE: ClassVar[str] = RUN_STARTED
    runbook: str  # the runbook file's absolute path
    name: str
    title: str
    digest: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    dry_run: bool = False
    approve: tuple[str, ...] = ()  # steps pre-approved on the command line
    approve_all: bool = False
    reason: str = ""
    parent: str | None = None  # what the run is part of (a game day it responds to); kept on resume
    version: str = ""  # the fireline version that started the run
    initiator: str = ""
    steps: tuple[str, ...] = ()

    def to_data(self) -> dict[str, Any]:
        return {
            "runbook": self.runbook,
            "name": self.name,
            "title": self.title,
            "digest": self.digest,
            "inputs": self.inputs,
            "dry_run": self.dry_run,
            "approve": list(self.approve),
            "approve_all": self.approve_all,
            "reason": self.reason,
            "parent": self.parent,
            "version": self.version,
            "initiator": self.initiator,
            "steps": list(self.steps),
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> RunStarted:
        return cls(
            runbook=text(data, "runbook"),
            name=text(data, "name", "?"),
            title=text(data, "title"),
            digest=text(data, "digest"),
            inputs=mapping(data, "inputs"),
            dry_run=flag(data, "dry_run"),
            approve=texts(data, "approve"),
            approve_all=flag(data, "approve_all"),
            reason=text(data, "reason"),
            parent=opt_text(data, "parent") or opt_text(data, "gameday"),  # "gameday": before the link was neutral
            version=text(data, "version"),
            initiator=text(data, "initiator"),
            steps=texts(data, "steps"),
        )


@register
@dataclass(frozen=True)
class PlanStarted(RunStarted):
    """A dry run's start: the same record as a run's."""

    TYPE: ClassVar[str] = PLAN_STARTED

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> PlanStarted:
        started = RunStarted.from_data(data)
        return cls(**started.__dict__)


@register
@dataclass(frozen=True)
class RunPaused(Payload):
    TYPE: ClassVar[str] = RUN_PAUSED
    reason: str  # "interrupted", or what the run waits for (e.g. "approval required")
    why: str = ""

    def to_data(self) -> dict[str, Any]:
        return {"reason": self.reason, "why": self.why}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> RunPaused:
        return cls(text(data, "reason", "?"), text(data, "why"))


@register
@dataclass(frozen=True)
class RunResumed(Payload):
    TYPE: ClassVar[str] = RUN_RESUMED
    from_step: str | None  # None: nothing was left to run but the end

    def to_data(self) -> dict[str, Any]:
        return {"from_step": self.from_step}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> RunResumed:
        return cls(opt_text(data, "from_step"))


@register
@dataclass(frozen=True)
class RunFinished(Payload):
    TYPE: ClassVar[str] = RUN_FINISHED
    status: RunStatus
    message: str = ""
    failed_steps: tuple[str, ...] = ()

    def to_data(self) -> dict[str, Any]:
        return {"status": self.status, "message": self.message, "failed_steps": list(self.failed_steps)}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> RunFinished:
        status = enum_of(RunStatus, data.get("status"), RunStatus.UNKNOWN)
        return cls(status, text(data, "message"), texts(data, "failed_steps"))


@register
@dataclass(frozen=True)
class PlanStep(Payload):
    TYPE: ClassVar[str] = PLAN_STEP
    verdict: str  # an actions.base.Verdict value
    summary: str = ""
    details: tuple[str, ...] = ()

    def to_data(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "summary": self.summary, "details": list(self.details)}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> PlanStep:
        return cls(text(data, "verdict", "?"), text(data, "summary"), texts(data, "details"))


@register
@dataclass(frozen=True)
class PlanFinished(Payload):
    TYPE: ClassVar[str] = PLAN_FINISHED
    verdicts: Mapping[str, int]  # verdict → number of steps

    def to_data(self) -> dict[str, Any]:
        return {"verdicts": dict(self.verdicts)}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> PlanFinished:
        counts = mapping(data, "verdicts")
        return cls({str(k): int(v) for k, v in counts.items() if isinstance(v, int)})


# -- payloads of step events ----------------------------------------------------------------------------------


@register
@dataclass(frozen=True)
class StepStarted(Payload):
    TYPE: ClassVar[str] = STEP_STARTED
    action: str
    params: Mapping[str, Any] = field(default_factory=dict)
    mutating: bool = True  # older journals did not say: assume the worst
    rollback: bool = False  # the step's compensation started, not the step

    def to_data(self) -> dict[str, Any]:
        if self.rollback:
            return {"action": self.action, "rollback": True, "params": self.params}
        return {"action": self.action, "mutating": self.mutating, "params": self.params}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> StepStarted:
        return cls(text(data, "action", "?"), mapping(data, "params"), flag(data, "mutating", True),
                   flag(data, "rollback"))


@register
@dataclass(frozen=True)
class StepApproved(Payload):
    TYPE: ClassVar[str] = STEP_APPROVED
    reason: str = ""
    via: str = ""  # prompt, fireline approve, --approve …

    def to_data(self) -> dict[str, Any]:
        return {"reason": self.reason, "via": self.via}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> StepApproved:
        return cls(text(data, "reason"), text(data, "via"))


@register
@dataclass(frozen=True)
class StepSucceeded(Payload):
    TYPE: ClassVar[str] = STEP_SUCCEEDED
    summary: str = ""
    result: Any = None
    outputs: Mapping[str, Any] = field(default_factory=dict)
    changed: bool = False
    duration_s: float | None = None

    def to_data(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "result": self.result,
            "outputs": self.outputs,
            "changed": self.changed,
            "duration_s": self.duration_s,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> StepSucceeded:
        return cls(text(data, "summary"), raw(data, "result"), mapping(data, "outputs"), flag(data, "changed"),
                   number(data, "duration_s"))


@register
@dataclass(frozen=True)
class StepSkipped(Payload):
    """A step skipped by its `when:`, by the responder, or by its action (then with what the action returned)."""

    TYPE: ClassVar[str] = STEP_SKIPPED
    reason: str = ""
    result: Any = None
    outputs: Mapping[str, Any] | None = None
    duration_s: float | None = None  # None: the action never ran (only the reason is written)

    def to_data(self) -> dict[str, Any]:
        if self.duration_s is None:
            return {"reason": self.reason}
        return {"reason": self.reason, "result": self.result, "outputs": self.outputs, "duration_s": self.duration_s}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> StepSkipped:
        outputs = data.get("outputs")
        return cls(text(data, "reason"), raw(data, "result"), outputs if isinstance(outputs, Mapping) else None,
                   number(data, "duration_s"))


@register
@dataclass(frozen=True)
class StepFailed(Payload):
    """A step failed, or (with `rollback`) its compensation did."""

    TYPE: ClassVar[str] = STEP_FAILED
    error: str = ""
    hint: str | None = None
    duration_s: float | None = None
    kind: str = ""  # the error's class
    result: Any = None  # what the action got before failing (e.g. every host of a fan-out); None: nothing
    rollback: bool = False

    def to_data(self) -> dict[str, Any]:
        if self.rollback:
            return {"rollback": True, "error": self.error}
        data = {"error": self.error, "hint": self.hint, "duration_s": self.duration_s, "kind": self.kind}
        if self.result is not None:
            data["result"] = self.result
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> StepFailed:
        return cls(text(data, "error"), opt_text(data, "hint"), number(data, "duration_s"), text(data, "kind"),
                   raw(data, "result"), flag(data, "rollback"))


@register
@dataclass(frozen=True)
class StepRolledBack(Payload):
    TYPE: ClassVar[str] = STEP_ROLLED_BACK
    summary: str = ""
    result: Any = None
    skipped: bool = False  # the responder said the interrupted compensation already took effect

    def to_data(self) -> dict[str, Any]:
        if self.skipped:
            return {"summary": self.summary, "skipped": True}
        return {"summary": self.summary, "result": self.result}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> StepRolledBack:
        return cls(text(data, "summary"), raw(data, "result"), flag(data, "skipped"))


@register
@dataclass(frozen=True)
class StepAttemptFailed(Payload):
    TYPE: ClassVar[str] = STEP_ATTEMPT_FAILED
    attempt: int
    error: str = ""

    def to_data(self) -> dict[str, Any]:
        return {"attempt": self.attempt, "error": self.error}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> StepAttemptFailed:
        attempt = number(data, "attempt")
        return cls(int(attempt) if attempt is not None else 0, text(data, "error"))


@register
@dataclass(frozen=True)
class StepDecision(Payload):
    """What was decided about a step: refused/timeout at a prompt, retry/skip of an interrupted one."""

    TYPE: ClassVar[str] = STEP_DECISION
    decision: str
    why: str | None = None
    rollback: bool = False  # the decision is about the step's compensation

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"decision": self.decision}
        if self.why is not None:
            data["why"] = self.why
        if self.rollback:
            data["rollback"] = True
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> StepDecision:
        return cls(text(data, "decision", "?"), opt_text(data, "why"), flag(data, "rollback"))


@register
@dataclass(frozen=True)
class StepTransition(Payload):
    """Where the run goes after a step (`to`; None: the run ends) and why (an engine.transitions.Why value,
    kept as text: a newer journal may hold reasons this version does not know)."""

    TYPE: ClassVar[str] = STEP_TRANSITION
    to: str | None
    why: str = ""

    def to_data(self) -> dict[str, Any]:
        return {"to": self.to, "why": self.why}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> StepTransition:
        return cls(opt_text(data, "to"), text(data, "why"))


STEP_STATUS_OF = {STEP_SUCCEEDED: StepStatus.OK, STEP_FAILED: StepStatus.FAILED, STEP_SKIPPED: StepStatus.SKIPPED}
