"""Dry-run: every step gets a verdict. Reads run for real (so later steps can use their outputs) unless
--no-reads; mutating steps are asked for their `plan`; nothing is written and no approval is asked."""

from __future__ import annotations

import time

from runner.actions.base import Plan, Verdict
from runner.actions.registry import get_action
from runner.display import output_lines
from runner.document.model import Step
from runner.engine.context import StepState
from runner.engine.policies import call_with_timeout
from runner.engine.runner import Engine, RunResult
from runner.errors import FirelineError
from runner.journal import events as ev
from runner.journal.events import RunStatus, StepStatus
from runner.templating import TemplateError, evaluate


class Planner(Engine):
    def execute(self, start: int = 0) -> RunResult:
        counts: dict[str, int] = {}
        try:
            for step in self.runbook.steps:
                plan = self._plan(step)
                counts[plan.verdict.value] = counts.get(plan.verdict.value, 0) + 1
                self._event(ev.PlanStep(plan.verdict.value, plan.summary, tuple(plan.details)), step)
                self.reporter.step_planned(step, plan)
        finally:
            self.connections.close()
        self.journal.append(self.options.run_id, ev.PLAN_FINISHED, data=ev.PlanFinished(counts).to_data())
        return RunResult(self.options.run_id, RunStatus.PLANNED, None, _summary(counts))

    def _plan(self, step: Step) -> Plan:
        state = self.scope.steps.setdefault(step.id, StepState())
        try:
            if step.when is not None and not evaluate(step.when, self.scope.context()):
                state.status = StepStatus.SKIPPED
                return Plan(Verdict.NO_CHANGE, f"would be skipped: {step.when} is false")
            action = get_action(step.action)
            params = self._params(step.action, step.params, self.scope.context())
        except TemplateError as exc:
            return Plan(Verdict.CANNOT_CHECK, f"depends on values a dry-run does not have: {exc}")
        except FirelineError as exc:
            return Plan(Verdict.CANNOT_CHECK, str(exc))
        # What a person does is never run as a read in a dry-run: the person is not there.
        if (action.is_mutating(params) and not step.read_only) or action.waits_for_person:
            # Later steps may test `steps.<id>.status`; its outputs stay unknown in a dry-run.
            state.status = StepStatus.PLANNED
            try:
                return action.plan(params, self._context(step))
            except FirelineError as exc:
                return Plan(Verdict.CANNOT_CHECK, str(exc))
        if self.options.no_reads:
            return Plan(Verdict.READ, "read-only step, not run (--no-reads)")
        return self._run_read(step, state)

    def _run_read(self, step: Step, state: StepState) -> Plan:
        action = get_action(step.action)
        started = time.monotonic()
        try:
            params = self._params(step.action, step.params, self.scope.context())
            ctx = self._context(step)
            outcome = call_with_timeout(lambda: action.run(params, ctx), ctx, step.timeout)
            self._capture_outputs(step, state, outcome.result)
            state.result, state.status = outcome.result, StepStatus.OK
            state.duration = time.monotonic() - started
            details = tuple(output_lines(state.outputs, self.redactor))  # as `run` prints them
            return Plan(Verdict.READ, f"ran (read-only): {outcome.summary}".rstrip(": "), details)
        except (FirelineError, TemplateError) as exc:
            state.status = StepStatus.FAILED
            return Plan(Verdict.CANNOT_CHECK, f"read-only step failed: {self.redactor.text(str(exc))}")


def _summary(counts: dict[str, int]) -> str:
    order = [v.value for v in Verdict]
    return ", ".join(f"{counts[k]} {k}" for k in order if counts.get(k))
