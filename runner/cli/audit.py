"""`fireline audit verify RUN_ID|--all` — is the journal as it was written, and who approved what.

Each run's hash chain (runner.journal.chain) is recomputed from the stored events: a run verifies when no
event was edited, deleted, moved or inserted since it was written. Its approvals are then listed (who, via
what, when, and on the PostgreSQL store the database user that recorded them); `approval_record` is where
what an approval carries is checked. Exit 0 when every run verifies, 1 otherwise.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import click

from runner.errors import UsageError
from runner.journal import events as ev
from runner.journal.chain import CHAIN_VERSION, ChainedRow, ChainReport
from runner.journal.events import Event, decode
from runner.journal.store import Journal, open_journal


@dataclass(frozen=True)
class ApprovalRecord:
    """One approval as the journal holds it, and what checking it found."""

    seq: int
    step: str  # the step approved ("*" for every gated step)
    who: str
    via: str
    when: str
    reason: str
    db_user: str | None = None  # who inserted the event, as the PostgreSQL server recorded it
    problems: tuple[str, ...] = ()  # why it cannot be trusted; any problem fails the verification

    def describe(self) -> str:
        recorded = f", recorded by database user {self.db_user}" if self.db_user else ""
        problems = "".join(f"\n      NOT VERIFIED: {p}" for p in self.problems)
        return f"{self.step} by {self.who} via {self.via} at {self.when}{recorded}: {self.reason}{problems}"


@dataclass(frozen=True)
class RunAudit:
    chain: ChainReport
    approvals: tuple[ApprovalRecord, ...]

    @property
    def ok(self) -> bool:
        return self.chain.ok and not any(a.problems for a in self.approvals)


@click.group()
def audit() -> None:
    """Check that the journal is as it was written."""


@audit.command("verify")
@click.argument("run_id", required=False)
@click.option("--all", "every_run", is_flag=True, help="Verify every run in the journal.")
@click.option("--json", "as_json", is_flag=True)
def verify(run_id: str | None, every_run: bool, as_json: bool) -> int:
    """Recompute the hash chain of RUN_ID (or of every run) and list its approvals. Exit 0 when every run
    verifies, 1 when one was changed after it was written."""
    if bool(run_id) == every_run:
        raise UsageError(
            "name one run, or --all", hint="`fireline audit verify RUN_ID` or `fireline audit verify --all`"
        )
    journal = open_journal()
    run_ids = journal.all_runs() if every_run else [_one_run(journal, run_id or "")]
    audits = [audit_run(journal, r) for r in run_ids]
    if as_json:
        click.echo(json.dumps([_json(a) for a in audits], indent=2))
    else:
        for found in audits:
            _print(found)
        if every_run:
            broken = sum(1 for a in audits if not a.ok)
            click.echo(f"{len(audits)} runs, {broken} that do not verify, in {journal.location}")
    return 0 if all(a.ok for a in audits) else 1


def _one_run(journal: Journal, run_id: str) -> str:
    full_id = journal.find_run(run_id) or run_id
    if not journal.chain(full_id):
        raise UsageError(f"no run {run_id!r} in the journal at {journal.location}", hint="see `fireline runs list`")
    return full_id


def audit_run(journal: Journal, run_id: str) -> RunAudit:
    report = journal.verify(run_id)
    rows = journal.chain(run_id)
    return RunAudit(report, tuple(approvals(rows)))


def approvals(rows: list[ChainedRow]) -> list[ApprovalRecord]:
    """The run's approvals, in the order they were recorded: pre-approvals given when it started, then every
    step.approved event."""
    found: list[ApprovalRecord] = []
    for row in rows:
        event = _event(row)
        payload = decode(event)
        if isinstance(payload, ev.RunStarted) and (payload.approve or payload.approve_all):
            steps = ("*",) if payload.approve_all else payload.approve
            who = payload.initiator or event.actor or "?"
            found += [
                ApprovalRecord(row.seq, s, who, "--approve (at start)", row.ts_wall, payload.reason, row.db_user)
                for s in steps
            ]
        elif isinstance(payload, ev.StepApproved):
            found.append(approval_record(event, payload, row))
    return found


def approval_record(event: Event, approval: ev.StepApproved, row: ChainedRow) -> ApprovalRecord:
    """One step.approved event as an auditor reads it. What an approval carries beyond the chain (a
    signature) is checked here: a problem found goes in `problems`, and fails the verification."""
    from runner.identity.audit import check_approval
    from runner.identity.trust import load_trust

    # Signed approvals are re-verified against the allowed signers in force, keys judged at signing time.
    checked = check_approval(load_trust() if approval.signature else None, event)
    return ApprovalRecord(
        row.seq,
        event.step_id or "?",
        checked.who(event.actor or "?"),
        approval.via,
        row.ts_wall,
        approval.reason,
        row.db_user,
        checked.problems,
    )


def _event(row: ChainedRow) -> Event:
    try:
        data = json.loads(row.data)
    except ValueError:
        data = {}  # a payload edited into something that is not JSON: the chain reports the edit
    data = data if isinstance(data, dict) else {}
    return Event(row.run_id, row.seq, row.ts_wall, row.ts_mono, row.type, row.step_id, row.actor, data, row.boot)


# -- output ---------------------------------------------------------------------------------------------------------
def _print(found: RunAudit) -> None:
    chain = found.chain
    unchained = (
        f", {chain.unchained} not chained (recorded before journal schema version {CHAIN_VERSION})"
        if chain.unchained
        else ""
    )
    verdict = "ok" if found.ok else "DOES NOT VERIFY"
    click.echo(f"run {chain.run_id}: {verdict} ({chain.events} events{unchained})")
    for problem in chain.breaks:
        click.echo(f"  {problem.describe()}")
    if found.approvals:
        click.echo("  approvals:")
        broken = {b.seq for b in chain.breaks}
        for approval in found.approvals:
            doubt = "  [this event does not verify]" if approval.seq in broken else ""
            click.echo(f"    {approval.describe()}{doubt}")


def _json(found: RunAudit) -> dict[str, Any]:
    chain = found.chain
    return {
        "run_id": chain.run_id,
        "ok": found.ok,
        "events": chain.events,
        "not_chained": chain.unchained,
        "breaks": [
            {"seq": b.seq, "type": b.type, "step_id": b.step_id, "kind": b.kind.value, "detail": b.detail}
            for b in chain.breaks
        ],
        "approvals": [asdict(a) for a in found.approvals],
    }
