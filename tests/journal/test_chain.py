"""The hash chain: every event of a run carries the hash of the one before it, so editing, deleting,
reordering or inserting rows afterwards is found, on the SQLite file and on the PostgreSQL team store, even
when several processes append to one run at once. On PostgreSQL the server records who inserted each event."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from runner.journal.chain import Break, ChainBroken, ChainedRow, ChainReport, event_hash
from runner.journal.store import Journal, open_journal
from tests.conftest import REPO, wait_for

RUN = "run-chain1"


@pytest.fixture
def store(journal: Journal) -> Journal:
    """The journal on each store (tests/journal/conftest.py)."""
    return journal


def _write_run(journal: Journal, run_id: str = RUN, steps: int = 3) -> None:
    journal.append(run_id, "run.started", actor="oncall", data={"name": "restart-api"}, durable=True)
    for index in range(steps):
        journal.append(run_id, "step.started", step_id=f"s{index}", data={"action": "shell.run", "mutating": True})
        journal.append(run_id, "step.succeeded", step_id=f"s{index}", data={"summary": "exit 0"})
    journal.append(run_id, "step.approved", step_id="s1", actor="lead", data={"reason": "INC-7"}, durable=True)
    journal.flush()


def _tamper(sql: str, *params: Any) -> None:
    """Change the store behind fireline's back, as someone with the file or a database login could."""
    store = os.environ.get("FIRELINE_STORE")
    if store:
        with psycopg.connect(store, autocommit=True) as db:
            db.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]
        return
    file = sqlite3.connect(Path(os.environ["FIRELINE_HOME"]) / "journal.db")
    with file:
        file.execute(sql, params)
    file.close()


def _seqs(journal: Journal, run_id: str = RUN) -> list[int]:
    return [e.seq for e in journal.events(run_id)]


def _kinds(report: ChainReport) -> list[tuple[int, Break]]:
    return [(b.seq, b.kind) for b in report.breaks]


def test_an_untouched_run_verifies(store: Journal) -> None:
    _write_run(store)
    _write_run(store, "run-other")
    report = store.verify(RUN)
    assert report.ok and report.events == 8 and report.unchained == 0
    assert store.all_runs() == [RUN, "run-other"]


def test_an_edited_event_is_found_and_only_that_one(store: Journal) -> None:
    _write_run(store)
    approval = store.events(RUN, ("step.approved",))[0].seq
    _tamper("UPDATE journal_events SET actor = 'someone-else' WHERE seq = ?", approval)
    assert _kinds(store.verify(RUN)) == [(approval, Break.EDITED)]


@pytest.mark.parametrize("which", [0, 3])
def test_a_deleted_event_is_found_at_the_event_after_it(store: Journal, which: int) -> None:
    _write_run(store)
    seqs = _seqs(store)
    _tamper("DELETE FROM journal_events WHERE seq = ?", seqs[which])
    assert _kinds(store.verify(RUN)) == [(seqs[which + 1], Break.DELETED)]


def test_moved_events_are_reported_as_reordered(store: Journal) -> None:
    _write_run(store)
    seqs = _seqs(store)
    first, second = seqs[2], seqs[3]
    for sql, params in (
        ("UPDATE journal_events SET seq = ? WHERE seq = ?", (-1, first)),
        ("UPDATE journal_events SET seq = ? WHERE seq = ?", (first, second)),
        ("UPDATE journal_events SET seq = ? WHERE seq = ?", (second, -1)),
    ):
        _tamper(sql, *params)
    report = store.verify(RUN)
    assert _kinds(report) == [(first, Break.REORDERED)]
    assert f"written: {', '.join(map(str, seqs[:2]))}, {second}, {first}" in report.breaks[0].detail


def test_an_event_inserted_later_is_found() -> None:
    """An event forged with a correct hash, linked into the middle of a run and stored after it, leaves the
    run's real events behind: the chain does not lead through it. (On PostgreSQL the server chains every
    inserted row itself, and records who inserted it: see the session_user test.)"""
    journal = Journal()
    _write_run(journal)
    rows = journal.chain(RUN)
    prev = rows[2].hash or ""
    data = '{"reason": "forged"}'
    made_up = event_hash(RUN, rows[2].ts_wall, rows[2].ts_mono, rows[2].boot, "step.approved", "s2", "lead",
                         data, None, prev)  # fmt: skip
    columns = "run_id, ts_wall, ts_mono, type, step_id, actor, data, boot, prev_hash, hash"
    _tamper(
        f"INSERT INTO journal_events ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        RUN, rows[2].ts_wall, rows[2].ts_mono, "step.approved", "s2", "lead", data, rows[2].boot, prev, made_up,
    )  # fmt: skip
    forged = journal.chain(RUN)[-1].seq
    assert _kinds(journal.verify(RUN)) == [(forged, Break.INSERTED)]
    journal.close()


