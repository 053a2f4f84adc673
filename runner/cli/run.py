"""`fireline run`, `plan`, `approve`, `resume`."""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from runner.cli.identity import key_option, policy_option
from runner.errors import UsageError
from runner.journal import events as ev
from runner.journal.store import open_journal

if TYPE_CHECKING:
    from runner.journal.store import Journal


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty() and not os.environ.get("CI")


def _inputs(pairs: tuple[str, ...], inputs_file: str | None) -> dict[str, Any]:
    from runner.engine.inputs import parse_assignments, read_inputs_file

    values: dict[str, Any] = read_inputs_file(Path(inputs_file)) if inputs_file else {}
    values.update(parse_assignments(pairs))
    return values


def _check_reason(approve: tuple[str, ...], approve_all: bool, reason: str | None) -> str:
    if (approve or approve_all) and not (reason and reason.strip()):
        raise UsageError("--approve and --approve-all need --reason", hint='e.g. --reason "INC-123: DB saturated"')
    return (reason or "").strip()


input_options = [
    click.option("-i", "--input", "input_pairs", multiple=True, metavar="KEY=VALUE", help="An input value."),
    click.option("--inputs-file", type=click.Path(exists=True, dir_okay=False), help="YAML/JSON file of inputs."),
    click.option(
        "--output",
        type=click.Choice(["auto", "plain", "json"]),
        default="auto",
        show_default=True,
        help="auto: live view on a terminal, plain lines otherwise.",
    ),
    click.option("--as", "actor", metavar="NAME", help="Who is running this (default: $FIRELINE_ACTOR or login)."),
]


def with_options(options: list[Any]) -> Callable[[Callable[..., int]], Callable[..., int]]:
    def decorate(fn: Callable[..., int]) -> Callable[..., int]:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


def _execute(
    runbook_path: str,
    input_pairs: tuple[str, ...],
    inputs_file: str | None,
    output: str,
    actor: str | None,
    *,
    dry_run: bool,
    no_reads: bool = False,
    approve: tuple[str, ...] = (),
    approve_all: bool = False,
    reason: str | None = None,
    gameday: str | None = None,
    key: str | None = None,
    policy: str | None = None,
    incident: str | None = None,
) -> int:
    from runner.cli.identity import signing
    from runner.cli.render import make_reporter
    from runner.document.runbook import load_runbook
    from runner.engine.session import StartRequest, current_actor, start_run
    from runner.secrets import Redactor

    reason_text = _check_reason(approve, approve_all, reason) if not dry_run else ""
    trust, key_path = signing(actor, key, policy) if not dry_run else (None, None)
    path = Path(runbook_path)
    runbook = load_runbook(path)
    from runner.cli import OWN_PROCESS

    if OWN_PROCESS.is_set():
        # Everything loaded so far (modules, the parsed runbook) lives as long as the process: keep the
        # cyclic collector from rescanning it at every full collection of a long run. Not when fireline
        # is called in-process (tests, embedding): there it would pin the caller's garbage too.
        gc.freeze()
    journal = open_journal()
    parent = _gameday(journal, gameday)
    incident_id = _incident(journal, incident)
    request = StartRequest(
        runbook_path=path,
        inputs=_inputs(input_pairs, inputs_file),
        initiator=current_actor(actor),
        dry_run=dry_run,
        no_reads=no_reads,
        interactive=_interactive() and not dry_run,
        approve_steps=approve,
        approve_all=approve_all,
        reason=reason_text,
        parent=parent,
        incident=incident_id,
        trust=trust,
        key=key_path,
    )
    redactor = Redactor()
    reporter = make_reporter(runbook, redactor, output, signed=trust is not None)
    witness = _Witness()
    with _interruptible(reporter, witness):
        on_started = _both(
            _linked(journal, parent, runbook.name, request.initiator) if not dry_run else None,
            _incident_link(journal, incident_id, runbook.name, request.initiator, dry_run, reporter),
        )
        watched = _mitigation_watch(journal, incident_id, runbook, request.initiator, reporter) if not dry_run else None
        result = start_run(request, runbook, witness.watch(watched or journal), reporter, redactor, on_started)
        if parent is not None:
            from runner.gameday.response import on_run_finished

            on_run_finished(journal, result, parent)
    reporter.finished(result)
    return result.exit_code


