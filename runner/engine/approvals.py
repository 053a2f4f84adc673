"""Approval gates. A gate that cannot get an answer fails closed: the step does not run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from runner.actions.base import Action
from runner.document.model import Approval, Step


@dataclass(frozen=True)
class Grant:
    actor: str
    reason: str
    via: str  # "--approve", "--approve-all", "prompt", "fireline approve"


@dataclass(frozen=True)
class GateDecision:
    approved: bool
    counted: tuple[str, ...]
    needed: int
    why: str = ""


def needs_gate(step: Step, action: Action, mutating: bool) -> bool:
    """Mutating steps are gated unless the runbook says `approval: {required: false}`; an action done by a
    person (`waits_for_person`) always waits for their confirmation."""
    if action.waits_for_person:
        return True
    if step.approval is not None and step.approval.required is not None:
        return step.approval.required
    # An outside effect that is not a production change (a status update) runs unless the runbook asks.
    return mutating and bool(getattr(action, "production_change", True))


def evaluate_gate(step: Step, grants: Iterable[Grant], initiator: str) -> GateDecision:
    policy = step.approval or Approval()
    needed = policy.min_approvers
    counted: list[str] = []
    refused: list[str] = []
    for grant in grants:
        if policy.approvers and grant.actor not in policy.approvers:
            refused.append(f"{grant.actor} is not an allowed approver")
            continue
        # Four eyes: with more than one approver required, the person running the runbook never counts.
        if needed > 1 and grant.actor == initiator:
            refused.append(f"{grant.actor} started the run and cannot be one of {needed} approvers")
            continue
        if grant.actor not in counted:
            counted.append(grant.actor)
    approved = len(counted) >= needed
    why = "" if approved else f"{len(counted)} of {needed} approval(s)" + (f"; {'; '.join(refused)}" if refused else "")
    return GateDecision(approved, tuple(counted), needed, why)


def prompt_can_satisfy(step: Step, initiator: str) -> bool:
    """The interactive prompt speaks for the initiator, which only helps single-approver gates."""
    policy = step.approval or Approval()
    return policy.min_approvers == 1 and (not policy.approvers or initiator in policy.approvers)
