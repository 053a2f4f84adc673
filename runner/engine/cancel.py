"""Ending a run that will not be continued: `fireline runs cancel`, and the refusals of a run that ended."""

from __future__ import annotations

from runner.engine import identities
from runner.errors import UsageError
from runner.identity.statement import Act
from runner.identity.trust import Signed
from runner.journal import events as ev
from runner.journal.events import RunStatus
from runner.journal.lease import hold
from runner.journal.store import Journal


class RunEnded(UsageError):
    """The run finished or was cancelled: nothing more can be approved, resumed or cancelled."""


def run_end(journal: Journal, run_id: str) -> ev.RunFinished | None:
    """How the run ended, or None while it can still go on (a resume after a finish reopens nothing: a
    finished run is never resumed, but older journals may hold a finish followed by a resume)."""
    last = None
    for event in journal.events(run_id, (ev.RUN_FINISHED, ev.RUN_RESUMED)):
        last = ev.RunFinished.of(event) if event.type == ev.RUN_FINISHED else None
    return last


def refuse_ended(journal: Journal, run_id: str, doing: str) -> None:
    end = run_end(journal, run_id)
    if end is None:
        return
    how = "was cancelled" if end.status == RunStatus.CANCELLED else f"already finished ({end.status})"
    raise RunEnded(
        f"cannot {doing}: run {run_id} {how}; nothing was written",
        hint=f"see `fireline runs show {run_id}`; start a new run with `fireline run`",
    )


def cancel_run(journal: Journal, run_id: str, actor: str, reason: str, signed: Signed | None) -> None:
    """End a paused or interrupted run for good, under its lease (refused while a process runs it)."""
    refuse_ended(journal, run_id, "cancel")
    with hold(journal, run_id, actor):
        refuse_ended(journal, run_id, "cancel")  # another process may have ended it while we waited
        if signed is not None:
            identities.record_signed(journal, run_id, Act.CANCEL, signed)
        journal.append(
            run_id,
            ev.RUN_FINISHED,
            actor=actor,
            data=ev.RunFinished(RunStatus.CANCELLED, f"cancelled by {actor}: {reason}").to_data(),
            durable=True,
        )


def unfinished_step(journal: Journal, run_id: str) -> str | None:
    """A step (or compensation) that started and never ended: cancelling does not say whether it took effect."""
    ends = (ev.STEP_SUCCEEDED, ev.STEP_FAILED, ev.STEP_SKIPPED, ev.STEP_ROLLED_BACK)
    open_step: str | None = None
    for event in journal.events(run_id, (ev.STEP_STARTED, *ends)):
        if event.type == ev.STEP_STARTED:
            open_step = event.step_id
        elif event.step_id == open_step:
            open_step = None
    return open_step