def _gameday(journal: Journal, gameday: str | None) -> str | None:
    """The full id of the game day `--gameday` names; a clear error when there is no such game day."""
    if gameday is None:
        return None
    from runner.gameday.response import resolve

    return resolve(journal, gameday)


def _incident(journal: Journal, incident: str | None) -> str | None:
    """The id of the incident `--incident` names, refused (before anything runs) when unknown or closed."""
    if incident is None:
        return None
    from runner.incident.links import open_incident

    return open_incident(journal, incident).id


def _incident_link(
    journal: Journal, incident_id: str | None, runbook: str, actor: str, dry_run: bool, reporter: Any
) -> Callable[[str], None] | None:
    """What records on the incident, once the run (or plan) is recorded, that it belongs to the incident."""
    if incident_id is None:
        return None
    from runner.incident.links import link
    from runner.incident.model import LinkKind

    def linked(run_id: str) -> None:
        link(journal, incident_id, run_id, LinkKind.PLAN if dry_run else LinkKind.RUNBOOK, runbook, actor)
        reporter.note(f"linked to incident {incident_id}: its timeline shows this {'plan' if dry_run else 'run'}")

    return linked


def _mitigation_watch(journal: Journal, incident_id: str | None, runbook: Any, actor: str, reporter: Any) -> Any:
    """For a runbook that says `metadata.mitigates: true` run for an incident: the journal, watched for the
    first production change that succeeds (it marks the incident mitigated). None otherwise."""
    if incident_id is None or not runbook.mitigates:
        return None
    from runner.incident.links import MitigationWatch

    return MitigationWatch(journal, incident_id, actor, reporter.note).watching()


def _incident_of(journal: Journal, run_id: str) -> str | None:
    """The incident a recorded run was started for (its run.started), if any."""
    started = journal.events(run_id, (ev.RUN_STARTED,))
    return ev.RunStarted.of(started[0]).incident if started else None


def _both(*hooks: Callable[[str], None] | None) -> Callable[[str], None] | None:
    """One on-started hook that calls each given one, in order."""
    present = [hook for hook in hooks if hook is not None]
    if not present:
        return None

    def started(run_id: str) -> None:
        for hook in present:
            hook(run_id)

    return started


def _linked(journal: Journal, parent: str | None, runbook: str, actor: str) -> Callable[[str], None] | None:
    """What tells the game day, once the run is recorded, that its response started."""
    if parent is None:
        return None
    from runner.gameday.response import on_run_started

    return functools.partial(on_run_started, journal, parent, runbook=runbook, actor=actor)


class _Witness:
    """Passes a journal through and notes the run this process starts in it, so that an interruption can
    say whether a run was recorded (and which) instead of guessing."""

    def __init__(self) -> None:
        self.journal: Any = None
        self.run_id: str | None = None
        self.dry_run = False

    def watch(self, journal: Journal) -> Journal:
        self.journal = journal
        return cast("Journal", self)

    def append(self, run_id: str, type_: str, **kwargs: Any) -> Any:
        if self.run_id is None and type_ in (ev.RUN_STARTED, ev.PLAN_STARTED):
            # Noted before the append: whether it was committed is asked of the journal afterwards.
            self.run_id, self.dry_run = run_id, type_ == ev.PLAN_STARTED
        return self.journal.append(run_id, type_, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.journal, name)

    def recorded(self) -> bool | None:
        """Whether the run was recorded; None when the journal cannot say."""
        if self.run_id is None:
            return False
        try:
            return bool(self.journal.events(self.run_id))  # reading also commits what is still queued
        except Exception:
            return None


