"""Starting a game day and recovering one after a crash."""

from __future__ import annotations

import secrets as pysecrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from runner.actions.base import ActionContext
from runner.actions.faults import revert_fault
from runner.document.gameday import load_gameday
from runner.document.gameday_model import Fault
from runner.engine.context import Connections, RunScope
from runner.engine.inputs import resolve_inputs
from runner.errors import FirelineError, UsageError
from runner.gameday import events as gev
from runner.gameday.drill import Drill
from runner.gameday.metrics import measure
from runner.gameday.output import ReporterFactory
from runner.gameday.run import GameDayResult, GameDayRun
from runner.gameday.signals import deferred_signals
from runner.journal.lease import hold
from runner.journal.store import Journal
from runner.policy import policy_in_force
from runner.secrets import Redactor, SecretRef, resolve_secrets


def new_gameday_id() -> str:
    return "gd-" + time.strftime("%Y%m%d-%H%M%S") + "-" + pysecrets.token_hex(2)


def run_gameday(
    path: Path,
    inputs: Mapping[str, Any],
    actor: str,
    journal: Journal,
    out: TextIO,
    gameday_id: str | None = None,
    reporter: ReporterFactory | None = None,
) -> GameDayResult:
    """`reporter`: how the response runbook's progress is shown (the CLI passes its own)."""
    gameday = load_gameday(path)
    redactor = Redactor()
    values = resolve_inputs(gameday.inputs, inputs)
    secrets = resolve_secrets(gameday.secrets, redactor)
    policy = policy_in_force().digest  # a broken policy file is refused before anything is injected
    runner = GameDayRun(
        gameday, gameday_id or new_gameday_id(), journal, redactor, values, secrets, actor, out, reporter, policy
    )
    with hold(journal, runner.id, actor, what="game day"):  # `recover` refuses while this process runs it
        return runner.execute()


def recover(gameday_id: str, actor: str, journal: Journal, out: TextIO) -> list[str]:
    """Revert every fault the journal says is still injected (after a kill -9). Idempotent.

    Everything comes from the journal — the faults' parameters and recorded state, the connection templates,
    the secret references — so it works from any directory and even if the scenario file changed or moved.
    Each revert runs with Ctrl-C and SIGTERM deferred until it is recorded. A revert that fails is recorded
    and reported as an error (exit 1) once the others are done: running `recover` again retries it.
    """
    events = journal.events(gameday_id)
    start = next((e for e in events if e.type == gev.GAMEDAY_STARTED), None)
    if start is None:
        raise UsageError(
            f"no game day {gameday_id!r} in the journal at {journal.location}", hint="see `fireline gameday history`"
        )
    started = gev.GameDayStarted.of(start)
    redactor = Redactor()
    refs = _secret_refs(started)
    scope = RunScope(dict(started.inputs), resolve_secrets(refs, redactor), {"id": gameday_id})
    connections = Connections(started.connections, scope)
    reverted = {e.step_id for e in events if e.type == gev.FAULT_REVERTED and gev.FaultReverted.of(e).ok}
    pending = [
        (str(e.step_id), gev.FaultInjecting.of(e))
        for e in events
        if e.type == gev.FAULT_INJECTING and e.step_id not in reverted
    ]
    done: list[str] = []
    failed: list[str] = []
    again = f"run `fireline gameday recover {gameday_id}` again"
    try:
        for fault_id, injecting in reversed(pending):  # newest first, as the game day itself reverts
            fault = Fault(fault_id, injecting.action, injecting.params, injecting.revert, None)
            with deferred_signals(notice=f"fault {fault.id} is being reverted; recover stops after that"):
                ok = _recover_one(gameday_id, fault, injecting.state, connections, redactor, actor, journal, out)
            (done if ok else failed).append(fault.id)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM between two reverts
        out.write(f"interrupted: {len(pending) - len(done)} fault(s) may still be injected; {again}\n")
        raise
    finally:
        connections.close()
    if not any(e.type == gev.FINISHED for e in events):
        objectives = {k: float(v) for k, v in started.objectives.items()}
        metrics = measure(journal.events(gameday_id), objectives)
        finished = gev.GameDayFinished(
            gev.Status.INTERRUPTED,
            "recovered after the game day process died",
            tuple(m.record() for m in metrics),
        )
        journal.append(gameday_id, gev.FINISHED, actor=actor, durable=True, data=finished.to_data())
    _finish_drill(gameday_id, actor, journal, out, reverted=not failed)
    if failed:
        raise FirelineError(
            f"{len(failed)} fault(s) could not be reverted: {', '.join(failed)}", hint=f"fix the cause, then {again}"
        )
    if not done:
        out.write("nothing to revert: every injected fault was already reverted\n")
    return done


def _finish_drill(gameday_id: str, actor: str, journal: Journal, out: TextIO, *, reverted: bool) -> None:
    """The game day's drill incident after a crash: the one it opened (declared now if the crash came before
    its declaration, opened now if it came before the drill was), never a second; resolved once every fault
    is reverted. Nothing when no fault was ever injected."""
    with deferred_signals(notice="the drill incident is being updated; recover stops after that"):
        drill = Drill.open(journal, gameday_id, actor)
        if drill is not None:
            drill.finish(f"game day {gameday_id} recovered by `fireline gameday recover`: "
                         + ("every fault is reverted" if reverted else "a fault could not be reverted"),
                         reverted=reverted)
    if drill is not None:
        out.write(f"drill incident {drill.id}: {'resolved' if reverted else 'still open'}\n")


def _recover_one(
    gameday_id: str,
    fault: Fault,
    state: Mapping[str, Any],
    connections: Connections,
    redactor: Redactor,
    actor: str,
    journal: Journal,
    out: TextIO,
) -> bool:
    ctx = ActionContext(fault.id, connections, redact=redactor.text)
    ok, summary = revert_fault(fault, fault.params, state, ctx)
    data = redactor.data(gev.FaultReverted(ok, summary, "recover").to_data())
    journal.append(gameday_id, gev.FAULT_REVERTED, step_id=fault.id, actor=actor, durable=True, data=data)
    out.write(redactor.text(f"fault {fault.id}: {summary}") + "\n")
    return ok


def add_note(gameday_id: str, text: str, actor: str, journal: Journal) -> None:
    """Record an observation in a game day's timeline, with the game day's secrets masked: people paste
    tokens and connection strings into notes, and every report shows them."""
    started = journal.events(gameday_id, (gev.GAMEDAY_STARTED,))
    redactor = known_secrets(gev.GameDayStarted.of(started[0])) if started else Redactor()
    note = gev.GameDayNote(redactor.text(text))
    # Durable: the command says "noted" only once the note is on disk, where the running game day reads it.
    journal.append(gameday_id, gev.NOTE, actor=actor, data=note.to_data(), durable=True)


def known_secrets(started: gev.GameDayStarted) -> Redactor:
    """A redactor for the game day's secrets (resolved as the run resolves them, from the references its start
    recorded) that this environment can read. A secret it cannot read is skipped without a word: the note
    taker need not hold every credential, and a note must not fail for it."""
    redactor = Redactor()
    for name, ref in _secret_refs(started).items():
        try:
            resolve_secrets({name: ref}, redactor, missing=[])
        except UsageError:
            continue  # too short to be masked safely: the run itself refuses such a secret
    return redactor


def _secret_refs(started: gev.GameDayStarted) -> dict[str, SecretRef]:
    """The secret references (never values) that `gameday.started` recorded."""
    return {
        name: SecretRef(name, ref["from"], ref["key"], bool(ref.get("optional")))
        for name, ref in started.secrets.items()
    }
