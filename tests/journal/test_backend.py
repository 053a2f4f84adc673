"""The journal checks its schema version when it opens: a store written by an older fireline is migrated
(its events stay readable and new ones can be written), one written by a newer fireline is refused, naming
that version, and left exactly as it was."""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from runner import __version__
from runner.journal.events import SCHEMA_VERSION
from runner.journal.lease import hold
from runner.journal.store import Journal, open_journal

WALL = "2026-11-20T09:00:0{}.000000Z"
# A run as an older fireline journalled it: (type, step_id, data).
OLD_RUN = [
    ("run.started", None, {"runbook": "/srv/rb.yaml", "name": "restart-api", "title": "Restart", "inputs": {}}),
    ("step.started", "restart", {"action": "shell.run", "mutating": True, "params": {"argv": ["true"]}}),
    ("step.succeeded", "restart", {"summary": "exit 0", "result": {}, "outputs": {}, "changed": True}),
    ("run.finished", None, {"status": "succeeded", "message": "", "failed_steps": []}),
]


def _rows(run_id: str) -> Iterator[tuple[Any, ...]]:
    for index, (type_, step_id, data) in enumerate(OLD_RUN):
        yield run_id, index + 1, WALL.format(index), 100.0 + index, type_, step_id, "oncall", json.dumps(data)


def _v1_journal(path: Path) -> None:
    """Schema 1: events numbered per run, in a table named `events`."""
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, ts_wall TEXT NOT NULL,
                ts_mono REAL NOT NULL, type TEXT NOT NULL, step_id TEXT, actor TEXT, data TEXT NOT NULL,
                PRIMARY KEY (run_id, seq));
            CREATE INDEX events_type ON events (type, run_id);
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO meta VALUES ('schema_version', '1');
            """
        )
        db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", _rows("run-old1"))
    db.close()


def _v2_journal(path: Path) -> None:
    """Schema 2: one store-wide seq in journal_events, no boot column, no run leases."""
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE journal_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL,
                ts_wall TEXT NOT NULL, ts_mono REAL NOT NULL, type TEXT NOT NULL, step_id TEXT, actor TEXT,
                data TEXT NOT NULL);
            CREATE INDEX journal_events_run ON journal_events (run_id, seq);
            CREATE INDEX journal_events_type ON journal_events (type, ts_wall);
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO meta VALUES ('schema_version', '2');
            CREATE VIEW events AS SELECT run_id, seq, ts_wall, ts_mono, type, step_id, actor, data FROM journal_events;
            """
        )
        db.executemany(
            "INSERT INTO journal_events (run_id, ts_wall, ts_mono, type, step_id, actor, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(r[0], *r[2:]) for r in _rows("run-old2")],
        )
    db.close()


def _meta(path: Path) -> dict[str, str]:
    db = sqlite3.connect(path)
    try:
        return dict(db.execute("SELECT key, value FROM meta").fetchall())
    finally:
        db.close()


def _assert_old_run_readable_and_journal_usable(cli: Any, run_id: str) -> None:
    shown = cli("runs", "show", run_id[:7], "--json")
    assert shown.code == 0, shown.err
    events = shown.json()["events"]
    assert [(e["type"], e["step_id"]) for e in events] == [(t, s) for t, s, _ in OLD_RUN]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert events[0]["data"]["name"] == "restart-api" and events[1]["actor"] == "oncall"
    listed = cli("runs", "list")
    assert listed.code == 0 and run_id in listed.out and "succeeded" in listed.out
    # New events (with their boot) and run leases work in the migrated store.
    journal, new = open_journal(), f"new-{secrets.token_hex(4)}"
    with hold(journal, new, "responder"):
        journal.append(new, "step.started", step_id="a", data={"mutating": True}, durable=True)
    assert [e.type for e in journal.events(new)] == ["step.started"]
    assert journal.events(new)[0].boot
    journal.close()


@pytest.mark.parametrize(("make", "run_id"), [(_v1_journal, "run-old1"), (_v2_journal, "run-old2")])
def test_an_older_sqlite_journal_is_migrated_and_its_runs_stay_readable(
    cli: Any, fireline_home: Path, make: Any, run_id: str
) -> None:
    fireline_home.mkdir(parents=True)
    path = fireline_home / "journal.db"
    make(path)
    _assert_old_run_readable_and_journal_usable(cli, run_id)
    # The four old events are not chained; every event from the fifth on is.
    assert _meta(path) == {
        "schema_version": str(SCHEMA_VERSION), "fireline_version": __version__, "chained_from_seq": "5"
    }  # fmt: skip
    # Opening it again finds the current schema: nothing is migrated twice.
    _assert_old_run_readable_and_journal_usable(cli, run_id)
    assert [e.type for e in Journal(path).events(run_id)] == [t for t, _, _ in OLD_RUN]


