"""Starting a game day and recovering one after a crash."""

from __future__ import annotations

import secrets as pysecrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from runner.actions.base import ActionContext
from runner.engine.context import Connections, RunScope
from runner.engine.inputs import resolve_inputs
from runner.errors import UsageError
from runner.gameday import events as gev
from runner.gameday.faults import FAULTS
from runner.gameday.metrics import measure
from runner.gameday.run import GameDayResult, GameDayRun
from runner.journal.store import Journal
from runner.secrets import Redactor, resolve_secrets
from runner.spec.gameday import load_gameday


def new_gameday_id() -> str:
    return "gd-" + time.strftime("%Y%m%d-%H%M%S") + "-" + pysecrets.token_hex(2)


def run_gameday(
    path: Path, inputs: Mapping[str, Any], actor: str, journal: Journal, out: TextIO, gameday_id: str | None = None
) -> GameDayResult:
    gameday = load_gameday(path)
    redactor = Redactor()
    values = resolve_inputs(gameday.inputs, inputs)
    secrets = resolve_secrets(gameday.secrets, redactor)
    runner = GameDayRun(gameday, gameday_id or new_gameday_id(), journal, redactor, values, secrets, actor, out)
    return runner.execute()


def recover(gameday_id: str, actor: str, journal: Journal, out: TextIO) -> list[str]:
    """Revert every fault the journal says is still injected (after a kill -9). Idempotent."""
    events = journal.events(gameday_id)
    started = next((e for e in events if e.type == gev.GAMEDAY_STARTED), None)
    if started is None:
        raise UsageError(
            f"no game day {gameday_id!r} in the journal at {journal.path}", hint="see `fireline gameday history`"
        )
    gameday = load_gameday(Path(started.data["path"]))
    redactor = Redactor()
    secrets = resolve_secrets(gameday.secrets, redactor)
    scope = RunScope(dict(started.data.get("inputs") or {}), secrets, {"id": gameday_id})
    connections = Connections(gameday.connections, scope)
    reverted = {e.step_id for e in events if e.type == gev.FAULT_REVERTED and e.data.get("ok")}
    pending = {e.step_id: e for e in events if e.type == gev.FAULT_INJECTING and e.step_id not in reverted}
    done: list[str] = []
    try:
        for fault in reversed(gameday.faults):
            event = pending.get(fault.id)
            if event is None:
                continue
            ctx = ActionContext(fault.id, connections, redact=redactor.text)
            try:
                summary = FAULTS[fault.action].revert(
                    fault, event.data.get("params") or {}, event.data.get("state") or {}, ctx
                )
                ok = True
            except Exception as exc:
                summary, ok = f"REVERT FAILED: {exc}", False
            journal.append(
                gameday_id,
                gev.FAULT_REVERTED,
                step_id=fault.id,
                actor=actor,
                data=redactor.data({"ok": ok, "summary": summary, "why": "recover"}),
                durable=True,
            )
            out.write(redactor.text(f"fault {fault.id}: {summary}") + "\n")
            done.append(fault.id)
    finally:
        connections.close()
    if not any(e.type == gev.FINISHED for e in events):
        metrics = measure(journal.events(gameday_id), gameday.objectives)
        journal.append(
            gameday_id,
            gev.FINISHED,
            actor=actor,
            data={
                "status": "interrupted",
                "message": "recovered after the game day process died",
                "metrics": [m.as_dict() for m in metrics],
            },
            durable=True,
        )
    if not done:
        out.write("nothing to revert: every injected fault was already reverted\n")
    return done
