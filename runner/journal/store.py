"""SQLite journal (WAL). Every event is committed before the engine moves on; an event that precedes a
production change is also fsynced (synchronous=FULL for that commit), so a crash can never lose the fact
that a mutating step started."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.errors import JournalError
from runner.journal.events import SCHEMA_VERSION, Event

_DDL = """
CREATE TABLE IF NOT EXISTS events (
    run_id  TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    ts_wall TEXT NOT NULL,
    ts_mono REAL NOT NULL,
    type    TEXT NOT NULL,
    step_id TEXT,
    actor   TEXT,
    data    TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS events_type ON events (type, run_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def fireline_home() -> Path:
    return Path(os.environ.get("FIRELINE_HOME") or Path.home() / ".local" / "state" / "fireline")


class Journal:
    """One SQLite file shared by every fireline process on the machine (runs, approvals from another
    terminal, game days)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or fireline_home() / "journal.db"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_DDL)
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open the journal at {self.path}: {exc}",
                               hint="set FIRELINE_HOME to a writable directory") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self, durable: bool) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if durable:
                self._db.execute("PRAGMA synchronous=FULL")
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            finally:
                if durable:
                    self._db.execute("PRAGMA synchronous=NORMAL")

    def append(self, run_id: str, type_: str, *, step_id: str | None = None, actor: str | None = None,
               data: Mapping[str, Any] | None = None, durable: bool = False) -> Event:
        """Append one event; `durable` fsyncs it (and everything before it) before returning."""
        payload = json.dumps(data or {}, default=str, sort_keys=True)
        wall = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        mono = time.monotonic()
        try:
            with self._tx(durable) as db:
                row = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE run_id = ?", (run_id,)).fetchone()
                seq = int(row[0])
                db.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (run_id, seq, wall, mono, type_, step_id, actor, payload))
        except sqlite3.Error as exc:
            raise JournalError(f"cannot write to the journal at {self.path}: {exc}") from None
        return Event(run_id, seq, wall, mono, type_, step_id, actor, data or {})

    def events(self, run_id: str, types: tuple[str, ...] = ()) -> list[Event]:
        query = "SELECT * FROM events WHERE run_id = ?"
        args: list[Any] = [run_id]
        if types:
            query += f" AND type IN ({','.join('?' * len(types))})"
            args += list(types)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY seq", args).fetchall()
        return [_event(r) for r in rows]

    def first_events(self, type_: str, limit: int = 50) -> list[Event]:
        """The most recent events of one type, one per run (e.g. run.started for `runs list`)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM events WHERE type = ? ORDER BY ts_wall DESC LIMIT ?", (type_, limit)
            ).fetchall()
        return [_event(r) for r in rows]

    def last_event(self, run_id: str) -> Event | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM events WHERE run_id = ? ORDER BY seq DESC LIMIT 1", (run_id,)
            ).fetchone()
        return _event(row) if row else None

    def find_run(self, prefix: str) -> str | None:
        """A run id from a unique prefix, so responders can type the first few characters."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT run_id FROM events WHERE run_id LIKE ? LIMIT 2", (prefix.replace("%", "") + "%",)
            ).fetchall()
        return rows[0][0] if len(rows) == 1 else None


def _event(row: tuple[Any, ...]) -> Event:
    return Event(row[0], row[1], row[2], row[3], row[4], row[5], row[6], json.loads(row[7]))
