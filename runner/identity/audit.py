"""Re-verifying the signatures a run's journal holds, after the fact: who approved (or started, resumed,
cancelled) what, with which key, and whether the signed statement says what the row says.

Keys are judged at the time of signing (a key whose `valid-before` has passed since still proves a past
approval). Whether an approval was for the parameters the step then ran with is the gate's check, made
before the step ran (one for other parameters is not counted, and the gate asks again)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runner.identity import statement as st
from runner.identity.events import RunSigned
from runner.identity.trust import Trust
from runner.journal import events as ev
from runner.journal.events import Event


@dataclass(frozen=True)
class SignatureCheck:
    signed: bool
    principal: str = ""  # verified (when `problems` is empty) or as the row claims
    fingerprint: str = ""
    problems: tuple[str, ...] = ()
    unchecked: bool = False  # signed, but no allowed-signers file is configured to check it against

    def who(self, typed: str) -> str:
        """The identity as an auditor should read it."""
        if not self.signed:
            return f"{typed} (unverified: typed name)"
        state = "verified" if not self.problems else "signature NOT verified"
        if self.unchecked:
            state = "signed, not checked: no allowed-signers file is configured"
        return f"{self.principal} ({state}, key {self.fingerprint or '?'})"


def check_approval(trust: Trust | None, event: Event) -> SignatureCheck:
    """One step.approved event: unsigned, or signed and verified (or why not)."""
    approved = ev.StepApproved.of(event)
    if approved.statement is None or approved.signature is None:
        return SignatureCheck(False)
    principal, fingerprint = approved.principal or "", approved.fingerprint or ""
    if trust is None:
        return SignatureCheck(True, principal, fingerprint, unchecked=True)
    checked = trust.check(approved.statement, approved.signature, principal, at_signing=True)
    if checked.statement is None or checked.verified is None:
        return SignatureCheck(True, principal, fingerprint, (checked.problem,))
    said = checked.statement
    problems = []
    if said.act != st.Act.APPROVE:
        problems.append(f"the signature is for a {said.act}, not an approval")
    if said.run != event.run_id or said.step != event.step_id:
        problems.append(f"it was signed for step {said.step} of run {said.run}")
    if said.reason != approved.reason:
        problems.append("the recorded reason is not the one signed")
    if (event.actor or "") != checked.verified.principal:
        problems.append(f"the row names {event.actor!r}, the signature {checked.verified.principal!r}")
    return SignatureCheck(True, checked.verified.principal, checked.verified.fingerprint, tuple(problems))


def check_act(trust: Trust | None, event: Event) -> SignatureCheck:
    """One run.signed event (a start, resume or cancel)."""
    signed = RunSigned.of(event)
    if trust is None:
        return SignatureCheck(True, signed.principal, signed.fingerprint, unchecked=True)
    checked = trust.check(signed.statement, signed.signature, signed.principal, at_signing=True)
    if checked.statement is None or checked.verified is None:
        return SignatureCheck(True, signed.principal, signed.fingerprint, (checked.problem,))
    problems = []
    if checked.statement.run != event.run_id or str(checked.statement.act) != signed.act:
        problems.append(f"it was signed for a {checked.statement.act} of run {checked.statement.run}")
    return SignatureCheck(True, checked.verified.principal, checked.verified.fingerprint, tuple(problems))


def signature_problems(trust: Trust, events: Sequence[Event]) -> list[str]:
    """Every signed event of a run whose signature does not verify or does not say what its row says
    (what `resume` refuses to go on with). Approvals for other parameters are not problems: the gate does
    not count them and asks again."""
    found = []
    for event in events:
        if event.type == ev.STEP_APPROVED:
            check = check_approval(trust, event)
        elif event.type == RunSigned.TYPE:
            check = check_act(trust, event)
        else:
            continue
        found += [f"event {event.seq} ({event.type} {event.step_id or ''}): {p}" for p in check.problems]
    return found
