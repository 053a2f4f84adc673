"""Starting and resuming runs: the glue between a runbook file, the journal and the engine."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner import __version__
from runner.actions.registry import get_action
from runner.document.diagnostics import DocumentInvalid
from runner.document.model import Runbook
from runner.document.runbook import load_runbook
from runner.engine import transitions
from runner.engine.context import RunScope, StepState
from runner.engine.gating import Grant
from runner.engine.inputs import resolve_inputs
from runner.engine.runner import Engine, Reporter, RunOptions, RunResult
from runner.errors import FirelineError, UsageError
from runner.identity.acts import Act
from runner.journal import events as ev
from runner.journal.events import StepStatus
from runner.journal.store import Journal
from runner.secrets import Redactor, resolve_secrets

# What only some of the commands use is imported where it is used: the planner (a plan), signing and the
# run's lease (a run, not a plan), the journal's replay (a resume).
if TYPE_CHECKING:
    from runner.identity.trust import Signed, Trust


def new_run_id() -> str:
    # os.urandom, as secrets.token_hex does, without loading `secrets` (and hmac, random) at every start.
    return time.strftime("%Y%m%d-%H%M%S") + "-" + os.urandom(3).hex()


def current_actor(explicit: str | None = None) -> str:
    if explicit is not None and not explicit.strip():
        raise UsageError("--as needs a name: an empty or blank one identifies nobody")
    named = (explicit or "").strip() or os.environ.get("FIRELINE_ACTOR", "").strip()
    if named:
        return named
    import getpass  # the login name, asked only when no one is named (it loads termios)

    return getpass.getuser()


@dataclass(frozen=True)
class StartRequest:
    """What `fireline run` and `fireline plan` ask for: the runbook, its inputs, who starts it."""

    runbook_path: Path
    inputs: Mapping[str, Any]
    initiator: str
    dry_run: bool = False
    no_reads: bool = False
    interactive: bool = False
    approve_steps: tuple[str, ...] = ()
    approve_all: bool = False
    reason: str = ""
    # The id of what this run is part of (a game day's response), recorded in run.started
    # and kept on resume. The engine only carries it: the parent's package links the run to itself.
    parent: str | None = None
    # The incident the run responds to (`--incident`), recorded in run.started and kept on resume; the
    # incident package links it (the engine only carries the id).
    incident: str | None = None
    # Verified identities: the allowed signers in force and the initiator's key (None: names are typed).
    trust: Trust | None = None
    key: Path | None = None


# Called with the run's id once run.started (or plan.started) is recorded, before the first step: how a parent
# (a game day, an incident) learns the id of the run it is waiting for without the engine knowing what it is.
OnStarted = Callable[[str], None]


def start_run(
    request: StartRequest,
    runbook: Runbook,
    journal: Journal,
    reporter: Reporter,
    redactor: Redactor,
    on_started: OnStarted | None = None,
) -> RunResult:
    """A new run, its lease held from before its first event until it stops (one owner per run)."""
    run_id = new_run_id()
    if request.dry_run:
        return _start_run(request, runbook, journal, reporter, redactor, run_id, on_started)
    from runner.engine import identities
    from runner.journal.lease import hold

    signed = identities.sign_or_refuse(request.trust, request.key, Act.START, run_id, runbook, request.reason, "run")
    if signed is not None:
        request = replace(request, initiator=signed.principal)
    with hold(journal, run_id, request.initiator):
        return _start_run(request, runbook, journal, reporter, redactor, run_id, on_started, signed)


def _start_run(
    request: StartRequest,
    runbook: Runbook,
    journal: Journal,
    reporter: Reporter,
    redactor: Redactor,
    run_id: str,
    on_started: OnStarted | None,
    signed: Signed | None = None,
) -> RunResult:
    unknown = [s for s in request.approve_steps if s not in {st.id for st in runbook.steps}]
    if unknown:
        raise UsageError(
            f"--approve names unknown step(s): {', '.join(unknown)}",
            hint="step ids: " + ", ".join(s.id for s in runbook.steps),
        )
    inputs = resolve_inputs(runbook.inputs, request.inputs)
    missing: list[str] | None = [] if request.dry_run else None
    secret_values = resolve_secrets(runbook.secrets, redactor, missing)
    options = RunOptions(
        run_id=run_id,
        initiator=request.initiator,
        dry_run=request.dry_run,
        no_reads=request.no_reads,
        interactive=request.interactive,
        **_grants(request.approve_steps, request.approve_all, request.initiator, request.reason),
        trust=request.trust,
        key=request.key,
        initiator_key=signed.fingerprint if signed is not None else "",
    )
    journal.append(
        run_id,
        ev.PLAN_STARTED if request.dry_run else ev.RUN_STARTED,
        actor=request.initiator,
        data=redactor.data(
            (ev.PlanStarted if request.dry_run else ev.RunStarted)(
                runbook=str(request.runbook_path.resolve()),
                name=runbook.name,
                title=runbook.title,
                digest=runbook.digest,
                inputs=inputs,
                dry_run=request.dry_run,
                approve=request.approve_steps,
                approve_all=request.approve_all,
                reason=request.reason,
                parent=request.parent,
                version=__version__,
                initiator=request.initiator,
                steps=tuple(s.id for s in runbook.steps),
                incident=request.incident,
            ).to_data()
        ),
        durable=True,
    )
    if signed is not None:
        from runner.engine import identities

        identities.record_signed(journal, run_id, Act.START, signed)
    scope = RunScope(
        inputs,
        secret_values,
        {"id": run_id, "initiator": request.initiator, "dry_run": request.dry_run, "parent": request.parent},
    )
    engine_type = Engine
    if request.dry_run:
        from runner.engine.plan import Planner

        engine_type = Planner
    reporter.header(run_id, request.dry_run)
    if missing:
        reporter.note(f"secrets not available here: {', '.join(missing)}; steps that need them cannot be checked")
    if on_started is not None:
        on_started(run_id)
    return engine_type(runbook, scope, journal, reporter, options, redactor).execute()


def _grants(steps: tuple[str, ...], all_steps: bool, actor: str, reason: str) -> dict[str, Any]:
    via = "--approve-all" if all_steps else "--approve"
    grant = Grant(actor, reason, via)
    return {"grants_all": grant if all_steps else None, "grants": {s: Grant(actor, reason, "--approve") for s in steps}}


@dataclass(frozen=True)
class ResumeRequest:
    """What `fireline resume` asks for: the run, who resumes it, and what to do with its step."""

    run_id: str
    actor: str
    interactive: bool = False
    retry_step: bool = False
    skip_step: bool = False
    approve_steps: tuple[str, ...] = ()
    approve_all: bool = False
    reason: str = ""
    trust: Trust | None = None
    key: Path | None = None
    signed: Signed | None = None  # the resume, signed (identify_resume): `actor` is its verified principal


def identify_resume(request: ResumeRequest, runbook: Runbook) -> ResumeRequest:
    """Who resumes (see identities.sign_or_refuse), before the run's lease is taken."""
    from runner.engine import identities

    signed = identities.sign_or_refuse(
        request.trust, request.key, Act.RESUME, request.run_id, runbook, request.reason, "resume"
    )
    return request if signed is None else replace(request, actor=signed.principal, signed=signed)


