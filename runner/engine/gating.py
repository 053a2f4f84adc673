"""Whether a step has an approval gate, and what an approval given to one is.

Every run asks this of every step, and a runbook without gates needs nothing more: the gate's evaluation,
its prompt, signed statements and the policy file (runner.engine.approvals and what it loads) are imported
only when a step reaches a gate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from runner.document.model import Approval

if TYPE_CHECKING:
    from runner.actions.base import Action
    from runner.document.model import Runbook, Step
    from runner.identity.trust import Signed


@dataclass(frozen=True)
class Grant:
    """An approval given to a step: who, why, how it was given, and its signature when it has one."""

    actor: str
    reason: str
    via: str  # "--approve", "--approve-all", "prompt", "fireline approve"
    signed: Signed | None = None
    problem: str = ""  # why it could not be signed (it does not count)


def needs_gate(step: Step, action: Action, mutating: bool) -> bool:
    """Mutating steps are gated unless the runbook says `approval: {required: false}`; an action done by a
    person (`waits_for_person`) always waits for their confirmation."""
    if action.waits_for_person:
        return True
    if step.approval is not None and step.approval.required is not None:
        return step.approval.required
    # An outside effect that is not a production change (a status update) runs unless the runbook asks.
    return mutating and bool(getattr(action, "production_change", True))


def needs_identities(step: Step) -> str:
    """What in the step's approval policy is only meaningful with verified identities ("" when nothing)."""
    policy = step.approval or Approval()
    asks = []
    if policy.min_approvers > 1:
        asks.append(f"min_approvers: {policy.min_approvers}")
    if policy.approvers:
        asks.append("approvers:")
    if not policy.allow_self:
        asks.append("allow_self: false")
    return ", ".join(asks)


def unverifiable(runbook: Runbook) -> list[str]:
    """Steps whose gate fireline refuses without an allowed-signers file, each with why."""
    return [f"{step.id} ({asks})" for step in runbook.steps if (asks := needs_identities(step))]
