"""Approval gates. A gate that cannot get an answer fails closed: the step does not run.

With an allowed-signers file configured, an approval counts only if its signature verifies to a principal
of the file and its signed statement is for exactly this change (run, step, runbook digest, digest of the
rendered parameters) and has not expired; the rules (distinct people, the initiator, `approvers:`) apply
to verified principals and keys. Without one, names are whatever was typed: fireline says so at every gate
and refuses the rules that would need them to be true."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from runner.document.model import Approval, Step
from runner.engine.gating import Grant, needs_identities
from runner.errors import FirelineError
from runner.identity import statement as st
from runner.identity.trust import NOT_VERIFIED, SETTING, Signed, Trust
from runner.journal.events import StepApproved


@dataclass(frozen=True)
class Initiator:
    """Who started the run: with verified identities, the principal and the key that signed its start."""

    name: str
    fingerprint: str = ""

    def is_(self, principal: str, fingerprint: str) -> bool:
        return principal == self.name or (bool(self.fingerprint) and fingerprint == self.fingerprint)


@dataclass(frozen=True)
class GateDecision:
    approved: bool
    counted: tuple[str, ...]
    needed: int
    why: str = ""
    notes: tuple[str, ...] = ()  # what the responder is told at the gate (approvals not counted, and why)


def refusal(asks: str) -> str:
    return f"this gate ({asks}) needs verified identities; configure {SETTING}"


def evaluate_gate(
    step: Step,
    grants: Iterable[Grant],
    initiator: Initiator | str,
    trust: Trust | None = None,
    binding: st.Binding | None = None,
    now: datetime | None = None,
) -> GateDecision:
    policy = step.approval or Approval()
    who = initiator if isinstance(initiator, Initiator) else Initiator(initiator)
    if trust is None:
        asks = needs_identities(step)
        if asks:
            # Fail closed: typed names cannot make two people out of one, nor keep anyone out.
            return GateDecision(False, (), policy.min_approvers, refusal(asks), (NOT_VERIFIED,))
        return _count(policy, [(g.actor, "", g) for g in grants if g.actor.strip()], who, [NOT_VERIFIED], None)
    notes: list[str] = []
    verified: list[tuple[str, str, Grant]] = []
    for grant in grants:
        checked = check_grant(grant, trust, binding, now or datetime.now(UTC))
        if isinstance(checked, str):
            notes.append(f"approval by {grant.actor or '?'} ({grant.via}) not counted: {checked}")
        else:
            verified.append((*checked, grant))
    return _count(policy, verified, who, notes, trust)


def check_grant(
    grant: Grant, trust: Trust, binding: st.Binding | None, now: datetime
) -> tuple[str, str] | str:
    """The verified (principal, key fingerprint) of a signed approval for `binding`, or why it does not count."""
    signed = grant.signed
    if signed is None:
        return grant.problem or "it is not signed"
    checked = trust.check(signed.statement, signed.signature, signed.principal)
    if checked.statement is None or checked.verified is None:
        return checked.problem
    said = checked.statement
    if said.act != st.Act.APPROVE:
        return f"the signature is for a {said.act}, not an approval"
    if said.reason != grant.reason:
        return "the recorded reason is not the one signed"
    if binding is None or said.binding() != binding:
        return _mismatch(said, binding)
    if said.expired(now):
        return f"it expired at {said.expires_at} (approval.timeout)"
    return checked.verified.principal, checked.verified.fingerprint


def _mismatch(said: st.Statement, binding: st.Binding | None) -> str:
    if binding is None:
        return "the gate has nothing to compare it with"
    if said.run != binding.run or said.step != binding.step:
        return f"it was signed for step {said.step} of run {said.run}"
    if said.runbook != binding.runbook:
        return "it was signed for another version of the runbook"
    return "it was signed for different parameters (the change to be made is not the one approved)"


def _count(
    policy: Approval,
    grants: list[tuple[str, str, Grant]],
    initiator: Initiator,
    notes: list[str],
    trust: Trust | None,
) -> GateDecision:
    needed = policy.min_approvers
    allowed = trust.expand(policy.approvers) if trust is not None else frozenset(policy.approvers)
    counted: list[str] = []
    keys: dict[str, str] = {}  # fingerprint → the principal it was counted for
    refused: list[str] = []
    for principal, fingerprint, _grant in grants:
        if policy.approvers and principal not in allowed:
            refused.append(f"{principal} is not an allowed approver")
        elif initiator.is_(principal, fingerprint) and needed > 1:
            # Four eyes: with more than one approver required, the person running the runbook never counts.
            refused.append(f"{principal} started the run and cannot be one of {needed} approvers")
        elif initiator.is_(principal, fingerprint) and not policy.allow_self:
            refused.append(f"{principal} started the run and may not approve this step (allow_self: false)")
        elif fingerprint and fingerprint in keys and keys[fingerprint] != principal:
            refused.append(f"{principal}'s key already approved as {keys[fingerprint]}: one key is one person")
        elif principal not in counted:
            counted.append(principal)
            if fingerprint:
                keys[fingerprint] = principal
    approved = len(counted) >= needed
    why = "" if approved else f"{len(counted)} of {needed} approval(s)" + (f"; {'; '.join(refused)}" if refused else "")
    return GateDecision(approved, tuple(counted), needed, why, tuple(notes))


def prompt_can_satisfy(step: Step, initiator: str, trust: Trust | None = None) -> bool:
    """The interactive prompt speaks for the initiator, which only helps single-approver gates."""
    policy = step.approval or Approval()
    allowed = trust.expand(policy.approvers) if trust is not None else frozenset(policy.approvers)
    return policy.min_approvers == 1 and policy.allow_self and (not policy.approvers or initiator in allowed)


def signed_of(approved: StepApproved) -> Signed | None:
    """The signature a recorded approval carries (None: an unsigned one)."""
    if approved.statement is None or approved.signature is None:
        return None
    return Signed(approved.statement, approved.signature, approved.principal or "", approved.fingerprint or "")


def approved_payload(grant: Grant) -> StepApproved:
    signed = grant.signed
    if signed is None:
        return StepApproved(grant.reason, grant.via)
    return StepApproved(
        grant.reason, grant.via, signed.statement, signed.signature, signed.principal, signed.fingerprint
    )


def signed_grant(
    grant: Grant, reason: str, trust: Trust | None, key: Path | None, binding: st.Binding | None, step: Step
) -> Grant:
    """`grant` (with `reason` as recorded) signed for `binding` with `key` when identities are verified. The
    actor becomes the principal the signature verifies to; a grant that cannot be signed is kept unsigned,
    with why (it will not count: the run pauses and says so, nothing fails)."""
    grant = replace(grant, reason=reason)
    if trust is None or grant.signed is not None:
        return grant
    if key is None or binding is None:
        return replace(grant, problem="no key to sign it with")
    expiry = step.approval.timeout if step.approval else None
    try:
        signed = trust.sign(key, st.approval(binding, reason, grant.via, expiry))
    except FirelineError as exc:
        return replace(grant, problem=f"could not sign it: {exc}")
    return replace(grant, actor=signed.principal, signed=signed)


def already_given(recorded: Iterable[Grant], pre: Grant, binding: st.Binding | None) -> bool:
    """Whether the person of a pre-approval already approved this step (with signed approvals: this very
    change; one signed for other parameters does not stand in for it)."""
    for grant in recorded:
        if grant.actor != pre.actor:
            continue
        if binding is None:
            return True
        if grant.signed is not None and _bound_to(grant.signed, binding):
            return True
    return False


def _bound_to(signed: Signed, binding: st.Binding) -> bool:
    try:
        return st.parse(signed.statement).binding() == binding
    except st.BadStatement:
        return False
