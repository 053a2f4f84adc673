"""Journal events of signed identities (written only when an allowed-signers file is configured)."""

from __future__ import annotations

from typing import ClassVar

from runner.journal.payloads import Payload, event_payload

RUN_SIGNED = "run.signed"
STEP_GATE = "step.gate"


@event_payload
class RunSigned(Payload):
    """Who started, resumed or cancelled a run, proven: the signed statement and its verified identity.
    Written right after run.started / run.resumed and right before a cancellation's run.finished."""

    TYPE: ClassVar[str] = RUN_SIGNED
    act: str  # a statement.Act value
    statement: str = ""
    signature: str = ""
    principal: str = ""
    fingerprint: str = ""


@event_payload
class StepGate(Payload):
    """A gate asked for approval of exactly this change: what `fireline approve` signs (an approval names the
    digest of the step's rendered parameters, which only the run knows)."""

    TYPE: ClassVar[str] = STEP_GATE
    params: str  # statement.params_digest of the rendered parameters
    expiry_s: float | None = None  # how long an approval holds (approval.timeout); None: the default
