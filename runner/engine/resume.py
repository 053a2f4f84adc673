"""Rebuilding a run from its journal: what finished, what was interrupted, where to go on."""

from __future__ import annotations

from dataclasses import dataclass

from runner.document.model import Runbook
from runner.engine.context import StepState
from runner.engine.transitions import Transition, Why, after_event
from runner.journal import events as ev
from runner.journal.events import Event, StepStatus


@dataclass(frozen=True)
class Replay:
    started: Event
    states: dict[str, StepState]
    next_index: int  # where the run stood; len(steps): past the last step (the run only has to finish)
    interrupted: str | None  # a step that started but never finished (crash or kill -9)
    finished: bool
    paused_at: str | None
    stopped_at: str | None = None  # a step whose failure ended the run (abort/rollback) before it finished
    rolling_back: bool = False  # stopped_at asked for compensation (on_failure: rollback)
    compensated: frozenset[str] = frozenset()  # steps whose compensation ran (or was tried, or skipped)
    open_rollback: str | None = None  # a compensation that started and never finished


def replay(runbook: Runbook, events: list[Event]) -> Replay:
    """Where the run stood: a step that started and never finished; else where the last transition
    pointed (derived from the last finished step when its transition never reached the journal)."""
    started = next(e for e in events if e.type == ev.RUN_STARTED)
    states: dict[str, StepState] = {}
    open_step: str | None = None
    open_mutating = False
    position = 0
    stopped_at: str | None = None
    rolling_back = False
    compensated: set[str] = set()
    open_rollback: str | None = None
    untransitioned: Event | None = None  # a step's end not yet followed by its transition
    finished = False
    paused_at: str | None = None
    for event in events:
        sid = event.step_id
        if event.type == ev.STEP_STARTED and sid:
            step_started = ev.StepStarted.of(event)
            if step_started.rollback:
                open_rollback = sid
            else:
                open_step, open_mutating = sid, step_started.mutating
        elif sid and _ends_compensation(event):
            compensated.add(sid)
            open_rollback = None if open_rollback == sid else open_rollback
        elif event.type in (ev.STEP_SUCCEEDED, ev.STEP_SKIPPED, ev.STEP_FAILED) and sid:
            states[sid] = _state(event)
            open_step = None if open_step == sid else open_step
            untransitioned = event
        elif event.type == ev.STEP_TRANSITION and sid:
            move = Transition.of(event)
            position, stopped_at, untransitioned = _index(runbook, move.to), _stopped(move), None
            rolling_back = move.why == Why.ROLLBACK
        elif event.type == ev.RUN_FINISHED:
            finished = True
        elif event.type == ev.RUN_PAUSED:
            paused_at = sid
        elif event.type == ev.RUN_RESUMED:
            finished, paused_at = False, None
    if untransitioned is not None:
        move = after_event(runbook, untransitioned)
        position, stopped_at = _index(runbook, move.to), _stopped(move)
        rolling_back = move.why == Why.ROLLBACK
    next_index = runbook.index_of(open_step) if open_step else position
    # Only a change that may have half-happened needs the responder's decision; a read runs again.
    interrupted = open_step if open_step and open_mutating else None
    if open_step:
        stopped_at = None
    return Replay(
        started,
        states,
        next_index,
        interrupted,
        finished,
        paused_at,
        stopped_at,
        rolling_back and stopped_at is not None,
        frozenset(compensated),
        open_rollback if stopped_at is not None else None,
    )


def _ends_compensation(event: Event) -> bool:
    return event.type == ev.STEP_ROLLED_BACK or (event.type == ev.STEP_FAILED and ev.StepFailed.of(event).rollback)


def _stopped(move: Transition) -> str | None:
    return move.step_id if move.why in (Why.ABORT, Why.ROLLBACK) else None


def _index(runbook: Runbook, step_id: str | None) -> int:
    return runbook.index_of(step_id) if step_id is not None else len(runbook.steps)


def _state(event: Event) -> StepState:
    """A finished step's state as the run had it (outputs and result feed later steps' templates)."""
    if event.type == ev.STEP_SUCCEEDED:
        done = ev.StepSucceeded.of(event)
        return StepState(
            status=StepStatus.OK,
            outputs=dict(done.outputs),
            result=done.result or {},
            changed=done.changed,
            duration=done.duration_s or 0.0,
            summary=done.summary,
        )
    if event.type == ev.STEP_SKIPPED:
        skipped = ev.StepSkipped.of(event)
        return StepState(
            status=StepStatus.SKIPPED,
            outputs=dict(skipped.outputs or {}),
            result=skipped.result or {},
            duration=skipped.duration_s or 0.0,
            summary=skipped.reason,
        )
    failed = ev.StepFailed.of(event)
    return StepState(
        status=StepStatus.FAILED,
        result=failed.result or {},
        duration=failed.duration_s or 0.0,
        summary=failed.error,
    )
