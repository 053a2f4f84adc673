"""Dry-run: every step the run would reach gets a verdict. Reads run for real (so later steps can use their
outputs) unless --no-reads; mutating steps are asked for their `plan`; nothing is written and no approval is
asked.

The plan follows the run's own path: in order, `next:`, `end:`, and the branch the reads decide. It never
pretends: a step that uses what a change the plan only predicts would bring (the change's outputs, or its
effect awaited by a wait) is reported as depending on that change, not rendered with empty values or run to
wait for nothing; a branch that depends on such a change shows each path it may take."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from runner.actions.base import Outcome, Plan, Undecidable, Verdict
from runner.actions.registry import get_action, traits
from runner.display import output_lines
from runner.document.model import Step
from runner.engine import transitions
from runner.engine.context import StepState
from runner.engine.policies import call_with_timeout
from runner.engine.runner import Engine, RunResult
from runner.errors import FirelineError
from runner.journal import events as ev
from runner.journal.events import RunStatus, StepStatus
from runner.templating import TemplateError, evaluate, references, templates_in

# Every path of every undecided branch is planned; this bounds the work when branches nest.
MAX_PLANNED_STEPS = 1000


@dataclass
class _Path:
    """What a path of the plan knows: the steps it only predicts (their outputs do not exist) and, among
    them, the changes (what a later wait would be waiting for)."""

    predicted: dict[str, None]  # ordered set
    changes: dict[str, None]
    visited: set[str]
    depth: int = 0


class Planner(Engine):
    def execute(self, start: int = 0) -> RunResult:
        self._counts: dict[str, int] = {}
        self._planned = 0
        self._path = _Path({}, {}, set())
        self._reached: set[str] = set()
        try:
            if self.runbook.steps:
                self._follow(0)
        finally:
            self.connections.close()
        unreached = [s.id for s in self.runbook.steps if s.id not in self._reached]
        if unreached:
            self.reporter.note(f"not on the run's path, so not planned: {', '.join(unreached)}")
        counts = self._counts
        self.journal.append(self.options.run_id, ev.PLAN_FINISHED, data=ev.PlanFinished(counts).to_data())
        return RunResult(self.options.run_id, RunStatus.PLANNED, None, _summary(counts))

    # -- the path ---------------------------------------------------------------------------------------
    def _follow(self, index: int | None) -> None:
        """Plan from step `index` along the run's path to its end; at an undecided branch, every path."""
        while index is not None:
            step = self.runbook.steps[index]
            if step.id in self._path.visited:
                self.reporter.note(f"the run would go back to {step.id} here (a loop): the plan stops this path")
                return
            if self._planned >= MAX_PLANNED_STEPS:
                self.reporter.note(f"the plan stops here: {MAX_PLANNED_STEPS} steps planned (too many paths)")
                return
            self._path.visited.add(step.id)
            self._reached.add(step.id)
            self._planned += 1
            plan, outcome = self._plan(step)
            self._record(step, plan)
            if outcome is not None and outcome.possible:
                self._fork(step, outcome.possible)
                return
            chosen = outcome.goto if outcome is not None else None
            move = transitions.after(self.runbook, step, True, chosen)
            index = self.runbook.index_of(move.to) if move.to else None

    def _fork(self, step: Step, targets: tuple[str, ...]) -> None:
        """Each path an undecided branch may take, planned from the same state."""
        saved_states = {k: dataclasses.replace(v) for k, v in self.scope.steps.items()}
        saved_path = self._path
        for number, target in enumerate(targets, start=1):
            self.scope.steps = {k: dataclasses.replace(v) for k, v in saved_states.items()}
            self._path = _Path(
                dict(saved_path.predicted), dict(saved_path.changes), set(saved_path.visited), saved_path.depth + 1
            )
            self.reporter.plan_path(
                f"path {number} of {len(targets)} after {step.id}: go to {target}", self._path.depth
            )
            self._follow(self.runbook.index_of(target))
        self.reporter.plan_path("", saved_path.depth)
        self.scope.steps, self._path = saved_states, saved_path

    def _record(self, step: Step, plan: Plan) -> None:
        self._counts[plan.verdict.value] = self._counts.get(plan.verdict.value, 0) + 1
        self._event(ev.PlanStep(plan.verdict.value, plan.summary, tuple(plan.details)), step)
        self.reporter.step_planned(step, plan)

    # -- one step ---------------------------------------------------------------------------------------
    def _plan(self, step: Step) -> tuple[Plan, Outcome | None]:
        state = self.scope.steps.setdefault(step.id, StepState())
        try:
            # A condition the plan can evaluate decides first: a skipped step depends on nothing.
            decidable = step.when is not None and not self._uses_predicted((step.when,))
            if decidable and not evaluate(str(step.when), self.scope.context()):
                state.status = StepStatus.SKIPPED
                return Plan(Verdict.NO_CHANGE, f"would be skipped: {step.when} is false"), None
            depends = self._depends(step)
            if depends:
                self._predict(step, state, change=False)
                return Plan(Verdict.DEPENDS, f"depends on a planned change: {depends}"), None
            action = get_action(step.action)
            params = self._params(step.action, step.params, self.scope.context())
        except TemplateError as exc:
            return Plan(Verdict.CANNOT_CHECK, f"depends on values a dry-run does not have: {exc}"), None
        except FirelineError as exc:
            return Plan(Verdict.CANNOT_CHECK, str(exc)), None
        # What a person does is never run as a read in a dry-run: the person is not there.
        if (action.is_mutating(params) and not step.read_only) or action.waits_for_person:
            # Later steps may test `steps.<id>.status`; its outputs stay unknown in a dry-run.
            try:
                plan = action.plan(params, self._context(step))
            except FirelineError as exc:
                plan = Plan(Verdict.CANNOT_CHECK, str(exc))
            self._predict(step, state, change=plan.verdict != Verdict.NO_CHANGE)
            return plan, None
        if self.options.no_reads and not traits(step.action).step_targets:
            return Plan(Verdict.READ, "read-only step, not run (--no-reads)"), None
        return self._run_read(step, state)

    def _predict(self, step: Step, state: StepState, change: bool) -> None:
        state.status = StepStatus.PLANNED
        self._path.predicted[step.id] = None
        if change:
            self._path.changes[step.id] = None

    def _run_read(self, step: Step, state: StepState) -> tuple[Plan, Outcome | None]:
        action = get_action(step.action)
        self._undecided_by_change = False  # set when an expression of this step uses a predicted step
        started = time.monotonic()
        try:
            params = self._params(step.action, step.params, self.scope.context())
            ctx = self._context(step)
            outcome = call_with_timeout(lambda: action.run(params, ctx), ctx, step.timeout)
            self._capture_outputs(step, state, outcome.result, outcome.outputs)
            state.result, state.status = outcome.result, StepStatus.OK
            state.duration = time.monotonic() - started
            if outcome.possible:
                self._predict(step, state, change=False)
                if self._undecided_by_change:
                    return Plan(Verdict.DEPENDS, f"depends on a planned change: {outcome.summary}"), outcome
                return Plan(Verdict.CANNOT_CHECK, f"cannot decide in a plan: {outcome.summary}"), outcome
            details = tuple(output_lines(state.outputs, self.redactor))  # as `run` prints them
            return Plan(Verdict.READ, f"ran (read-only): {outcome.summary}".rstrip(": "), details), outcome
        except (FirelineError, TemplateError) as exc:
            state.status = StepStatus.FAILED
            return Plan(Verdict.CANNOT_CHECK, f"read-only step failed: {self.redactor.text(str(exc))}"), None

    def _evaluate_now(self, expression: str) -> Any:
        """An action's own expression (a branch's choice): undecidable when it uses a predicted step."""
        uses = self._uses_predicted((expression,))
        if uses:
            self._undecided_by_change = True
            raise Undecidable(f"uses {uses}, which the plan only predicts")
        try:
            return evaluate(expression, self.scope.context())
        except TemplateError as exc:
            raise Undecidable(f"cannot be evaluated in a plan: {self.redactor.text(str(exc))}") from None

    # -- what a step depends on -------------------------------------------------------------------------
    def _depends(self, step: Step) -> str:
        """Why the step cannot be planned without pretending ("" when it can): it uses a predicted step's
        outputs, or it waits for the effect of a change the plan only predicts."""
        if not self._path.predicted:
            return ""
        declared = traits(step.action)
        # An action that chooses evaluates its choices itself, one by one (see _evaluate_now).
        params = () if declared.step_targets else templates_in(step.params)
        uses = self._uses_predicted((*params, *templates_in(step.when), *templates_in(dict(step.outputs))))
        if uses:
            return f"uses {uses}, which the plan only predicts"
        waits = declared.waits_for_change is True or (declared.waits_for_change == "retries" and step.retries)
        until = step.retries.until if step.retries else None
        if self._path.changes and (waits or until):
            what = "waits" if waits else f"retries until {until}"
            changes = ", ".join(self._path.changes)
            which = "a change" if len(self._path.changes) == 1 else "changes"
            return f"{what} for the effect of {changes}, {which} the plan only predicts (no time spent waiting)"
        return ""

    def _uses_predicted(self, texts: tuple[str, ...]) -> str:
        used: dict[str, None] = {}
        for text in texts:
            for ref in references(text):
                if ref.root != "steps":
                    continue
                if not ref.chain:  # steps[...] computed: it may be any of them
                    used.update({f"steps.{p}": None for p in self._path.predicted})
                elif str(ref.chain[0]) in self._path.predicted:
                    used[".".join(f"{c}" for c in ("steps", *ref.chain))] = None
        return ", ".join(used)


def _summary(counts: dict[str, int]) -> str:
    order = [v.value for v in Verdict]
    return ", ".join(f"{counts[k]} {k}" for k in order if counts.get(k))
