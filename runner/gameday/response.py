"""A runbook run that responds to a game day: the game day's side of the link.

A run records only the id of its parent (`parent` in run.started) and keeps it when resumed. Whoever starts
or resumes a run calls these hooks — the game day itself for its automated response, the CLI for
`fireline run --gameday ID` and `fireline resume` — and the game day's timeline gets the response:
acknowledged and response.started when the run starts; one response.step per finished step and
response.finished whenever the run stops (paused, then again when a resume finishes it). Time to mitigate
is the first response.finished that succeeded, so it is measured after a pause and a resume too.
"""

from __future__ import annotations

from collections.abc import Sequence

from runner.engine.runner import RunResult
from runner.errors import UsageError
from runner.gameday import events as gev
from runner.journal import events as ev
from runner.journal.events import Event, StepStatus
from runner.journal.store import Journal

_STEP_ENDS = {ev.STEP_SUCCEEDED: StepStatus.OK, ev.STEP_FAILED: StepStatus.FAILED, ev.STEP_SKIPPED: StepStatus.SKIPPED}


def resolve(journal: Journal, gameday_id: str) -> str:
    """The full id of the game day `gameday_id` names (a unique prefix will do); a clear error when the
    journal holds no such game day, before a run is linked to nothing."""
    full = journal.find_run(gameday_id) or gameday_id
    if not journal.events(full, (gev.GAMEDAY_STARTED,)):
        raise UsageError(
            f"no game day {gameday_id!r} in the journal at {journal.location}", hint="see `fireline gameday history`"
        )
    return full


def parent_of(journal: Journal, run_id: str) -> str | None:
    """The game day run `run_id` responds to, from its run.started; None when it responds to none."""
    started = journal.events(run_id, (ev.RUN_STARTED,))
    parent = ev.RunStarted.of(started[0]).parent if started else None
    if parent is None or not journal.events(parent, (gev.GAMEDAY_STARTED,)):
        return None
    return parent


def on_run_started(journal: Journal, gameday_id: str, run_id: str, runbook: str, actor: str) -> None:
    """A linked run is starting: it shows in the game day's timeline, and starting it acknowledges (unless a
    person already did)."""
    if not journal.events(gameday_id, (gev.ACKNOWLEDGED,)):
        acknowledged = gev.GameDayAcknowledged(via="runbook", run_id=run_id)
        journal.append(gameday_id, gev.ACKNOWLEDGED, actor=actor, data=acknowledged.to_data(), durable=True)
    started = gev.ResponseStarted(run_id, runbook)
    journal.append(gameday_id, gev.RESPONSE_STARTED, actor=actor, data=started.to_data(), durable=True)


def on_run_finished(journal: Journal, result: RunResult, parent: str | None = None) -> None:
    """A run stopped (finished or paused). When it responds to a game day (`parent`, or else the parent its
    run.started names), the steps it finished since the last record and its status go to the game day."""
    if result.status == "planned":
        return
    gameday_id = parent or parent_of(journal, result.run_id)
    if gameday_id is None:
        return
    recorded = journal.events(gameday_id, (gev.RESPONSE_STEP,))
    for step_id, step in _new_steps(journal.events(result.run_id), result.run_id, recorded):
        journal.append(gameday_id, gev.RESPONSE_STEP, step_id=step_id, data=step.to_data())
    finished = gev.ResponseFinished(result.run_id, result.status)
    journal.append(gameday_id, gev.RESPONSE_FINISHED, data=finished.to_data(), durable=True)


def _new_steps(
    run_events: Sequence[Event], run_id: str, recorded: Sequence[Event]
) -> list[tuple[str, gev.ResponseStep]]:
    """(step id, record) for each step of the run that ended and is not yet in the game day's timeline: a
    resumed run adds only what it did after the pause."""
    seen = set()
    for event in recorded:
        step = gev.ResponseStep.of(event)
        if step.run_id == run_id:
            seen.add((event.step_id, step.started_mono))
    started: dict[str, float] = {}
    approved: dict[str, list[gev.StepApproval]] = {}  # approvals given since the step last ended
    steps: list[tuple[str, gev.ResponseStep]] = []
    for event in run_events:
        if event.step_id is None:
            continue
        if event.type == ev.STEP_APPROVED:
            approved.setdefault(event.step_id, []).append(_approval(event))
        elif event.type == ev.STEP_STARTED and not ev.StepStarted.of(event).rollback:
            started[event.step_id] = event.ts_mono
        elif event.type in _STEP_ENDS and event.step_id in started:
            began = started.pop(event.step_id)
            approvals = tuple(approved.pop(event.step_id, ()))
            if (event.step_id, began) not in seen:
                status = _STEP_ENDS[event.type]
                steps.append((event.step_id, gev.ResponseStep(run_id, status, began, event.ts_mono, approvals)))
    return steps


def _approval(event: Event) -> gev.StepApproval:
    approved = ev.StepApproved.of(event)
    return gev.StepApproval(event.actor or "?", approved.via or "?", approved.reason, approved.principal is not None)