def test_a_journal_from_before_run_leases_gets_them(cli: Any, fireline_home: Path) -> None:
    """Schema 3 stores written before run leases existed have no run_leases table."""
    fireline_home.mkdir(parents=True)
    path = fireline_home / "journal.db"
    _v2_journal(path)
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE journal_events ADD COLUMN boot TEXT NOT NULL DEFAULT ''")
        db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    db.close()
    _assert_old_run_readable_and_journal_usable(cli, "run-old2")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_journal_from_a_newer_fireline_is_refused_and_left_untouched(
    cli: Any, fireline_home: Path, tmp_path: Path
) -> None:
    path = fireline_home / "journal.db"
    journal = Journal(path)
    journal.append("run-later", "run.started", data={"name": "later"}, durable=True)
    journal.close()
    with sqlite3.connect(path) as db:  # what a newer fireline leaves: a schema this one does not know
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
        db.execute("UPDATE meta SET value = '7.1.0' WHERE key = 'fireline_version'")
        db.execute("CREATE TABLE journal_links (seq INTEGER, parent TEXT)")
    db.execute("PRAGMA journal_mode=DELETE")  # one self-contained file: any write would change its bytes
    db.close()
    before = _digest(path)
    runbook = tmp_path / "rb.yaml"
    runbook.write_text(
        "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: x}\n"
        "steps:\n  - id: a\n    action: control.assert\n    with: {that: '{{ true }}'}\n"
    )
    for args in (("runs", "list"), ("runs", "show", "run-later"), ("run", str(runbook))):
        result = cli(*args)
        assert result.code == 1, (args, result.out, result.err)
        assert "written by fireline 7.1.0" in result.err and f"schema {SCHEMA_VERSION + 1}" in result.err
        assert "upgrade fireline" in result.err and "Traceback" not in result.err
    assert _digest(path) == before
    assert sorted(p.name for p in fireline_home.iterdir() if not p.name.startswith("journal.db-")) == ["journal.db"]


def test_another_programs_events_and_meta_tables_are_not_an_old_journal(cli: Any, fireline_home: Path) -> None:
    """Schema 1 is recognised by the schema version in its meta table, not by a table named `events`."""
    fireline_home.mkdir(parents=True)
    path = fireline_home / "journal.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, title TEXT)")
        db.execute("CREATE TABLE meta (name TEXT, content TEXT)")
        db.execute("INSERT INTO events (title) VALUES ('standup')")
    db.close()
    before = _digest(path)
    result = cli("runs", "list")
    assert result.code == 1 and "not a fireline journal" in result.err and "events, meta" in result.err
    assert _digest(path) == before


# -- PostgreSQL --------------------------------------------------------------------------------------------------
def _v3_team_store(dsn: str) -> None:
    """The team store as it was before run leases: schema 3."""
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute(
            """
            CREATE TABLE journal_events (seq BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, ts_wall TEXT NOT NULL,
                ts_mono DOUBLE PRECISION NOT NULL, type TEXT NOT NULL, step_id TEXT, actor TEXT, data TEXT NOT NULL,
                boot TEXT NOT NULL DEFAULT '');
            CREATE INDEX journal_events_run ON journal_events (run_id, seq);
            CREATE INDEX journal_events_type ON journal_events (type, seq);
            CREATE TABLE fireline_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO fireline_meta VALUES ('schema_version', '3');
            CREATE VIEW events AS SELECT run_id, seq, ts_wall, ts_mono, type, step_id, actor, data FROM journal_events;
            """
        )
        with db.cursor() as cur:
            cur.executemany(
                "INSERT INTO journal_events (run_id, ts_wall, ts_mono, type, step_id, actor, data, boot) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, 'b')",
                [(r[0], *r[2:]) for r in _rows("run-team3")],
            )


def _pg_state(dsn: str) -> list[Any]:
    with psycopg.connect(dsn) as db:
        tables = db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
        ).fetchall()
        meta = db.execute("SELECT key, value FROM fireline_meta ORDER BY key").fetchall()
        events = db.execute("SELECT * FROM journal_events ORDER BY seq").fetchall()
    return [tables, meta, events]


def test_an_older_team_store_is_migrated(cli: Any, pg_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _v3_team_store(pg_db)
    monkeypatch.setenv("FIRELINE_STORE", pg_db)
    _assert_old_run_readable_and_journal_usable(cli, "run-team3")
    tables, meta, _ = _pg_state(pg_db)
    assert ("run_leases",) in tables
    assert dict(meta) == {
        "schema_version": str(SCHEMA_VERSION), "fireline_version": __version__, "chained_from_seq": "5"
    }  # fmt: skip


def test_a_team_store_from_a_newer_fireline_is_refused_and_left_untouched(
    cli: Any, pg_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _v3_team_store(pg_db)
    with psycopg.connect(pg_db, autocommit=True) as db:
        db.execute("UPDATE fireline_meta SET value = %s", (str(SCHEMA_VERSION + 1),))
        db.execute("INSERT INTO fireline_meta VALUES ('fireline_version', '7.1.0')")
    before = _pg_state(pg_db)
    monkeypatch.setenv("FIRELINE_STORE", pg_db)
    result = cli("runs", "list")
    assert result.code == 1, result.err
    assert "written by fireline 7.1.0" in result.err and "postgresql://" in result.err
    assert _pg_state(pg_db) == before  # no run_leases table, no new meta: nothing written
