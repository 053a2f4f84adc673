"""Journal event types of a game day (its id is the journal's run_id for these events)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Self

from runner.journal.payloads import Payload, StepStatus, enum_of, event_payload, flag, mapping, opt_text, text

GAMEDAY_STARTED = "gameday.started"  # data: scenario, path, digest, title, hypothesis, objectives, interval, settle
STEADY_STATE_CHECKED = "steady_state.checked"  # data: ok, phase (before|after), probes {id: {ok, detail}}
FAULT_INJECTING = "fault.injecting"  # step_id: fault id; data: action, params, state (what revert needs)
FAULT_INJECTED = "fault.injected"  # step_id: fault id; data: action, state, summary
# step_id: fault id; data: ok, summary, why (finished|duration|aborted|interrupted|error|recover). Only an ok one
# takes the fault out of the injected set.
FAULT_REVERTED = "fault.reverted"
PROBE_FAILED = "probe.failed"  # step_id: probe id; data: detail (only on a transition ok → failing)
PROBE_OK = "probe.ok"  # step_id: probe id (only on a transition failing → ok)
STEADY_STATE_VIOLATED = "steady_state.violated"
STEADY_STATE_RESTORED = "steady_state.restored"
ALERT_FIRING = "alert.firing"  # data: name, labels
SIGNAL_FIRED = "signal.fired"  # data: kind, detail (a prometheus detection expression held)
DETECTED = "gameday.detected"  # data: signal (the first one listed under detection: that fired)
ACKNOWLEDGED = "gameday.acknowledged"  # actor; data: via (ack|runbook|incident)
NOTE = "gameday.note"  # actor; data: text
RESPONSE_STARTED = "response.started"  # data: run_id, runbook, mode
RESPONSE_STEP = "response.step"  # step_id; data: run_id, status, started_mono, ended_mono (for the timeline)
RESPONSE_FINISHED = "response.finished"  # data: run_id, status
RECOVERED = "gameday.recovered"  # data: since_mono (start of the window in which steady state held)
ABORTED = "gameday.aborted"  # data: reason
FINISHED = "gameday.finished"  # data: status (passed|failed|aborted|interrupted|not-started|error), metrics
# data: incident — the drill incident this game day opened (recorded before the incident's own events, so a
# crash between the two leaves the id reserved for this game day: `recover` declares it, never a second one)
INCIDENT = "gameday.incident"

ALL = (
    GAMEDAY_STARTED,
    STEADY_STATE_CHECKED,
    FAULT_INJECTING,
    FAULT_INJECTED,
    FAULT_REVERTED,
    PROBE_FAILED,
    PROBE_OK,
    STEADY_STATE_VIOLATED,
    STEADY_STATE_RESTORED,
    ALERT_FIRING,
    SIGNAL_FIRED,
    DETECTED,
    ACKNOWLEDGED,
    NOTE,
    RESPONSE_STARTED,
    RESPONSE_STEP,
    RESPONSE_FINISHED,
    RECOVERED,
    ABORTED,
    FINISHED,
    INCIDENT,
)


class Status(StrEnum):
    """How a game day ended (gameday.finished)."""

    PASSED = "passed"
    FAILED = "failed"
    ABORTED = "aborted"  # a guardrail stopped it
    INTERRUPTED = "interrupted"  # Ctrl-C or SIGTERM
    NOT_STARTED = "not-started"  # the steady state did not hold before: nothing was injected
    ERROR = "error"  # a bug (a probe's action raised): stopped and reverted, reported as a bug
    UNKNOWN = "unknown"  # a status this version does not know (never written)


# -- payloads (fields: the stored keys, in the stored order) --------------------------------------------------


@event_payload
class GameDayStarted(Payload):
    TYPE: ClassVar[str] = GAMEDAY_STARTED
    OMIT: ClassVar[frozenset[str]] = frozenset({"severity", "systems", "policy"})
    MISSING: ClassVar[Mapping[str, Any]] = {"scenario": "?"}
    scenario: str
    title: str = ""
    hypothesis: str = ""
    path: str | None = None
    digest: str = ""
    objectives: Mapping[str, Any] = field(default_factory=dict)  # metric → seconds (a duration text in old ones)
    interval: Any = None  # seconds between probe rounds (a duration text in old journals)
    settle: Any = None
    inputs: Mapping[str, Any] = field(default_factory=dict)
    mode: str | None = None  # the response's mode
    runbook: str | None = None  # the response runbook
    faults: tuple[str, ...] = ()
    probes: tuple[str, ...] = ()
    # What `recover` needs when the scenario file has moved or changed: connection templates and secret
    # references (never values).
    connections: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, Any] = field(default_factory=dict)
    # What the drill incident is declared with (metadata.severity and systems; `recover` may declare it).
    severity: str | None = None
    systems: Any = None  # a list of names (None: the scenario names none)
    policy: str | None = None  # digest of the severity policy in force


@dataclass(frozen=True)
class ProbeCheck:
    ok: bool
    detail: str = ""


@event_payload
class SteadyStateChecked(Payload):
    TYPE: ClassVar[str] = STEADY_STATE_CHECKED
    phase: str | None  # before | after
    ok: bool
    probes: Mapping[str, ProbeCheck] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        probes = {pid: {"ok": p.ok, "detail": p.detail} for pid, p in self.probes.items()}
        return {"phase": self.phase, "ok": self.ok, "probes": probes}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Self:
        probes = {
            str(pid): ProbeCheck(flag(r, "ok"), text(r, "detail"))
            for pid, r in mapping(data, "probes").items()
            if isinstance(r, Mapping)
        }
        return cls(opt_text(data, "phase"), flag(data, "ok"), probes)


@event_payload
class FaultInjecting(Payload):
    """Written before a fault's change, with what its revert needs (step_id: the fault id)."""

    TYPE: ClassVar[str] = FAULT_INJECTING
    MISSING: ClassVar[Mapping[str, Any]] = {"action": "?"}
    action: str
    params: Mapping[str, Any] = field(default_factory=dict)
    state: Mapping[str, Any] = field(default_factory=dict)
    revert: Any = None  # the fault's own revert step, when it has one