@contextlib.contextmanager
def _interruptible(reporter: Any, witness: _Witness | None = None) -> Iterator[None]:
    """SIGTERM (a cancelled CI job, a killed pod) stops a run the way Ctrl-C does: recorded, resumable.
    What the user is told depends on what the journal holds: a paused run to resume, or nothing at all."""
    from runner.outcome import Interrupted

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_term) if main_thread else None
    try:
        yield
    except KeyboardInterrupt:
        if main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the account short
        reporter.close()
        click.echo("\n" + _interruption_account(reporter, witness), err=True)
        raise Interrupted from None
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _interruption_account(reporter: Any, witness: _Witness | None) -> str:
    if witness is None:  # resuming: the run exists
        run_id = getattr(reporter, "run_id", "") or "RUN_ID"
        return f"interrupted: run {run_id} is paused; continue with `fireline resume {run_id}`"
    recorded = witness.recorded()
    run_id = witness.run_id
    if recorded is None:
        return f"interrupted: the journal cannot say whether run {run_id} was recorded; see `fireline runs list`"
    if not recorded or run_id is None:
        return "interrupted before the run started: nothing was recorded, nothing was changed"
    if witness.dry_run:
        return f"interrupted: plan {run_id} stopped; nothing was changed"
    return (
        f"interrupted: run {run_id} is paused; see `fireline runs show {run_id}`, "
        f"continue with `fireline resume {run_id}`"
    )


@click.command()
@click.argument("runbook", type=click.Path(exists=True, dir_okay=False))
@with_options(input_options)
@click.option("--dry-run", is_flag=True, help="Same as `fireline plan`: change nothing.")
@click.option("--no-reads", is_flag=True, help="With --dry-run: do not run read-only steps either.")
@click.option("--approve", multiple=True, metavar="STEP", help="Pre-approve a step (repeatable). Needs --reason.")
@click.option("--approve-all", is_flag=True, help="Pre-approve every gated step. Needs --reason.")
@click.option("--reason", help="Why the pre-approval is given; recorded in the journal.")
@click.option("--gameday", metavar="ID", help="Link this run to a game day (manual response).")
@click.option("--incident", metavar="ID", help="Link this run to an open incident (its timeline shows the steps).")
@key_option
@policy_option
def run(
    runbook: str,
    input_pairs: tuple[str, ...],
    inputs_file: str | None,
    output: str,
    actor: str | None,
    dry_run: bool,
    no_reads: bool,
    approve: tuple[str, ...],
    approve_all: bool,
    reason: str | None,
    gameday: str | None,
    incident: str | None,
    key: str | None,
    policy: str | None,
) -> int:
    """Run RUNBOOK step by step. Mutating steps wait for approval; without a terminal and without
    --approve the run pauses (exit 3) and says how to approve it."""
    return _execute(
        runbook,
        input_pairs,
        inputs_file,
        output,
        actor,
        dry_run=dry_run,
        no_reads=no_reads,
        approve=approve,
        approve_all=approve_all,
        reason=reason,
        gameday=gameday,
        key=key,
        policy=policy,
        incident=incident,
    )


@click.command()
@click.argument("runbook", type=click.Path(exists=True, dir_okay=False))
@with_options(input_options)
@click.option("--no-reads", is_flag=True, help="Do not run read-only steps (they run by default).")
@click.option("--incident", metavar="ID", help="Link this plan to an open incident (its timeline shows it).")
def plan(
    runbook: str,
    input_pairs: tuple[str, ...],
    inputs_file: str | None,
    output: str,
    actor: str | None,
    no_reads: bool,
    incident: str | None,
) -> int:
    """Dry-run RUNBOOK: each step's verdict (would-change, read, cannot-check). Nothing is written."""
    return _execute(
        runbook, input_pairs, inputs_file, output, actor, dry_run=True, no_reads=no_reads, incident=incident
    )


