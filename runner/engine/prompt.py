"""The approval prompt: what it asks the person at the terminal, and whom their answer credits.

The person answering is the one at this terminal (who started the run, or who resumed it with `--as`), not
necessarily who started the run. A mistyped answer can be typed again (TRIES in all) before the prompt
refuses; an approval always carries a reason, like `--approve --reason` and `fireline approve --reason`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from runner.document.model import Step
from runner.engine.gating import Grant

TRIES = 3
REFUSALS = frozenset({"no", "n"})
VIA = "prompt"


class Asker(Protocol):
    def ask(self, step: Step, question: str, timeout: float | None) -> str | None: ...


@dataclass(frozen=True)
class PromptAnswer:
    grant: Grant | None  # None: refused or unanswered; the step does not run
    decision: str = ""  # with no grant: "refused" or "timeout" (a step.decision event)
    why: str = ""


def ask_approval(asker: Asker, step: Step, person: str, confirm: bool, timeout: float | None) -> PromptAnswer:
    """Ask `person` to type the step's id, then why. `confirm`: the step is work a person does, and typing the
    id confirms it is done. `timeout` bounds the whole exchange."""
    deadline = None if timeout is None else time.monotonic() + timeout
    verb = "confirm you are done" if confirm else "approve"
    question = f"Type {step.id!r} to {verb} as {person}, or 'no' to refuse"
    for tries_left in range(TRIES - 1, -1, -1):
        answer = _ask(asker, step, question, deadline)
        if answer is None:
            return PromptAnswer(None, "timeout", "no answer in time")
        typed = answer.strip()
        if typed == step.id:
            break
        if typed.lower() in REFUSALS:
            return PromptAnswer(None, "refused", f"{person} answered {typed!r}")
        if not tries_left:
            return PromptAnswer(None, "refused", f"{TRIES} answers that were not {step.id!r}")
        left = "1 try" if tries_left == 1 else f"{tries_left} tries"
        question = f"{typed!r} is not {step.id!r}. Type {step.id!r} to {verb}, or 'no' to refuse ({left} left)"
    reason = _reason(asker, step, confirm, deadline)
    if reason is None:
        return PromptAnswer(None, "timeout", "no reason given in time")
    if not reason:
        return PromptAnswer(None, "refused", "no reason given")
    return PromptAnswer(Grant(person, reason, VIA))


def _reason(asker: Asker, step: Step, confirm: bool, deadline: float | None) -> str | None:
    """The reason, asked again when left empty; None when no answer came in time, "" when none was given."""
    question = "What was done (recorded in the journal)" if confirm else "Reason (recorded in the journal)"
    for tries_left in range(TRIES - 1, -1, -1):
        answer = _ask(asker, step, question, deadline)
        if answer is None:
            return None
        if answer.strip():
            return answer.strip()
        if tries_left:
            question = f"A reason is needed, e.g. the incident and what you checked ({tries_left} left)"
    return ""


def _ask(asker: Asker, step: Step, question: str, deadline: float | None) -> str | None:
    if deadline is None:
        return asker.ask(step, question, None)
    left = deadline - time.monotonic()
    return asker.ask(step, question, left) if left > 0 else None
