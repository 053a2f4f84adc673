"""`fireline approve` from another terminal: the approval of a step, signed for the change its gate asked
about when identities are verified."""

from __future__ import annotations

from pathlib import Path

from runner.document.model import Runbook
from runner.engine.gating import Grant
from runner.errors import UsageError
from runner.identity import statement as st
from runner.identity.events import STEP_GATE, StepGate
from runner.identity.trust import Trust
from runner.journal.store import Journal

VIA = "fireline approve"


def approval_grant(
    journal: Journal,
    run_id: str,
    runbook: Runbook,
    step: str,
    reason: str,
    who: str,
    trust: Trust | None,
    key: Path | None,
) -> Grant:
    """The approval to record: typed (`who`) without an allowed-signers file; otherwise signed with `key`
    for the parameters the step's gate last asked about, refused unless the key is in the file."""
    if trust is None or key is None:
        return Grant(who, reason, VIA)
    gate = _last_gate(journal, run_id, step)
    binding = st.Binding(run_id, step, runbook.digest, gate.params)
    signed = trust.sign(key, st.approval(binding, reason, VIA, gate.expiry_s))
    return Grant(signed.principal, reason, VIA, signed)


def _last_gate(journal: Journal, run_id: str, step: str) -> StepGate:
    gates = [e for e in journal.events(run_id, (STEP_GATE,)) if e.step_id == step]
    if not gates:
        raise UsageError(
            f"step {step!r} of run {run_id} has not asked for approval yet: a signed approval is for the exact "
            "parameters the step will run with, which are known when the run reaches it",
            hint=f"approve it when the run pauses there (`fireline runs show {run_id}`), or pre-approve with "
            "`fireline resume --approve STEP --reason R`",
        )
    return StepGate.of(gates[-1])