@click.command()
@click.argument("run_id")
@click.argument("step")
@click.option("--as", "actor", metavar="NAME", help="Who approves, when identities are not verified by key.")
@click.option("--reason", required=True, help="Why; recorded in the journal (and signed).")
@key_option
@policy_option
def approve(run_id: str, step: str, actor: str | None, reason: str, key: str | None, policy: str | None) -> int:
    """Approve STEP of a paused run RUN_ID (then `fireline resume RUN_ID`). With an allowed-signers file the
    approval is signed with your SSH key for exactly the change the step waits to make."""
    from runner.cli.identity import signing
    from runner.engine.cancel import refuse_ended
    from runner.engine.session import current_actor, load_for_resume
    from runner.engine.signed_approval import approval_grant

    if not reason.strip():
        raise UsageError("--reason needs a reason", hint='e.g. --reason "INC-123: DB saturated"')
    journal = open_journal()
    full_id = journal.find_run(run_id) or run_id
    refuse_ended(journal, full_id, f"approve {step}")
    runbook = load_for_resume(full_id, journal)
    if step not in {s.id for s in runbook.steps}:
        raise UsageError(f"run {full_id} has no step {step!r}", hint="steps: " + ", ".join(s.id for s in runbook.steps))
    trust, key_path = signing(actor, key, policy)
    who = current_actor(actor) if trust is None else ""
    grant = approval_grant(journal, full_id, runbook, step, reason.strip(), who, trust, key_path)
    from runner.engine.approvals import approved_payload

    journal.append(
        full_id, ev.STEP_APPROVED, step_id=step, actor=grant.actor, data=approved_payload(grant).to_data(), durable=True
    )
    how = f"signed by {grant.actor} ({grant.signed.fingerprint})" if grant.signed else f"as {grant.actor} (unverified)"
    click.echo(f"approved {step} of run {full_id} {how}. Continue with: fireline resume {full_id}")
    return 0


@click.command()
@click.argument("run_id")
@click.option("--retry-step", is_flag=True, help="Run the interrupted step again.")
@click.option("--skip-step", is_flag=True, help="Treat the interrupted step as done and go on.")
@click.option("--approve", multiple=True, metavar="STEP", help="Pre-approve a step (repeatable). Needs --reason.")
@click.option("--approve-all", is_flag=True, help="Pre-approve every remaining gated step. Needs --reason.")
@click.option("--reason", help="Why the pre-approval is given.")
@click.option("--output", type=click.Choice(["auto", "plain", "json"]), default="auto", show_default=True)
@click.option("--as", "actor", metavar="NAME")
@click.option("--wait", is_flag=True, help="If another process is running this run, wait for it, then continue.")
@key_option
@policy_option
def resume(
    run_id: str,
    retry_step: bool,
    skip_step: bool,
    approve: tuple[str, ...],
    approve_all: bool,
    reason: str | None,
    output: str,
    actor: str | None,
    wait: bool,
    key: str | None,
    policy: str | None,
) -> int:
    """Continue RUN_ID after a pause or a crash. Completed steps are not run again; a mutating step that
    was interrupted is re-run only if it is idempotent or you say --retry-step. One process at a time runs
    a run: while another one does, this refuses (or, with --wait, waits for it)."""
    from runner.cli.identity import signing
    from runner.cli.render import make_reporter
    from runner.engine.cancel import refuse_ended
    from runner.engine.identities import require_signatures
    from runner.engine.session import ResumeRequest, current_actor, identify_resume, load_for_resume, resume_run
    from runner.journal.lease import hold
    from runner.secrets import Redactor

    if retry_step and skip_step:
        raise UsageError("choose one of --retry-step and --skip-step")
    journal = open_journal()
    full_id = journal.find_run(run_id) or run_id
    journal.require_intact(full_id, "resume it")  # what is replayed must be what was recorded
    refuse_ended(journal, full_id, "resume")
    runbook = load_for_resume(full_id, journal)
    trust, key_path = signing(actor, key, policy)
    require_signatures(journal, full_id, trust, "resume it")
    request = ResumeRequest(
        full_id,
        current_actor(actor if trust is None else None),
        _interactive(),
        retry_step,
        skip_step,
        approve,
        approve_all,
        _check_reason(approve, approve_all, reason),
        trust=trust,
        key=key_path,
    )
    request = identify_resume(request, runbook)
    # Held before the journal is replayed: what this process continues is what the previous owner left.
    with hold(journal, full_id, request.actor, wait=wait):
        redactor = Redactor()
        reporter = make_reporter(runbook, redactor, output, signed=trust is not None)
        with _interruptible(reporter):
            # A run linked to an incident stays linked: a change it makes after the pause can mitigate it.
            watched = _mitigation_watch(journal, _incident_of(journal, full_id), runbook, request.actor, reporter)
            result = resume_run(request, runbook, watched or journal, reporter, redactor)
            # A run responding to a game day keeps its link: its end counts for the game day after a pause too.
            from runner.gameday.response import on_run_finished

            on_run_finished(journal, result)
    reporter.finished(result)
    return result.exit_code