def load_for_resume(run_id: str, journal: Journal) -> Runbook:
    """The run's runbook, refusing when it changed since the run started."""
    start = next(iter(journal.events(run_id, (ev.RUN_STARTED,))), None)
    if start is None:
        raise UsageError(f"no run {run_id!r} in the journal at {journal.location}", hint="see `fireline runs list`")
    started = ev.RunStarted.of(start)
    path = Path(started.runbook)
    if not path.exists():
        raise UsageError(f"the runbook {path} of run {run_id} no longer exists")
    # Compared on the bytes actually parsed (no window between checking and loading). The runbook was
    # valid when the run started, so one that no longer validates has changed too.
    try:
        runbook: Runbook | None = load_runbook(path)
    except DocumentInvalid:
        runbook = None
    if runbook is None or runbook.digest != started.digest:
        raise FirelineError(
            f"the runbook {path} changed since run {run_id} started; refusing to resume",
            hint="start a new run with `fireline run` (a resumed run must do what was approved)",
        )
    return runbook


def resume_run(
    request: ResumeRequest, runbook: Runbook, journal: Journal, reporter: Reporter, redactor: Redactor
) -> RunResult:
    from runner.engine import identities
    from runner.engine.resume import replay

    events = journal.events(request.run_id)
    state = replay(runbook, events)
    started = ev.RunStarted.of(state.started)
    if state.finished:
        raise UsageError(f"run {request.run_id} already finished", hint="`fireline runs show " + request.run_id + "`")
    inputs = dict(started.inputs)
    secret_values = resolve_secrets(runbook.secrets, redactor)
    initiator = state.started.actor or request.actor
    options = RunOptions(
        run_id=request.run_id,
        initiator=initiator,
        interactive=request.interactive,
        operator=request.actor,  # the prompt credits who resumed the run, not who started it
        **_resume_grants(started, request),
        trust=request.trust,
        key=request.key,
        initiator_key=identities.initiator_key(events),
    )
    scope = RunScope(
        inputs,
        secret_values,
        {"id": request.run_id, "initiator": initiator, "dry_run": False, "parent": started.parent},
    )
    scope.steps.update(state.states)
    start = state.next_index
    compensated = set(state.compensated)
    if state.interrupted is not None:
        start = _decide_interrupted(runbook, state.interrupted, request, journal, scope, reporter)
    elif state.open_rollback is not None:
        compensated |= _decide_compensation(runbook, state.open_rollback, request, journal, reporter)
    reporter.header(request.run_id, False)
    journal.append(
        request.run_id,
        ev.RUN_RESUMED,
        actor=request.actor,
        data=ev.RunResumed(_step_at(runbook, start)).to_data(),
        durable=True,
    )
    if request.signed is not None:
        identities.record_signed(journal, request.run_id, Act.RESUME, request.signed)
    _note_missing_outputs(events, state.paused_at, reporter)
    engine = Engine(runbook, scope, journal, reporter, options, redactor)
    engine.completed = [s for s in runbook.steps if scope.steps.get(s.id, StepState()).status == StepStatus.OK]
    if state.stopped_at is not None:
        # A failure had already ended the run: what is left is the compensation it asked for (when a crash or
        # a pause cut that short) and the run's end.
        return engine.conclude(runbook.step(state.stopped_at), state.rolling_back, compensated)
    return engine.execute(start)


