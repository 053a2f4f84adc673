"""`fireline runs list` and `fireline runs show RUN_ID` — the incident timeline."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from runner.errors import UsageError
from runner.journal.events import on_one_clock
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
    from runner.journal import events as ev

    journal = open_journal()
    rows: list[dict[str, Any]] = []
    for started in journal.first_events(ev.RUN_STARTED, limit):
        last = journal.last_event(started.run_id)
        status = _status(last.type if last else "", last.data if last else {})
        rows.append(
            {
                "run_id": started.run_id,
                "started": started.ts_wall,
                "runbook": started.data.get("name"),
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


def _status(last_type: str, data: Any) -> str:
    if last_type == "run.finished":
        return str(data.get("status"))
    if last_type == "run.paused":
        return "paused"
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
    click.echo(f"run {full_id}: {first.data.get('title') or first.data.get('name')} ({first.data.get('runbook')})")
    click.echo(f"started by {first.actor} at {first.ts_wall}; inputs: {json.dumps(first.data.get('inputs', {}))}")
    t0 = first.ts_mono
    for e in events[1:]:
        click.echo(f"  +{e.ts_mono - t0:8.3f}s  {_hms(e.ts_wall)}  {e.type:<20} {e.step_id or '':<24} {_describe(e)}")
    return 0


def _hms(ts: str) -> str:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").strftime("%H:%M:%S")


def _describe(e: Any) -> str:
    d = e.data
    if e.type == "step.approved":
        return f"by {e.actor} via {d.get('via')}: {d.get('reason')}"
    if e.type == "step.succeeded":
        out = f" outputs {json.dumps(d.get('outputs'))}" if d.get("outputs") else ""
        return f"{d.get('summary', '')} ({d.get('duration_s', 0):.3f}s){out}"
    if e.type == "step.failed":
        return str(d.get("error"))
    if e.type in ("step.skipped", "run.paused"):
        return str(d.get("reason") or d.get("why") or "")
    if e.type == "step.started":
        return (
            f"{d.get('action')}{' (mutating)' if d.get('mutating') else ''}{' rollback' if d.get('rollback') else ''}"
        )
    if e.type == "run.finished":
        return f"{d.get('status')} {d.get('message') or ''}"
    if e.type == "step.decision":
        return f"{d.get('decision')} by {e.actor}"
    if e.type == "step.transition":
        return f"-> {d.get('to') or 'end of run'} ({d.get('why')})"
    return ""
