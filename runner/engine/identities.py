"""Who starts, resumes and cancels a run when identities are verified: the signed statement recorded beside
the run's events, and the refusals that keep unverifiable rules from passing as honoured."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from runner.engine.gating import unverifiable
from runner.errors import FirelineError, UsageError
from runner.identity.acts import Act
from runner.identity.events import RUN_SIGNED, RunSigned
from runner.identity.trust import SETTING

# Statements, signatures and their audit are loaded when something is signed or checked: every run asks
# `sign_or_refuse`, and most runs sign nothing.
if TYPE_CHECKING:
    from runner.document.model import Runbook
    from runner.identity.trust import Signed, Trust
    from runner.journal.events import Event
    from runner.journal.store import Journal


class IdentitiesRequired(UsageError):
    """A runbook asks for rules that typed names cannot honour, and no allowed-signers file is configured."""


def refuse_unverifiable(runbook: Runbook) -> None:
    """Fail closed before anything runs: `min_approvers > 1`, `approvers:` and `allow_self: false` mean
    nothing when anyone can type any name."""
    steps = unverifiable(runbook)
    if steps:
        raise IdentitiesRequired(
            f"refusing to run: the approval rules of step(s) {', '.join(steps)} need verified identities, "
            "and no allowed-signers file is configured",
            hint=f"configure {SETTING} (see README: Signed approvals)",
        )


def sign_act(trust: Trust, key: Path, act: Act, run_id: str, digest: str, reason: str, via: str) -> Signed:
    """A start, resume or cancel of a run (whose runbook has `digest`) signed with `key`."""
    from runner.identity import statement as st

    return trust.sign(key, st.act(act, run_id, digest, reason, via))


def sign_or_refuse(
    trust: Trust | None, key: Path | None, act: Act, run_id: str, runbook: Runbook, reason: str, via: str
) -> Signed | None:
    """Who starts or resumes the run, proven by their key when identities are verified; otherwise (None) a
    refusal of the rules typed names cannot honour. Before anything is recorded."""
    if trust is None or key is None:
        refuse_unverifiable(runbook)
        return None
    return sign_act(trust, key, act, run_id, runbook.digest, reason, via)


def record_signed(journal: Journal, run_id: str, act: Act, signed: Signed) -> None:
    payload = RunSigned(str(act), signed.statement, signed.signature, signed.principal, signed.fingerprint)
    journal.append(run_id, RUN_SIGNED, actor=signed.principal, data=payload.to_data(), durable=True)


def initiator_key(events: Iterable[Event]) -> str:
    """The fingerprint of the key that signed the run's start ("" when it was not signed)."""
    for event in events:
        if event.type == RUN_SIGNED:
            signed = RunSigned.of(event)
            if signed.act == Act.START:
                return signed.fingerprint
    return ""


class SignaturesBroken(FirelineError):
    """A signature in a run's journal does not verify, or does not say what its row says."""


def require_signatures(journal: Journal, run_id: str, trust: Trust | None, doing: str) -> None:
    """Refuse `doing` on a run whose signed events do not verify against the allowed signers in force."""
    if trust is None:
        return
    from runner.identity.audit import signature_problems

    problems = signature_problems(trust, journal.events(run_id))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise SignaturesBroken(
            f"a signature in the journal of run {run_id} does not verify: {problems[0]}{more}; refusing to {doing}",
            hint=f"see `fireline audit verify {run_id}`",
        )
