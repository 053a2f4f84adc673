"""The run loop. It fits on one screen; each policy (approval, retries, timeout, verify, rollback, dry-run)
lives in its own method."""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from runner.actions.base import Action, ActionContext, Outcome, Plan, Verdict
from runner.actions.registry import get_action
from runner.actions.results import CHECK_RESULTS, check_result
from runner.document.model import Runbook, Step, SubAction
from runner.document.schemas import check_params_now
from runner.engine import transitions
from runner.engine.context import Connections, RunScope, StepState
from runner.engine.gating import Grant, needs_gate
from runner.engine.policies import WorkNotStopped, backoff_delays, call_with_timeout
from runner.engine.transitions import Transition, Why
from runner.errors import ActionError, FirelineError
from runner.journal import events as ev
from runner.journal.events import Payload, RunStatus, StepStatus
from runner.journal.store import Journal
from runner.secrets import Redactor
from runner.templating import TemplateError, evaluate, is_template, render_params

# A gate's evaluation, its prompt and signed statements are loaded when a step reaches a gate (_gate):
# a runbook without one does not pay for them.
if TYPE_CHECKING:
    from runner.engine.approvals import GateDecision
    from runner.identity import statement as signed_statement
    from runner.identity.trust import Trust

MAX_VISITS_PER_STEP = 100  # a loop that never ends is a bug in the runbook, not a strategy


class Reporter(Protocol):
    """What the responder sees. Implementations: rich live view, plain lines, JSON."""

    def header(self, run_id: str, dry_run: bool) -> None: ...
    def step_started(self, step: Step) -> None: ...
    def step_log(self, step: Step, line: str) -> None: ...
    def step_finished(self, step: Step, state: StepState) -> None: ...
    def step_planned(self, step: Step, plan: Plan) -> None: ...
    def approval_needed(self, step: Step, plan: Plan | None, why: str) -> None: ...
    def ask(self, step: Step, question: str, timeout: float | None) -> str | None: ...
    def note(self, text: str) -> None: ...
    def plan_path(self, label: str, depth: int) -> None: ...  # a plan's path of an undecided branch ("": done)


@dataclass(frozen=True)
class RunOptions:
    """How a run goes: its id, who started it, dry-run or not, and how it asks people."""

    run_id: str
    initiator: str
    dry_run: bool = False
    no_reads: bool = False
    interactive: bool = False
    grants_all: Grant | None = None
    grants: Mapping[str, Grant] = field(default_factory=dict)
    # Verified identities (an allowed-signers file): whose signatures count, the key that signs pre-approvals
    # and prompt answers given in this process, and the key that signed the run's start.
    trust: Trust | None = None
    key: Path | None = None
    initiator_key: str = ""
    # Who answers the prompt: the person at this terminal (who resumed the run); None: the initiator.
    operator: str | None = None


@dataclass(frozen=True)
class FailedStep:
    """A step whose last outcome was a failure, for the run's result."""

    step_id: str
    summary: str
    critical: bool  # False: the step may fail without failing the run


@dataclass(frozen=True)
class RunResult:
    """How a run ended, and the steps that failed on the way."""

    run_id: str
    status: RunStatus
    failed_step: str | None = None  # failed: the step that ended the run or the first critical failure
    message: str = ""
    failed_steps: tuple[FailedStep, ...] = ()  # every step whose last outcome was a failure
    paused_for: str = ""  # paused: "approval", or "interrupted" (a decision about the step is needed)

    @property
    def exit_code(self) -> int:
        return {"succeeded": 0, "planned": 0, "failed": 1, "paused": 3}[self.status]


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return is_template(value)
    # any(map(…)), not any(generator): no generator frame per value (this runs for every step)
    if isinstance(value, Mapping):
        return any(map(_has_template, value.values()))
    if isinstance(value, list):
        return any(map(_has_template, value))
    return False


