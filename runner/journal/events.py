"""Journal event records and the names of event types."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar, Self

from runner.journal.payloads import (
    Payload,
    RunStatus,
    StepStatus,
    Unknown,
    decode,
    event_payload,
    mapping,
    opt_text,
)

__all__ = ["Event", "Payload", "RunStatus", "StepStatus", "Unknown", "decode", "on_one_clock"]

SCHEMA_VERSION = 8

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
    """One row of the journal: a run's event, its place in the run, its times and its payload."""

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


# -- payloads of run and plan events (fields: the stored keys, in the stored order) --------------------------


@event_payload
class RunStarted(Payload):
    """`run.started`: the runbook, its inputs and who started the run."""

    TYPE: ClassVar[str] = RUN_STARTED
    MISSING: ClassVar[Mapping[str, Any]] = {"name": "?"}
    OMIT: ClassVar[frozenset[str]] = frozenset({"incident"})  # written only for a run linked to an incident
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
    incident: str | None = None  # the incident the run responds to (`--incident`); kept on resume

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Self:
        fields = cls.fields_from(data)
        # Older journals linked a game day's response run under "gameday", before the link was neutral.
        fields["parent"] = fields["parent"] or opt_text(data, "gameday")
        return cls(**fields)


@event_payload
class PlanStarted(RunStarted):
    """A dry run's start: the same record as a run's."""

    TYPE: ClassVar[str] = PLAN_STARTED


@event_payload
class RunPaused(Payload):
    TYPE: ClassVar[str] = RUN_PAUSED
    MISSING: ClassVar[Mapping[str, Any]] = {"reason": "?"}
    reason: str  # "interrupted", or what the run waits for (e.g. "approval required")
    why: str = ""


@event_payload
class RunResumed(Payload):
    TYPE: ClassVar[str] = RUN_RESUMED
    from_step: str | None  # None: nothing was left to run but the end


@event_payload
class RunFinished(Payload):
    """`run.finished`: how the run ended."""

    TYPE: ClassVar[str] = RUN_FINISHED
    status: RunStatus
    message: str = ""
    failed_steps: tuple[str, ...] = ()


@event_payload
class PlanStep(Payload):
    TYPE: ClassVar[str] = PLAN_STEP
    MISSING: ClassVar[Mapping[str, Any]] = {"verdict": "?"}
    verdict: str  # an actions.base.Verdict value
    summary: str = ""
    details: tuple[str, ...] = ()


@event_payload
class PlanFinished(Payload):
    TYPE: ClassVar[str] = PLAN_FINISHED
    verdicts: Mapping[str, int]  # verdict → number of steps

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Self:
        counts = mapping(data, "verdicts")
        return cls({str(k): v for k, v in counts.items() if isinstance(v, int) and not isinstance(v, bool)})


# -- payloads of step events ----------------------------------------------------------------------------------


@event_payload
class StepStarted(Payload):
    """`step.started`: a step about to act, with its rendered parameters (secrets masked)."""

    TYPE: ClassVar[str] = STEP_STARTED
    MISSING: ClassVar[Mapping[str, Any]] = {"action": "?"}
    action: str
    params: Mapping[str, Any] = field(default_factory=dict)
    mutating: bool = True  # older journals did not say: assume the worst
    rollback: bool = False  # the step's compensation started, not the step

    def to_data(self) -> dict[str, Any]:
        if self.rollback:
            return {"action": self.action, "rollback": True, "params": self.params}
        return {"action": self.action, "mutating": self.mutating, "params": self.params}


@event_payload
class StepApproved(Payload):
    TYPE: ClassVar[str] = STEP_APPROVED
    # A signed approval (an allowed-signers file configured) carries the statement signed, the signature and
    # the identity it verified to when given; runner.identity re-verifies them before counting it.
    OMIT: ClassVar[frozenset[str]] = frozenset({"statement", "signature", "principal", "fingerprint"})
    reason: str = ""
    via: str = ""  # prompt, fireline approve, --approve …
    statement: str | None = None
    signature: str | None = None
    principal: str | None = None
    fingerprint: str | None = None


@event_payload
class StepSucceeded(Payload):
    """`step.succeeded`: what the step did and what it gave the steps after it."""

    TYPE: ClassVar[str] = STEP_SUCCEEDED
    OMIT: ClassVar[frozenset[str]] = frozenset({"output_error"})
    summary: str = ""
    result: Any = None
    outputs: Mapping[str, Any] = field(default_factory=dict)
    changed: bool = False
    duration_s: float | None = None
    # The step changed something, then some of its `outputs:` could not be computed (named here): the
    # step still succeeded, and the run paused after it.
    output_error: str | None = None


@event_payload
class StepSkipped(Payload):
    """A step skipped by its `when:`, by the responder, or by its action (then with what the action returned)."""

    TYPE: ClassVar[str] = STEP_SKIPPED
    reason: str = ""
    result: Any = None
    outputs: Mapping[str, Any] | None = None
    duration_s: float | None = None  # None: the action never ran (only the reason is written)

    def to_data(self) -> dict[str, Any]:
        return {"reason": self.reason} if self.duration_s is None else dict(self.__dict__)


@event_payload
class StepFailed(Payload):
    """A step failed, or (with `rollback`) its compensation did."""

    TYPE: ClassVar[str] = STEP_FAILED
    OMIT: ClassVar[frozenset[str]] = frozenset({"result", "rollback"})
    error: str = ""
    hint: str | None = None
    duration_s: float | None = None
    kind: str = ""  # the error's class
    result: Any = None  # what the action got before failing (e.g. every host of a fan-out); None: nothing
    rollback: bool = False

    def to_data(self) -> dict[str, Any]:
        return {"rollback": True, "error": self.error} if self.rollback else super().to_data()


@event_payload
class StepRolledBack(Payload):
    TYPE: ClassVar[str] = STEP_ROLLED_BACK
    summary: str = ""
    result: Any = None
    skipped: bool = False  # the responder said the interrupted compensation already took effect

    def to_data(self) -> dict[str, Any]:
        if self.skipped:
            return {"summary": self.summary, "skipped": True}
        return {"summary": self.summary, "result": self.result}


@event_payload
class StepAttemptFailed(Payload):
    TYPE: ClassVar[str] = STEP_ATTEMPT_FAILED
    attempt: int
    error: str = ""


@event_payload
class StepDecision(Payload):
    """What was decided about a step: refused/timeout at a prompt, retry/skip of an interrupted one."""

    TYPE: ClassVar[str] = STEP_DECISION
    OMIT: ClassVar[frozenset[str]] = frozenset({"why", "rollback"})
    MISSING: ClassVar[Mapping[str, Any]] = {"decision": "?"}
    decision: str
    why: str | None = None
    rollback: bool = False  # the decision is about the step's compensation


@event_payload
class StepTransition(Payload):
    """Where the run goes after a step (`to`; None: the run ends) and why (an engine.transitions.Why value,
    kept as text: a newer journal may hold reasons this version does not know)."""

    TYPE: ClassVar[str] = STEP_TRANSITION
    to: str | None
    why: str = ""
