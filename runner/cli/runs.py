"""`fireline runs list` and `fireline runs show RUN_ID` — the incident timeline."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from runner.errors import UsageError
from runner.journal import events as ev
from runner.journal.events import Event, RunStatus, decode, on_one_clock
from runner.journal.store import open_journal


@click.group()
def runs() -> None:
    """Runs recorded in the journal."""


@runs.command("list")
# SQLite holds 64-bit integers; a bigger number would be an internal error, so the range is said up front.
@click.option("--limit", type=click.IntRange(1, 100_000), default=20, show_default=True, help="How many runs.")
@click.option("--json", "as_json", is_flag=True)
def list_runs(limit: int, as_json: bool) -> int:
    """Recent runs, newest first, with their status."""
    journal = open_journal()
    rows: list[dict[str, Any]] = []
    for started in journal.first_events(ev.RUN_STARTED, limit):
        last = journal.last_event(started.run_id)
        status = _status(last) if last else "running?"
        rows.append(
            {
                "run_id": started.run_id,
                "started": started.ts_wall,
                "runbook": ev.RunStarted.of(started).name,
                "initiator": started.actor,
                "status": status,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif not rows:
        click.echo(f"no runs in {journal.location}")
    for row in [] if as_json else rows:
        click.echo(
            f"{row['run_id']}  {row['started'][:19]}  {row['status']:<9} {row['runbook']}  by {row['initiator']}"
        )
    return 0


def _status(last: Event) -> str:
    if last.type == ev.RUN_FINISHED:
        return str(ev.RunFinished.of(last).status)
    if last.type == ev.RUN_PAUSED:
        return str(RunStatus.PAUSED)
    return "running?"  # started and never finished: running now, or crashed (resume it)


@runs.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True)
def show(run_id: str, as_json: bool) -> int:
    """The timeline of one run: what ran, who approved, outputs, durations."""
    journal = open_journal()
    full_id = journal.find_run(run_id) or run_id
    events = on_one_clock(journal.events(full_id))
    if not events:
        raise UsageError(f"no run {run_id!r} in the journal at {journal.location}", hint="see `fireline runs list`")
    if as_json:
        click.echo(
            json.dumps(
                {
                    "run_id": full_id,
                    "events": [
                        {
                            "seq": e.seq,
                            "ts": e.ts_wall,
                            "type": e.type,
                            "step_id": e.step_id,
                            "actor": e.actor,
                            "data": e.data,
                        }
                        for e in events
                    ],
                },
                indent=2,
                default=str,
            )
        )
        return 0
    first = events[0]
    started = decode(first)
    if isinstance(started, ev.RunStarted):  # a plan.started too
        click.echo(f"run {full_id}: {started.title or started.name} ({started.runbook})")
        click.echo(f"started by {first.actor} at {first.ts_wall}; inputs: {json.dumps(started.inputs)}")
    else:  # a journal whose first event of this run is not its start (a damaged or hand-made one)
        click.echo(f"run {full_id}: {first.type}")
    t0 = first.ts_mono
    for e in events[1:]:
        click.echo(f"  +{e.ts_mono - t0:8.3f}s  {_hms(e.ts_wall)}  {e.type:<20} {e.step_id or '':<24} {_describe(e)}")
    return 0


def _hms(ts: str) -> str:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").strftime("%H:%M:%S")


def _describe(e: Event) -> str:
    p = decode(e)
    if isinstance(p, ev.StepApproved):
        return f"by {e.actor} via {p.via}: {p.reason}"
    if isinstance(p, ev.StepSucceeded):
        out = f" outputs {json.dumps(p.outputs, default=str)}" if p.outputs else ""
        return f"{p.summary} ({p.duration_s or 0:.3f}s){out}"
    if isinstance(p, ev.StepFailed):
        return p.error
    if isinstance(p, ev.StepSkipped):
        return p.reason
    if isinstance(p, ev.RunPaused):
        return p.reason or p.why
    if isinstance(p, ev.StepStarted):
        return f"{p.action} rollback" if p.rollback else f"{p.action}{' (mutating)' if p.mutating else ''}"
    if isinstance(p, ev.RunFinished):
        return f"{p.status} {p.message}"
    if isinstance(p, ev.StepDecision):
        return f"{p.decision} by {e.actor}"
    if isinstance(p, ev.StepTransition):
        return f"-> {p.to or 'end of run'} ({p.why})"
    return ""