def test_a_hash_removed_from_a_chained_event_is_tampering(store: Journal) -> None:
    _write_run(store)
    seq = _seqs(store)[4]
    _tamper("UPDATE journal_events SET hash = NULL, prev_hash = NULL WHERE seq = ?", seq)
    assert (seq, Break.UNCHAINED) in _kinds(store.verify(RUN))


def test_resume_is_refused_with_the_broken_event_named(store: Journal) -> None:
    _write_run(store)
    store.require_intact(RUN, "resume")  # intact: nothing raised
    approval = store.events(RUN, ("step.approved",))[0].seq
    _tamper('UPDATE journal_events SET data = \'{"reason": "other"}\' WHERE seq = ?', approval)
    with pytest.raises(ChainBroken, match=rf"event {approval} \(step.approved of step s1\): edited .* resume"):
        store.require_intact(RUN, "resume")


# -- the definition in chain.py's docstring, written again from it ----------------------------------------------
def _auditor_hash(row: Any) -> str:
    def field(text: str | None) -> bytes:
        return b"\xff\xff\xff\xff" if text is None else struct.pack(">I", len(text.encode())) + text.encode()

    return hashlib.sha256(
        b"fireline-event-v1" + field(row.run_id) + field(row.ts_wall) + struct.pack(">d", row.ts_mono)
        + field(row.boot) + field(row.type) + field(row.step_id) + field(row.actor) + field(row.data)
        + field(row.db_user) + field(row.prev_hash)
    ).hexdigest()  # fmt: skip


def test_an_auditor_can_recompute_the_chain_from_the_documented_definition(store: Journal) -> None:
    _write_run(store)
    store.append(RUN, "step.failed", step_id="s9", actor=None, data={"error": "naïve ✓ ü"}, durable=True)
    rows = store.chain(RUN)
    expected = hashlib.sha256(b"fireline-run-v1" + struct.pack(">I", len(RUN)) + RUN.encode()).hexdigest()
    for row in rows:
        assert row.prev_hash == expected
        assert row.hash == _auditor_hash(row)
        expected = row.hash


def test_the_hash_follows_the_definition_whatever_the_text_of_each_field() -> None:
    # Names that recur (run id, boot, type, step id, actor) are encoded once and remembered: more distinct
    # names than are remembered, non-ASCII text and empty or missing fields all hash as defined.
    names: list[str | None] = [None, "", "é", "step ✓ 名前", *(f"s{i}" for i in range(5000))]
    for index, name in enumerate(names):
        row = ChainedRow(
            index, f"run-{name}", "2026-12-05T00:43:01.123456Z", index / 7, "step.started", name, name,
            '{"summary": "naïve"}', name or "", name, name or "",
            None,
        )  # fmt: skip
        assert row.recomputed() == _auditor_hash(row), name


# -- appends from several processes ------------------------------------------------------------------------------
APPENDER = """
import sys, time
from pathlib import Path
from runner.journal.store import open_journal
run_id, name, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
journal = open_journal()
journal.append(run_id, "step.approved", step_id=name, actor=name, data={"ready": True}, durable=True)
while not go.exists():
    time.sleep(0.01)
for index in range(count):
    journal.append(run_id, "step.started", step_id=f"{name}-{index}", actor=name, durable=index % 3 == 0)
journal.append(run_id, "step.approved", step_id=name, actor=name, data={"done": True}, durable=True)
journal.close()
"""


def test_two_processes_appending_to_one_run_keep_one_chain(store: Journal, tmp_path: Path) -> None:
    """`fireline approve` from another terminal writes into the run its owner is writing: both read the run's
    last event inside their own write transaction, so the chain never forks."""
    store.append(RUN, "run.started", data={"name": "x"}, durable=True)
    go, count = tmp_path / "go", 300
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen([sys.executable, "-c", APPENDER, RUN, name, str(count), str(go)], env=env, cwd=REPO)
        for name in ("owner", "approver")
    ]
    try:
        wait_for(lambda: len(store.events(RUN, ("step.approved",))) == 2, "both appenders to be ready", 60)
        go.touch()
        assert [p.wait(timeout=120) for p in procs] == [0, 0]
    finally:
        for proc in procs:
            proc.kill() if proc.poll() is None else None
    events = store.events(RUN)
    assert len(events) == 1 + 2 * (count + 2)
    report = store.verify(RUN)
    assert report.ok, [b.describe() for b in report.breaks]


