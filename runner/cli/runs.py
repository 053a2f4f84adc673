"""`fireline runs list` and `fireline runs show RUN_ID` — the incident timeline."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from runner.cli.identity import key_option, policy_option
from runner.errors import UsageError
from runner.identity.events import RunSigned, StepGate
from runner.journal import events as ev
from runner.journal.events import Event, RunStatus, decode, on_one_clock
from runner.journal.store import open_journal

if TYPE_CHECKING:
    from runner.identity.trust import Trust


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
@policy_option
def show(run_id: str, as_json: bool, policy: str | None) -> int:
    """The timeline of one run: what ran, who approved (verified principals and their keys, or
    "unverified"), outputs, durations."""
    from runner.identity.trust import load_trust

    trust = load_trust(policy)
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
                            **_identity_json(e, trust),
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
        if started.incident:
            click.echo(f"responds to incident {started.incident} (fireline incident timeline {started.incident})")
    else:  # a journal whose first event of this run is not its start (a damaged or hand-made one)
        click.echo(f"run {full_id}: {first.type}")
    t0 = first.ts_mono
    for e in events[1:]:
        what = _who(e, trust) or _describe(e)
        click.echo(f"  +{e.ts_mono - t0:8.3f}s  {_hms(e.ts_wall)}  {e.type:<20} {e.step_id or '':<24} {what}")
    return 0


def _identity(e: Event, trust: Trust | None) -> tuple[str, str, str, str] | None:
    """(principal, key fingerprint, signed act, problem) of an event that carries a signature; None for one that
    does not. Re-verified against the allowed-signers file in force, keys judged at the signing time."""
    p = decode(e)
    if isinstance(p, ev.StepApproved) and p.statement is not None and p.signature is not None:
        text, signature, principal, fingerprint, act = p.statement, p.signature, p.principal, p.fingerprint, "approve"
    elif isinstance(p, RunSigned):
        text, signature, principal, fingerprint, act = p.statement, p.signature, p.principal, p.fingerprint, p.act
    else:
        return None
    if trust is None:
        return principal or "?", fingerprint or "?", act, "not checked here: no allowed-signers file is configured"
    checked = trust.check(text, signature, principal or "", at_signing=True)
    if checked.verified is None:
        return principal or "?", fingerprint or "?", act, checked.problem
    return checked.verified.principal, checked.verified.fingerprint, act, ""


def _who(e: Event, trust: Trust | None) -> str:
    """How an approval or a signed act reads in the timeline: verified principal and key, or unverified."""
    found = _identity(e, trust)
    if found is None:
        if e.type == ev.STEP_APPROVED:
            p = ev.StepApproved.of(e)
            return f"by {e.actor} (unverified) via {p.via}: {p.reason}"
        return ""
    principal, fingerprint, act, problem = found
    state = f"verified, key {fingerprint}" if not problem else f"NOT VERIFIED ({problem}), key {fingerprint}"
    if e.type == ev.STEP_APPROVED:
        p = ev.StepApproved.of(e)
        return f"by {principal} ({state}) via {p.via}: {p.reason}"
    return f"{act} by {principal} ({state})"


def _identity_json(e: Event, trust: Trust | None) -> dict[str, Any]:
    found = _identity(e, trust)
    if found is None:
        return {"identity": {"verified": False, "signed": False}} if e.type == ev.STEP_APPROVED else {}
    principal, fingerprint, _, problem = found
    return {
        "identity": {
            "verified": not problem,
            "signed": True,
            "principal": principal,
            "fingerprint": fingerprint,
            **({"problem": problem} if problem else {}),
        }
    }


def _hms(ts: str) -> str:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").strftime("%H:%M:%S")


def _describe(e: Event) -> str:
    p = decode(e)
    if isinstance(p, ev.StepApproved):
        return f"by {e.actor} via {p.via}: {p.reason}"
    if isinstance(p, ev.StepSucceeded):
        out = f" outputs {json.dumps(p.outputs, default=str)}" if p.outputs else ""
        missing = f"; outputs not captured: {p.output_error}" if p.output_error else ""
        return f"{p.summary} ({p.duration_s or 0:.3f}s){out}{missing}"
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
    if isinstance(p, StepGate):
        return f"asks for approval of parameters {p.params[:19]}…"
    return ""


@runs.command("cancel")
@click.argument("run_id")
@click.option("--reason", required=True, help="Why the run is ended; recorded (and signed).")
@click.option("--as", "actor", metavar="NAME", help="Who cancels, when identities are not verified by key.")
@key_option
@policy_option
def cancel(run_id: str, reason: str, actor: str | None, key: str | None, policy: str | None) -> int:
    """End a paused or interrupted run for good: it cannot be resumed or approved afterwards. Refused while
    a process is running it (the run's lease)."""
    from runner.cli.identity import signing
    from runner.engine.cancel import cancel_run, refuse_ended, unfinished_step
    from runner.engine.identities import sign_act
    from runner.engine.session import current_actor
    from runner.identity.statement import Act

    if not reason.strip():
        raise UsageError("--reason needs a reason", hint='e.g. --reason "INC-123: handled by hand"')
    journal = open_journal()
    full_id = journal.find_run(run_id) or run_id
    if not journal.events(full_id, (ev.RUN_STARTED,)):
        raise UsageError(f"no run {run_id!r} in the journal at {journal.location}", hint="see `fireline runs list`")
    journal.require_intact(full_id, "cancel it")  # a cancellation is recorded on top of what is there
    refuse_ended(journal, full_id, "cancel")
    trust, key_path = signing(actor, key, policy)
    signed = None
    who = current_actor(actor) if trust is None else ""
    if trust is not None and key_path is not None:
        # Bound to the runbook the run started with (the file may have changed since: cancelling is still fine).
        digest = ev.RunStarted.of(journal.events(full_id, (ev.RUN_STARTED,))[0]).digest
        signed = sign_act(trust, key_path, Act.CANCEL, full_id, digest, reason.strip(), "runs cancel")
        who = signed.principal
    cancel_run(journal, full_id, who, reason.strip(), signed)
    click.echo(f"cancelled run {full_id} ({'signed by ' + who if signed else 'as ' + who + ', unverified'})")
    unfinished = unfinished_step(journal, full_id)
    if unfinished is not None:
        click.echo(f"  step {unfinished} had started and never finished: it may or may not have changed something")
    return 0
