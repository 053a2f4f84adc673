"""Where a run goes after a step, and why. Each transition is a journal event, so resume continues exactly
where the run stood — after a goto, the step the run was heading for, not the furthest step that finished."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from runner.actions.registry import traits
from runner.document.model import Runbook, Step
from runner.journal import events as ev
from runner.journal.events import Event


class Why(StrEnum):
    """The reason of a transition. Readers must accept values they do not know (later versions add some,
    e.g. for `next:` and branches): only `to` decides where a resumed run goes."""

    ORDER = "order"  # the step finished (succeeded or skipped): the next one in the file
    CONTINUE = "continue"  # the step failed under on_failure: continue
    GOTO = "goto"  # the step failed under on_failure: goto:<id>
    ABORT = "abort"  # the step failed under on_failure: abort; the run ends
    ROLLBACK = "rollback"  # the step failed under on_failure: rollback; compensation, then the run ends
    END = "end"  # no step left after this one, or the step says `end: true`
    NEXT = "next"  # the step finished (succeeded or skipped) and says `next: <id>`
    BRANCH = "branch"  # the step's action chose where to go (a branch: the choice taken is in its result)


@dataclass(frozen=True)
class Transition:
    """The run leaving a step for another (or for its end), and why."""

    step_id: str  # the step the run leaves
    to: str | None  # the step it goes to; None: the run ends
    why: str  # a Why value (kept as text: a newer journal may hold reasons this version does not know)

    @property
    def ends_run(self) -> bool:
        return self.to is None

    def payload(self) -> ev.StepTransition:
        """What the journal records (step_id: the step the run leaves)."""
        return ev.StepTransition(self.to, self.why)

    @classmethod
    def of(cls, event: Event) -> Transition:
        """The transition a step.transition event recorded."""
        recorded = ev.StepTransition.of(event)
        return cls(str(event.step_id), recorded.to, recorded.why)


def after(runbook: Runbook, step: Step, succeeded: bool, chosen: str | None = None) -> Transition:
    """The transition the format prescribes after `step` finished (`succeeded` includes skipped); `chosen`:
    the step its action chose (a branch)."""
    if succeeded:
        if chosen is not None:
            return Transition(step.id, chosen, Why.BRANCH)
        if step.end:
            return Transition(step.id, None, Why.END)
        if step.next is not None:
            return Transition(step.id, step.next, Why.NEXT)
        return _to_index(runbook, step, step.index + 1, Why.ORDER)
    policy = step.on_failure
    if policy.policy == "continue":
        return _to_index(runbook, step, step.index + 1, Why.CONTINUE)
    if policy.policy == "goto" and policy.target:
        return Transition(step.id, policy.target, Why.GOTO)
    return Transition(step.id, None, Why.ROLLBACK if policy.policy == "rollback" else Why.ABORT)


def after_event(runbook: Runbook, finished: Event) -> Transition:
    """The transition after a step's finishing event when the journal has none recorded (a journal from an
    earlier version, or a crash between the two events when they were not written in one commit)."""
    step = runbook.step(str(finished.step_id))
    chosen = None
    if finished.type == ev.STEP_SUCCEEDED and traits(step.action).step_targets:
        goto = (ev.StepSucceeded.of(finished).result or {}).get("goto")
        chosen = goto if isinstance(goto, str) else None
    return after(runbook, step, finished.type != ev.STEP_FAILED, chosen)


def _to_index(runbook: Runbook, step: Step, index: int, why: Why) -> Transition:
    if index >= len(runbook.steps):
        return Transition(step.id, None, Why.END)
    return Transition(step.id, runbook.steps[index].id, why)