def test_a_batch_with_events_of_several_runs_chains_each_run(store: Journal) -> None:
    for index in range(4):
        for run_id in ("run-a", "run-b", "run-c"):
            store.append(run_id, "step.started", step_id=f"s{index}")
    store.flush()
    assert [store.verify(r).ok for r in ("run-a", "run-b", "run-c")] == [True, True, True]


# -- the database user, recorded by the server ----------------------------------------------------------------
def _role(pg_db: str, name: str) -> Callable[[], None]:
    with psycopg.connect(pg_db, autocommit=True) as db:
        db.execute(f'DROP ROLE IF EXISTS "{name}"')
        db.execute(f"CREATE ROLE \"{name}\" LOGIN PASSWORD 'pw'")
        db.execute(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{name}"')
        db.execute(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{name}"')

    def drop() -> None:
        with psycopg.connect(pg_db, autocommit=True) as db:
            db.execute(f'DROP OWNED BY "{name}"')
            db.execute(f'DROP ROLE "{name}"')

    return drop


def test_postgres_records_the_session_user_and_a_client_cannot_choose_it(
    pg_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIRELINE_STORE", pg_db)
    journal = open_journal()
    journal.append(RUN, "run.started", actor="oncall", data={}, durable=True)
    drop = _role(pg_db, "approver-db")
    made_up = (
        "INSERT INTO journal_events (run_id, ts_wall, ts_mono, type, step_id, actor, data, boot, db_user, "
        "prev_hash, hash) VALUES (%s, '2026-12-01T00:00:00.000000Z', 1.5, 'step.approved', 's1', 'lead', "
        "'{}', 'b', %s, 'made-up', 'made-up')"
    )
    try:
        # A client naming someone else (and making up its own chain) is overruled by the server.
        other = psycopg.conninfo.make_conninfo(pg_db, user="approver-db", password="pw")
        with psycopg.connect(other, autocommit=True) as db:
            db.execute(made_up, (RUN, "fireline"))
        # Switching roles changes the current user, not who logged in: session_user stays.
        with psycopg.connect(pg_db, autocommit=True) as db:
            db.execute('SET ROLE "approver-db"')
            db.execute(made_up, (RUN, "approver-db"))
        journal.append(RUN, "run.finished", data={"status": "succeeded"}, durable=True)
        rows = journal.chain(RUN)
        assert [r.db_user for r in rows] == ["fireline", "approver-db", "fireline", "fireline"]
        assert "made-up" not in {r.hash for r in rows} | {r.prev_hash for r in rows}
        assert journal.verify(RUN).ok
    finally:
        journal.close()
        drop()


def test_an_old_run_is_reported_not_chained_and_new_events_chain(
    pg_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.journal.test_backend import _v2_journal, _v3_team_store

    for make in ("sqlite", "postgresql"):
        if make == "postgresql":
            _v3_team_store(pg_db)
            monkeypatch.setenv("FIRELINE_STORE", pg_db)
            run_id = "run-team3"
        else:
            _v2_journal(tmp_path / "journal.db")
            monkeypatch.setenv("FIRELINE_STORE", str(tmp_path / "journal.db"))
            run_id = "run-old2"
        journal = open_journal()
        before = journal.verify(run_id)
        assert before.ok and before.unchained == 4 and before.events == 4
        journal.append(run_id, "run.resumed", data={"from_step": None}, durable=True)
        journal.append(run_id, "run.finished", data={"status": "succeeded"}, durable=True)
        after = journal.verify(run_id)
        assert after.ok and after.unchained == 4 and after.events == 6
        journal.close()


def test_a_payload_edited_into_something_that_is_not_json_is_a_clear_error(cli: Any) -> None:
    journal = Journal()
    _write_run(journal)
    approval = journal.events(RUN, ("step.approved",))[0].seq
    journal.close()
    _tamper("UPDATE journal_events SET data = 'approved, trust me' WHERE seq = ?", approval)
    shown = cli("runs", "show", RUN)
    assert shown.code == 1 and "Traceback" not in shown.err
    assert f"event {approval} of run {RUN}" in shown.err and "not JSON" in shown.err
    audited = cli("audit", "verify", RUN)
    assert audited.code == 1 and f"event {approval} (step.approved of step s1): edited" in audited.out