@event_payload
class FaultInjected(Payload):
    TYPE: ClassVar[str] = FAULT_INJECTED
    OMIT: ClassVar[frozenset[str]] = frozenset({"summary"})
    MISSING: ClassVar[Mapping[str, Any]] = {"action": "?"}
    action: str
    state: Mapping[str, Any] = field(default_factory=dict)
    summary: str | None = None  # not written by this version; read from older journals


@event_payload
class FaultReverted(Payload):
    """Only an ok one takes the fault out of the injected set."""

    TYPE: ClassVar[str] = FAULT_REVERTED
    ok: bool
    summary: str = ""
    why: str | None = None  # finished|duration|aborted|interrupted|error|recover


@event_payload
class ProbeFailed(Payload):
    TYPE: ClassVar[str] = PROBE_FAILED
    detail: str = ""


@event_payload
class ProbeOk(Payload):
    TYPE: ClassVar[str] = PROBE_OK
    detail: str = ""


@event_payload
class SteadyStateViolated(Payload):
    TYPE: ClassVar[str] = STEADY_STATE_VIOLATED
    probe: str | None = None  # the probe whose failure broke it


@event_payload
class SteadyStateRestored(Payload):
    TYPE: ClassVar[str] = STEADY_STATE_RESTORED
    probe: str | None = None  # the last probe to come back


@event_payload
class AlertFiring(Payload):
    TYPE: ClassVar[str] = ALERT_FIRING
    name: str | None
    labels: Any = None


@event_payload
class SignalFired(Payload):
    TYPE: ClassVar[str] = SIGNAL_FIRED
    kind: str
    detail: Any = None


@event_payload
class GameDayDetected(Payload):
    TYPE: ClassVar[str] = DETECTED
    signal: Any  # the first signal listed under detection: that fired (a name, or a mapping in old journals)
    detail: Any = None


@event_payload
class GameDayAcknowledged(Payload):
    TYPE: ClassVar[str] = ACKNOWLEDGED
    OMIT: ClassVar[frozenset[str]] = frozenset({"run_id"})
    via: str  # ack|runbook|incident (`fireline incident ack` of the game day's drill)
    run_id: str | None = None  # the response run that acknowledged by starting