def _note_missing_outputs(events: list[ev.Event], paused_at: str | None, reporter: Reporter) -> None:
    """A run paused because a step made its change and some of its outputs could not be captured goes on
    after that step (it is never run again): the responder is told which outputs stay missing."""
    for event in reversed(events):
        if event.type == ev.STEP_SUCCEEDED and event.step_id == paused_at:
            missing = ev.StepSucceeded.of(event).output_error
            if missing:
                reporter.note(f"{paused_at} made its change and is not run again; going on after it without "
                              f"these outputs (a step that uses one fails): {missing}")
            return


def _resume_grants(started: ev.RunStarted, request: ResumeRequest) -> dict[str, Any]:
    # Pre-approvals given when the run started still hold; new ones come from whoever resumes.
    original = _grants(started.approve, started.approve_all, started.initiator, started.reason)
    original["grants"] = {k: Grant(v.actor, v.reason, "--approve (at start)") for k, v in original["grants"].items()}
    if request.trust is not None:
        # Signed approvals are signed at the gate by whoever holds the key here: the initiator's
        # pre-approvals of steps not reached yet cannot be signed by someone else.
        original = {"grants_all": None, "grants": {}}
    if not (request.approve_steps or request.approve_all):
        return original
    fresh = _grants(request.approve_steps, request.approve_all, request.actor, request.reason)
    return {
        "grants_all": fresh["grants_all"] or original["grants_all"],
        "grants": {**original["grants"], **fresh["grants"]},
    }


