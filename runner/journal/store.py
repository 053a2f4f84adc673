"""The journal stores: SQLite (default, WAL, one file per machine) and PostgreSQL (`FIRELINE_STORE=
postgresql://…`, one store for a team, so an approval or an acknowledgement can come from another machine).

Durability is per event: an event that precedes or records a production change is `durable` — committed
(SQLite: with synchronous=FULL, i.e. fsynced) together with everything queued before it, before `append`
returns. Other events (read-only steps, probe transitions) are group-committed: queued and written in one
transaction at the next durable event, every FLUSH_EVERY events, after FLUSH_AFTER seconds, or when anything
reads. A crash can lose at most those, and losing them never hides a change: a lost read-only step simply
runs again.

`seq` is one sequence for the whole store, assigned at insert: events of one run are ordered by it, and
several processes can append to one run (a game day receives acknowledgements from other terminals)
without colliding. `boot` identifies the machine boot whose monotonic clock `ts_mono` comes from.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.errors import JournalError
from runner.journal.events import SCHEMA_VERSION, Event

FLUSH_EVERY = 256
FLUSH_AFTER = 0.25
_COLUMNS = "seq, run_id, ts_wall, ts_mono, type, step_id, actor, data, boot"
_INSERT = (
    "INSERT INTO journal_events (run_id, ts_wall, ts_mono, type, step_id, actor, data, boot) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
# For people and tools reading the journal directly: one row per event, in the documented shape.
_VIEW = (
    "CREATE {if_not_exists} events AS "
    "SELECT run_id, seq, ts_wall, ts_mono, type, step_id, actor, data FROM journal_events"
)


def fireline_home() -> Path:
    return Path(os.environ.get("FIRELINE_HOME") or Path.home() / ".local" / "state" / "fireline")


def boot_id() -> str:
    """This machine's current boot: CLOCK_MONOTONIC values are comparable only within one."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return f"{socket.gethostname()}-{int(time.time() - time.monotonic())}"


_BOOT = boot_id()


def open_journal() -> Journal:
    """The store the user configured: FIRELINE_STORE (a postgresql:// URL or a file), else the SQLite file
    under FIRELINE_HOME."""
    store = os.environ.get("FIRELINE_STORE", "").strip()
    if store.startswith(("postgresql://", "postgres://")):
        from runner.journal.postgres import PostgresJournal

        return PostgresJournal(store)
    return Journal(Path(store).expanduser() if store else None)


class Journal:
    """SQLite journal (WAL), shared by every fireline process on the machine."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else fireline_home() / "journal.db"
        self._lock = threading.RLock()
        self._pending: list[tuple[Any, ...]] = []
        self._pending_since = 0.0
        try:
            self._connect()
        except (sqlite3.Error, OSError) as exc:
            raise JournalError(
                f"cannot open the journal at {self.location}: {exc}",
                hint="set FIRELINE_HOME to a writable directory, or FIRELINE_STORE",
            ) from None
        atexit.register(self.flush)  # queued events of a short-lived command reach the store

    @property
    def location(self) -> str:
        """Where the journal is, for messages (never with a password)."""
        return str(self.path)

    def reopen(self) -> Journal:
        """The same store through a new connection (for another thread)."""
        return Journal(self.path)

    # -- the backend --------------------------------------------------------------------------------------
    def _connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS journal_events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, ts_wall TEXT NOT NULL,
                ts_mono REAL NOT NULL, type TEXT NOT NULL, step_id TEXT, actor TEXT, data TEXT NOT NULL,
                boot TEXT NOT NULL DEFAULT ''
            );
            CREATE INDEX IF NOT EXISTS journal_events_run ON journal_events (run_id, seq);
            CREATE INDEX IF NOT EXISTS journal_events_type ON journal_events (type, seq);
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            """
        )
        self._db.execute(_VIEW.format(if_not_exists="VIEW IF NOT EXISTS"))
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def _insert(self, rows: list[tuple[Any, ...]], durable: bool) -> None:
        if durable:
            self._db.execute("PRAGMA synchronous=FULL")
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(_INSERT, rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        finally:
            if durable:
                self._db.execute("PRAGMA synchronous=NORMAL")

    def _fetch(self, sql: str, args: tuple[Any, ...] | list[Any]) -> list[tuple[Any, ...]]:
        return self._db.execute(sql, args).fetchall()

    def _close(self) -> None:
        self._db.close()

    _errors: tuple[type[BaseException], ...] = (sqlite3.Error,)

    # -- the journal ----------------------------------------------------------------------------------------
    def close(self) -> None:
        self.flush()
        atexit.unregister(self.flush)
        self._close()

    def append(
        self,
        run_id: str,
        type_: str,
        *,
        step_id: str | None = None,
        actor: str | None = None,
        data: Mapping[str, Any] | None = None,
        durable: bool = False,
    ) -> Event:
        """Append one event; `durable` commits it (and everything queued before it) before returning."""
        payload = json.dumps(data or {}, default=str)
        wall = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        mono = time.monotonic()
        with self._lock:
            if not self._pending:
                self._pending_since = mono
            self._pending.append((run_id, wall, mono, type_, step_id, actor, payload, _BOOT))
            if durable or len(self._pending) >= FLUSH_EVERY or mono - self._pending_since > FLUSH_AFTER:
                self._write(durable)
        return Event(run_id, 0, wall, mono, type_, step_id, actor, data or {}, _BOOT)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self._write(False)

    def _write(self, durable: bool) -> None:
        rows, self._pending = self._pending, []
        try:
            self._insert(rows, durable)
        except self._errors as exc:
            raise JournalError(f"cannot write to the journal at {self.location}: {exc}") from None

    def _query(self, sql: str, args: tuple[Any, ...] | list[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._pending:
                self._write(False)
            try:
                return self._fetch(sql, args)
            except self._errors as exc:
                raise JournalError(f"cannot read the journal at {self.location}: {exc}") from None

    def events(self, run_id: str, types: tuple[str, ...] = ()) -> list[Event]:
        query = f"SELECT {_COLUMNS} FROM journal_events WHERE run_id = ?"
        args: list[Any] = [run_id]
        if types:
            query += f" AND type IN ({','.join('?' * len(types))})"
            args += list(types)
        return [_event(r) for r in self._query(query + " ORDER BY seq", args)]

    def first_events(self, type_: str, limit: int = 50) -> list[Event]:
        """The most recent events of one type, newest first (e.g. run.started for `runs list`)."""
        rows = self._query(
            f"SELECT {_COLUMNS} FROM journal_events WHERE type = ? ORDER BY seq DESC LIMIT ?", (type_, limit)
        )
        return [_event(r) for r in rows]

    def last_event(self, run_id: str) -> Event | None:
        rows = self._query(
            f"SELECT {_COLUMNS} FROM journal_events WHERE run_id = ? ORDER BY seq DESC LIMIT 1", (run_id,)
        )
        return _event(rows[0]) if rows else None

    def find_run(self, prefix: str) -> str | None:
        """A run id from a unique prefix, so responders can type the first few characters."""
        rows = self._query(
            "SELECT DISTINCT run_id FROM journal_events WHERE run_id LIKE ? LIMIT 2",
            (prefix.replace("%", "") + "%",),
        )
        return str(rows[0][0]) if len(rows) == 1 else None


def _event(row: tuple[Any, ...]) -> Event:
    return Event(row[1], row[0], row[2], row[3], row[4], row[5], row[6], json.loads(row[7]), row[8])