@event_payload
class GameDayNote(Payload):
    TYPE: ClassVar[str] = NOTE
    text: str


@event_payload
class ResponseStarted(Payload):
    TYPE: ClassVar[str] = RESPONSE_STARTED
    OMIT: ClassVar[frozenset[str]] = frozenset({"mode"})
    run_id: str | None
    runbook: str | None = None
    mode: str | None = None  # not written by this version; read from older journals


@dataclass(frozen=True)
class StepApproval:
    """Who let a response step run, and how (prompt, --approve, --approve-all, fireline approve)."""

    by: str
    via: str
    reason: str = ""
    signed: bool = False  # the approval carried a verified signature (an allowed-signers file was in force)

    def to_data(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> StepApproval:
        return cls(text(data, "by", "?"), text(data, "via", "?"), text(data, "reason"), flag(data, "signed"))


@event_payload
class ResponseStep(Payload):
    """A response run's step, copied into the game day's timeline (step_id: the step)."""

    TYPE: ClassVar[str] = RESPONSE_STEP
    MISSING: ClassVar[Mapping[str, Any]] = {"status": StepStatus.UNKNOWN}
    run_id: str | None
    # A StepStatus value (ok|failed|skipped) when this version wrote it; kept as text because older journals
    # and hand-made ones say e.g. "succeeded", and the report shows what was recorded.
    status: str
    started_mono: float | None = None  # None in older or partial events: the event's own time is the best known
    ended_mono: float | None = None
    approvals: tuple[StepApproval, ...] = ()  # written only when the step passed a gate

    def to_data(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "approvals"}
        if self.approvals:
            data["approvals"] = [a.to_data() for a in self.approvals]
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Self:
        stored = data.get("approvals")
        approvals = tuple(StepApproval.from_data(a) for a in (stored if isinstance(stored, list) else ())
                          if isinstance(a, Mapping))
        return cls(**{**cls.fields_from(data), "approvals": approvals})


@event_payload
class ResponseFinished(Payload):
    TYPE: ClassVar[str] = RESPONSE_FINISHED
    OMIT: ClassVar[frozenset[str]] = frozenset({"error"})
    run_id: str | None  # None: the response run could not start
    status: str | None  # a RunStatus value
    error: str | None = None


@event_payload
class GameDayRecovered(Payload):
    TYPE: ClassVar[str] = RECOVERED
    since_mono: float | None  # start of the window in which steady state held


@event_payload
class GameDayAborted(Payload):
    TYPE: ClassVar[str] = ABORTED
    reason: str = ""


@event_payload
class GameDayIncident(Payload):
    TYPE: ClassVar[str] = INCIDENT
    MISSING: ClassVar[Mapping[str, Any]] = {"incident": "?"}
    incident: str  # the drill incident's id (INC-YYYY-NNN)


@dataclass(frozen=True)
class MetricRecord:
    """One measured metric as recorded at the end (None: never happened / no objective / nothing to judge)."""

    name: str
    seconds: Any = None  # seconds (a duration text in old journals)
    objective_s: Any = None
    passed: bool | None = None

    def to_data(self) -> dict[str, Any]:
        return dict(self.__dict__)


@event_payload
class GameDayFinished(Payload):
    TYPE: ClassVar[str] = FINISHED
    status: Status
    message: str = ""
    metrics: tuple[MetricRecord, ...] = ()

    def to_data(self) -> dict[str, Any]:
        return {"status": self.status, "message": self.message, "metrics": [m.to_data() for m in self.metrics]}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Self:
        stored = data.get("metrics")
        metrics = tuple(
            MetricRecord(text(m, "name"), m.get("seconds"), m.get("objective_s"), _passed(m))
            for m in (stored if isinstance(stored, list) else ())
            if isinstance(m, Mapping)
        )
        return cls(enum_of(Status, data.get("status"), Status.UNKNOWN), text(data, "message"), metrics)


def _passed(m: Mapping[str, Any]) -> bool | None:
    value = m.get("passed")
    return value if isinstance(value, bool) else None