class _Paused(Exception):
    def __init__(self, step: Step, why: str, reason: str = "approval") -> None:
        super().__init__(why)
        self.step = step
        self.reason = reason


class Engine:
    def __init__(
        self,
        runbook: Runbook,
        scope: RunScope,
        journal: Journal,
        reporter: Reporter,
        options: RunOptions,
        redactor: Redactor,
    ) -> None:
        self.runbook = runbook
        self.scope = scope
        self.journal = journal
        self.reporter = reporter
        self.options = options
        self.redactor = redactor
        self.connections = Connections(runbook.connections, scope)
        self.completed: list[Step] = []  # in order, for rollback
        self._current: str | None = None
        self._binding: signed_statement.Binding | None = None  # the change the current gate is about

    # -- the loop ---------------------------------------------------------------------------------------
    def execute(self, start: int = 0) -> RunResult:
        return self._guarded(lambda: self._loop(start))

    def conclude(self, stopped_at: Step, compensate: bool = False, compensated: Set[str] = frozenset()) -> RunResult:
        """Finish a run that `stopped_at` had already ended before a crash or a pause: the compensation its
        `on_failure: rollback` asked for (except what is done), then the run's end."""

        def finish() -> RunResult:
            if compensate:
                self._rollback(compensated)
            return self._finish(stopped_at, self.scope.steps.get(stopped_at.id, StepState()).summary)

        return self._guarded(finish)

    def _loop(self, start: int) -> RunResult:
        visits: Counter[str] = Counter()
        index = start
        while index < len(self.runbook.steps):
            step = self.runbook.steps[index]
            self._current = step.id
            visits[step.id] += 1
            if visits[step.id] > MAX_VISITS_PER_STEP:
                loop = f"step {step.id!r} ran {MAX_VISITS_PER_STEP} times: a loop (goto, next: or a branch) never left"
                return self._finish(step, loop)
            move = self._step(step)
            if move.why in (Why.ABORT, Why.ROLLBACK):
                if move.why == Why.ROLLBACK:
                    self._rollback()
                return self._finish(step, self.scope.steps[step.id].summary)
            index = self.runbook.index_of(move.to) if move.to else len(self.runbook.steps)
        return self._finish(None, "")

    def _guarded(self, body: Callable[[], RunResult]) -> RunResult:
        """`body` with what every way out of a run needs: a pause or an interrupt recorded, connections closed."""
        try:
            return body()
        except KeyboardInterrupt:
            # Ctrl-C (or SIGTERM, which the CLI turns into the same): say so in the journal, so `runs list`
            # shows the run as paused and `resume` knows where it stood. A step cut short stays "started".
            self.journal.append(
                self.options.run_id,
                ev.RUN_PAUSED,
                step_id=self._current,
                data=ev.RunPaused("interrupted", "interrupted by the responder (Ctrl-C or SIGTERM)").to_data(),
                durable=True,
            )
            raise
        except _Paused as paused:
            why = self.redactor.text(str(paused))
            self.journal.append(
                self.options.run_id,
                ev.RUN_PAUSED,
                step_id=paused.step.id,
                data=ev.RunPaused(paused.reason, why).to_data(),
                durable=True,
            )
            return RunResult(self.options.run_id, RunStatus.PAUSED, paused.step.id, why, paused_for=paused.reason)
        finally:
            self.connections.close()

    def _finish(self, stopped_at: Step | None, message: str) -> RunResult:
        """The run's end. It failed when a step stopped it, or when a critical step's last outcome is a
        failure (on_failure: continue or goto only decides what runs next); it succeeded otherwise."""
        failed = self._failed_steps(stopped_at, message)
        critical = [f for f in failed if f.critical]
        status, step_id = RunStatus.SUCCEEDED, None
        if stopped_at is not None:
            status, step_id = RunStatus.FAILED, stopped_at.id
        elif critical:
            status, step_id = RunStatus.FAILED, critical[0].step_id
            message = f"step {step_id} failed" if len(critical) == 1 else f"{len(critical)} steps failed"
        message = self.redactor.text(message)
        self.journal.append(
            self.options.run_id,
            ev.RUN_FINISHED,
            step_id=step_id,
            data=ev.RunFinished(status, message, tuple(f.step_id for f in failed)).to_data(),
            durable=True,
        )
        return RunResult(self.options.run_id, status, step_id, message, tuple(failed))

    def _failed_steps(self, stopped_at: Step | None, message: str) -> list[FailedStep]:
        failed = []
        for step in self.runbook.steps:
            state = self.scope.steps.get(step.id)
            if stopped_at is not None and step.id == stopped_at.id:
                failed.append(FailedStep(step.id, self.redactor.text(message), step.critical))
            elif state is not None and state.status == "failed":
                failed.append(FailedStep(step.id, state.summary, step.critical))
        return failed

    # -- one step ---------------------------------------------------------------------------------------
    def _step(self, step: Step) -> Transition:
        """Run one step through every policy; returns where the run goes next (already recorded)."""
        state = self.scope.steps.setdefault(step.id, StepState())
        started = time.monotonic()
        try:
            if step.when is not None and not evaluate(step.when, self.scope.context()):
                return self._skip(step, state, "condition is false: " + step.when)
            action = get_action(step.action)
            params = self._params(step.action, step.params, self.scope.context())
            mutating = action.is_mutating(params) and not step.read_only
            self._gate(step, action, params, mutating)
            # The step's time is its action's, from its step.started on: not the wait for an approval.
            started = time.monotonic()
            state.status = StepStatus.RUNNING
            self.reporter.step_started(step)
            self._event(ev.StepStarted(step.action, params, mutating), step, durable=mutating)
            outcome = self._attempts(step, action, params)
            # The action ran: from here on its compensation applies, even if the post-condition fails.
            self.completed.append(step)
            state.result = outcome.result
            if step.verify is not None:
                self._verify(step, outcome)
            return self._succeed(step, state, outcome, started, mutating)
        except _Paused:
            raise
        except (FirelineError, TemplateError) as exc:
            return self._fail(step, state, exc, started)

    def _params(self, action: str, params: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
        if not _has_template(params):
            return dict(params)  # validated statically, nothing can have changed
        # As the action declares: shell text quoted, what it judges against what it reads left for it.
        rendered = render_params(action, params, context)
        problems = check_params_now(action, rendered)
        if problems:
            raise ActionError("invalid parameters after rendering templates: " + "; ".join(problems))
        # What the template's fixed text allows (a file path must stay in the directory it names).
        check = getattr(get_action(action), "check_rendered", None)
        if check is not None:
            check(params, rendered)
        return rendered

    def _context(self, step: Step, timeout: float | None = None) -> ActionContext:
        timeout = timeout or step.timeout
        deadline = time.monotonic() + timeout if timeout else None
        return ActionContext(
            step.id,
            self.connections,
            dry_run=self.options.dry_run,
            deadline=deadline,
            emit=lambda line: self.reporter.step_log(step, line),
            redact=self.redactor.text,
            evaluate=self._evaluate_now,
        )

    def _evaluate_now(self, expression: str) -> Any:
        """An expression an action evaluates while it runs (a branch's choices), against the run as it is."""
        try:
            return evaluate(expression, self.scope.context())
        except TemplateError as exc:
            raise ActionError(str(exc)) from None

    def _attempts(self, step: Step, action: Action, params: Mapping[str, Any], sub: SubAction | None = None) -> Outcome:
        """The action, retried by the step's policy; a verify or rollback brings its own timeout and retries."""
        retries = sub.retries if sub is not None else step.retries
        timeout = (sub.timeout if sub is not None else None) or step.timeout
        delays = backoff_delays(retries.count, retries.delay, retries.backoff) if retries else []
        for attempt in range(len(delays) + 1):
            ctx = self._context(step, timeout)
            try:
                outcome = call_with_timeout(functools.partial(action.run, params, ctx), ctx, timeout)
                if CHECK_RESULTS:  # FIRELINE_CHECK_RESULTS=1: the result has the shape its action declares
                    check_result(action.name, outcome.result)
                if retries and retries.until and not evaluate(retries.until, self.scope.context(outcome.result)):
                    raise ActionError(f"condition not met: {retries.until}")
                return outcome
            except WorkNotStopped as exc:
                # The attempt may still be changing things: no retry, rollback or next step may run
                # beside it. The run stops here as if interrupted; the responder decides about the step.
                raise _Paused(step, str(exc), "interrupted") from None
            except FirelineError as exc:
                if attempt >= len(delays):
                    raise
                self._event(ev.StepAttemptFailed(attempt + 1, str(exc)), step)
                self.reporter.step_log(
                    step,
                    f"attempt {attempt + 1} failed: {self.redactor.text(str(exc))}; retrying in {delays[attempt]:.1f}s",
                )
                time.sleep(delays[attempt])
        raise AssertionError("unreachable")

    def _verify(self, step: Step, outcome: Outcome) -> None:
        verify: SubAction = step.verify  # type: ignore[assignment]
        action = get_action(verify.action)
        params = self._params(verify.action, verify.params, self.scope.context(outcome.result))
        try:
            self._attempts(step, action, params, verify)
        except FirelineError as exc:
            raise ActionError(f"verify ({verify.action}) failed: {exc}") from None

    def _capture_outputs(
        self, step: Step, state: StepState, result: Mapping[str, Any], preset: Mapping[str, Any] | None = None
    ) -> None:
        outputs = step.outputs
        if outputs:
            context = self.scope.context(result)
            state.outputs = {name: evaluate(text, context) for name, text in outputs.items()}
        else:
            state.outputs = {}
        if preset:  # outputs the action set itself (control.set); `outputs:` written on the step win
            state.outputs = {**preset, **state.outputs}

    def _outputs_after_change(self, step: Step, state: StepState, outcome: Outcome) -> str | None:
        """The outputs of a step that changed something, each computed on its own: one that cannot be does
        not turn the change into a failure (it happened; a failure would retry it, roll it back or go on as if
        it had not). Returns what could not be captured, None when everything was."""
        context = self.scope.context(outcome.result)
        outputs, missing = dict(outcome.outputs or {}), []  # what the action set itself (control.set) first
        for name, text in step.outputs.items():
            try:
                outputs[name] = evaluate(text, context)
            except (FirelineError, TemplateError) as exc:
                missing.append(f"{name} ({exc})")
        state.outputs = outputs
        return self.redactor.text("; ".join(missing)) if missing else None

    def _succeed(
        self, step: Step, state: StepState, outcome: Outcome, started: float, mutating: bool = True
    ) -> Transition:
        output_error = None
        if mutating and outcome.skipped_reason is None:
            output_error = self._outputs_after_change(step, state, outcome)
        else:
            self._capture_outputs(step, state, outcome.result, outcome.outputs)
        state.result, state.changed = outcome.result, outcome.changed and outcome.skipped_reason is None
        state.duration = time.monotonic() - started
        if outcome.skipped_reason:
            state.status, state.summary = StepStatus.SKIPPED, outcome.skipped_reason
            skipped = ev.StepSkipped(outcome.skipped_reason, outcome.result, state.outputs, state.duration)
            move = self._end(step, skipped, ok=True, durable=mutating)
        else:
            state.status, state.summary = StepStatus.OK, outcome.summary
            done = ev.StepSucceeded(
                outcome.summary, outcome.result, state.outputs, state.changed, state.duration, output_error
            )
            move = self._end(step, done, ok=True, durable=mutating, chosen=outcome.goto)
        self.reporter.step_finished(step, state)
        if output_error is not None:
            raise _Paused(step, f"{step.id} made its change, but its outputs could not be captured: {output_error}",
                          "outputs")
        return move

    def _skip(self, step: Step, state: StepState, reason: str) -> Transition:
        state.status, state.summary = StepStatus.SKIPPED, reason
        move = self._end(step, ev.StepSkipped(reason), ok=True, durable=False)
        self.reporter.step_finished(step, state)
        return move

    def _fail(self, step: Step, state: StepState, exc: Exception, started: float) -> Transition:
        state.status, state.duration = StepStatus.FAILED, time.monotonic() - started
        state.summary = self.redactor.text(str(exc))
        hint = getattr(exc, "hint", None)
        partial = getattr(exc, "result", None)
        # The result when the action has one: e.g. every host's output of a fan-out that failed on some.
        result = dict(partial) if isinstance(partial, Mapping) else None
        failed = ev.StepFailed(state.summary, hint, state.duration, type(exc).__name__, result)
        # Durable even for a read: where the run goes after a failure is a decision resume must follow.
        move = self._end(step, failed, ok=False, durable=True)
        self.reporter.step_finished(step, state)
        return move

    def _end(self, step: Step, ended: Payload, *, ok: bool, durable: bool, chosen: str | None = None) -> Transition:
        """Record how a step ended and where the run goes next, in one write (and one fsync when `durable`:
        after a change or a failure), before the responder is told: resume follows the transition. `chosen`:
        where a step whose action decides (a branch) sends the run."""
        self._event(ended, step)  # queued: the transition commits it
        move = transitions.after(self.runbook, step, ok, chosen)
        # Step ids and a reason only: nothing to redact.
        self.journal.append(
            self.options.run_id, ev.STEP_TRANSITION, step_id=step.id, data=move.payload().to_data(), durable=durable
        )
        return move

    # -- approval ---------------------------------------------------------------------------------------
    def _gate(self, step: Step, action: Action, params: Mapping[str, Any], mutating: bool) -> None:
        if not needs_gate(step, action, mutating):
            return
        from runner.engine import approvals, prompt
        from runner.identity import statement as signed_statement

        # What a signed approval must be for; only computed when approvals are signed.
        self._binding = (
            signed_statement.Binding(
                self.options.run_id, step.id, self.runbook.digest, signed_statement.params_digest(params)
            )
            if self.options.trust is not None
            else None
        )
        decision = self._decide(step)
        if decision.approved:
            return
        plan = self._safe_plan(action, params, step)
        self._asked(step)
        person = self.options.operator or self.options.initiator
        if self.options.interactive and approvals.prompt_can_satisfy(step, person, self.options.trust):
            self.reporter.approval_needed(step, plan, decision.why)
            timeout = step.approval.timeout if step.approval else None
            answer = prompt.ask_approval(self.reporter, step, person, action.waits_for_person, timeout)
            if answer.grant is not None:
                self._record_grant(step, answer.grant)
                if self._decide(step).approved:
                    return
            else:
                data = ev.StepDecision(answer.decision, self.redactor.text(answer.why)).to_data()
                self.journal.append(self.options.run_id, ev.STEP_DECISION, step_id=step.id, actor=person, data=data)
        self.scope.steps[step.id].status = StepStatus.AWAITING_APPROVAL
        self.reporter.approval_needed(step, plan, decision.why)
        raise _Paused(step, decision.why or "approval required")

    def _decide(self, step: Step) -> GateDecision:
        """Whether the approvals given so far open the gate; what did not count (and why) is said."""
        from runner.engine import approvals
        from runner.engine.approvals import Initiator

        who = Initiator(self.options.initiator, self.options.initiator_key)
        decision = approvals.evaluate_gate(step, self._grants(step), who, self.options.trust, self._binding)
        for line in decision.notes:
            self.reporter.note(line)
        return decision

    def _asked(self, step: Step) -> None:
        """With signed approvals: record what the gate asks to approve (what `fireline approve` signs)."""
        if self.options.trust is not None and self._binding is not None:
            from runner.identity.events import StepGate

            expiry = step.approval.timeout if step.approval else None
            self._event(StepGate(self._binding.params, expiry), step, durable=True)

    def _grants(self, step: Step) -> list[Grant]:
        """Approvals recorded in the journal for this step, plus pre-approvals given on the command line
        (recorded now, at the gate, so the journal shows what they were used for)."""
        from runner.engine import approvals

        recorded = [
            Grant(e.actor or "?", approved.reason, approved.via, approvals.signed_of(approved))
            for e in self.journal.events(self.options.run_id, (ev.STEP_APPROVED,))
            if e.step_id == step.id
            for approved in (ev.StepApproved.of(e),)
        ]
        pre = self.options.grants.get(step.id) or self.options.grants_all
        # One grant per person per step: a pre-approval carried into a resumed run is not recorded twice.
        if pre is not None and not approvals.already_given(recorded, pre, self._binding):
            recorded.append(self._record_grant(step, pre))
        return recorded

    def _record_grant(self, step: Step, grant: Grant) -> Grant:
        # With signed approvals, one given in this process is signed now, for exactly this change.
        from runner.engine import approvals

        reason = self.redactor.text(grant.reason)
        grant = approvals.signed_grant(grant, reason, self.options.trust, self.options.key, self._binding, step)
        self.journal.append(
            self.options.run_id,
            ev.STEP_APPROVED,
            step_id=step.id,
            actor=grant.actor,
            data=approvals.approved_payload(grant).to_data(),
            durable=True,
        )
        return grant

    def _safe_plan(self, action: Action, params: Mapping[str, Any], step: Step) -> Plan | None:
        # A user or system problem (no access, no connection) leaves the change unchecked; any other
        # exception is a bug in the action and surfaces as one.
        try:
            return action.plan(params, self._context(step))
        except FirelineError as exc:
            return Plan(Verdict.CANNOT_CHECK, f"could not preview: {self.redactor.text(str(exc))}")

    # -- rollback ---------------------------------------------------------------------------------------
    def _rollback(self, compensated: Set[str] = frozenset()) -> None:
        done: set[str] = set(compensated)  # compensated before a crash or pause, or skipped by the responder
        for step in reversed(self.completed):
            # "failed" here means the action ran and its verify failed: that change is compensated too.
            # A step that ran twice (goto) is compensated once.
            if step.rollback is None or step.id in done or self.scope.steps[step.id].status not in ("ok", "failed"):
                continue
            done.add(step.id)
            state = self.scope.steps[step.id]
            self.reporter.note(f"rolling back {step.id} ({step.rollback.action})")
            try:
                action = get_action(step.rollback.action)
                params = self._params(step.rollback.action, step.rollback.params, self.scope.context(state.result))
                self._event(ev.StepStarted(step.rollback.action, params, rollback=True), step, durable=True)
                outcome = self._attempts(step, action, params, step.rollback)
                state.status = StepStatus.ROLLED_BACK
                self._event(ev.StepRolledBack(outcome.summary, outcome.result), step, durable=True)
            except (FirelineError, TemplateError) as exc:
                self._event(ev.StepFailed(self.redactor.text(str(exc)), rollback=True), step, durable=True)
                self.reporter.note(f"rollback of {step.id} failed: {self.redactor.text(str(exc))}")

    # -- journal ----------------------------------------------------------------------------------------
    def _event(self, payload: Payload, step: Step, durable: bool = False) -> None:
        self.journal.append(
            self.options.run_id,
            payload.TYPE,
            step_id=step.id,
            actor=self.options.initiator,
            data=self.redactor.data(payload.to_data()),
            durable=durable,
        )