class NeedsDecision(FirelineError):
    exit_code = 3


def _decide_interrupted(
    runbook: Runbook, step_id: str, request: ResumeRequest, journal: Journal, scope: RunScope, reporter: Reporter
) -> int:
    """A step started and never finished: the change may or may not have happened. Re-run only what is
    safe to repeat; otherwise the responder decides."""
    step = runbook.step(step_id)
    action = get_action(step.action)
    idempotent = action.is_idempotent(step.params)
    if request.retry_step or (idempotent and not request.skip_step):
        why = "--retry-step" if request.retry_step else "the action is idempotent"
        journal.append(
            request.run_id,
            ev.STEP_DECISION,
            step_id=step_id,
            actor=request.actor,
            data=ev.StepDecision("retry", why).to_data(),
            durable=True,
        )
        reporter.note(f"step {step_id} was interrupted; running it again ({why})")
        return step.index
    if request.skip_step:
        journal.append(
            request.run_id,
            ev.STEP_DECISION,
            step_id=step_id,
            actor=request.actor,
            data=ev.StepDecision("skip").to_data(),
            durable=True,
        )
        journal.append(
            request.run_id,
            ev.STEP_SKIPPED,
            step_id=step_id,
            actor=request.actor,
            data=ev.StepSkipped("interrupted; skipped by the responder (--skip-step)").to_data(),
        )
        move = transitions.after(runbook, step, succeeded=True)
        data = move.payload().to_data()
        journal.append(request.run_id, ev.STEP_TRANSITION, step_id=step_id, data=data, durable=True)
        scope.steps[step_id] = StepState(status=StepStatus.SKIPPED, summary="skipped after interruption")
        reporter.note(f"step {step_id} was interrupted; skipping it (--skip-step)")
        return step.index + 1
    raise NeedsDecision(
        f"step {step_id!r} ({step.action}) started but never finished: it may or may not have changed something",
        hint=f"check the system, then `fireline resume {request.run_id} --retry-step` to run it again "
        f"or `--skip-step` if it already took effect",
    )


def _decide_compensation(
    runbook: Runbook, step_id: str, request: ResumeRequest, journal: Journal, reporter: Reporter
) -> set[str]:
    """A compensation started and never finished (a crash, or work that could not be stopped): decided like
    an interrupted step. Returns the steps whose compensation is now settled."""
    rollback = runbook.step(step_id).rollback
    if rollback is None:
        return set()
    idempotent = get_action(rollback.action).is_idempotent(rollback.params)
    if request.retry_step or (idempotent and not request.skip_step):
        why = "--retry-step" if request.retry_step else "the action is idempotent"
        data = ev.StepDecision("retry", why, rollback=True).to_data()
        journal.append(request.run_id, ev.STEP_DECISION, step_id=step_id, actor=request.actor, data=data, durable=True)
        reporter.note(f"the rollback of {step_id} was interrupted; running it again ({why})")
        return set()
    if request.skip_step:
        data = ev.StepDecision("skip", rollback=True).to_data()
        journal.append(request.run_id, ev.STEP_DECISION, step_id=step_id, actor=request.actor, data=data)
        journal.append(
            request.run_id,
            ev.STEP_ROLLED_BACK,
            step_id=step_id,
            actor=request.actor,
            data=ev.StepRolledBack("interrupted; skipped by the responder (--skip-step)", skipped=True).to_data(),
            durable=True,
        )
        reporter.note(f"the rollback of {step_id} was interrupted; treating it as done (--skip-step)")
        return {step_id}
    raise NeedsDecision(
        f"the rollback of step {step_id!r} ({rollback.action}) started but never finished: it may or may not "
        "have undone the change",
        hint=f"check the system, then `fireline resume {request.run_id} --retry-step` to run the rollback again "
        f"or `--skip-step` if it already took effect",
    )


def _step_at(runbook: Runbook, index: int) -> str | None:
    return runbook.steps[index].id if index < len(runbook.steps) else None
