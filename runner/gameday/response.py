"""A runbook run that responds to a game day: the game day's side of the link.

A run records only the id of its parent (`parent` in run.started) and keeps it when resumed. Whoever starts
or resumes a run calls these hooks — the game day itself for its automated response, the CLI for
`fireline run --gameday ID` and `fireline resume` — and the game day's timeline gets the response:
acknowledged and response.started when the run starts; one response.step per finished step and
response.finished whenever the run stops (paused, then again when a resume finishes it). Time to mitigate
is the first response.finished that succeeded, so it is measured after a pause and a resume too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runner.engine.runner import RunResult
from runner.errors import UsageError
from runner.gameday import events as gev
from runner.journal import events as ev
from runner.journal.events import Event
from runner.journal.store import Journal

_STEP_ENDS = {ev.STEP_SUCCEEDED: "ok", ev.STEP_FAILED: "failed", ev.STEP_SKIPPED: "skipped"}


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
    if not started:
        return None
    data = started[0].data
    # Runs recorded before the link was neutral named their game day under "gameday".
    parent = data.get("parent") or data.get("gameday")
    if not isinstance(parent, str) or not journal.events(parent, (gev.GAMEDAY_STARTED,)):
        return None
    return parent


def on_run_started(journal: Journal, gameday_id: str, run_id: str, runbook: str, actor: str) -> None:
    """A linked run is starting: it shows in the game day's timeline, and starting it acknowledges (unless a
    person already did)."""
    if not journal.events(gameday_id, (gev.ACKNOWLEDGED,)):
        journal.append(
            gameday_id, gev.ACKNOWLEDGED, actor=actor, data={"via": "runbook", "run_id": run_id}, durable=True
        )
    journal.append(
        gameday_id, gev.RESPONSE_STARTED, actor=actor, data={"run_id": run_id, "runbook": runbook}, durable=True
    )


def on_run_finished(journal: Journal, result: RunResult, parent: str | None = None) -> None:
    """A run stopped (finished or paused). When it responds to a game day (`parent`, or else the parent its
    run.started names), the steps it finished since the last record and its status go to the game day."""
    if result.status == "planned":
        return
    gameday_id = parent or parent_of(journal, result.run_id)
    if gameday_id is None:
        return
    recorded = journal.events(gameday_id, (gev.RESPONSE_STEP,))
    for step_id, data in _new_steps(journal.events(result.run_id), result.run_id, recorded):
        journal.append(gameday_id, gev.RESPONSE_STEP, step_id=step_id, data=data)
    journal.append(
        gameday_id, gev.RESPONSE_FINISHED, data={"run_id": result.run_id, "status": result.status}, durable=True
    )


def _new_steps(
    run_events: Sequence[Event], run_id: str, recorded: Sequence[Event]
) -> list[tuple[str, Mapping[str, Any]]]:
    """(step id, response.step data) for each step of the run that ended and is not yet in the game day's
    timeline: a resumed run reports only what it did after the pause."""
    seen = {(e.step_id, e.data.get("started_mono")) for e in recorded if e.data.get("run_id") == run_id}
    started: dict[str, float] = {}
    steps: list[tuple[str, Mapping[str, Any]]] = []
    for event in run_events:
        if event.step_id is None:
            continue
        if event.type == ev.STEP_STARTED and not event.data.get("rollback"):
            started[event.step_id] = event.ts_mono
        elif event.type in _STEP_ENDS and event.step_id in started:
            began = started.pop(event.step_id)
            if (event.step_id, began) in seen:
                continue
            data = {
                "run_id": run_id,
                "status": _STEP_ENDS[event.type],
                "started_mono": began,
                "ended_mono": event.ts_mono,
            }
            steps.append((event.step_id, data))
    return steps
