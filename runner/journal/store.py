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
import contextlib
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
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
# One row per run (or game day) that a process is driving: who, where, and until when (see lease.py).
LEASE_DDL = (
    "CREATE TABLE IF NOT EXISTS run_leases ("
    "run_id TEXT PRIMARY KEY, token TEXT NOT NULL, actor TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL, "
    "machine TEXT NOT NULL, proc_start TEXT NOT NULL, acquired TEXT NOT NULL, renewed TEXT NOT NULL, "
    "expires DOUBLE PRECISION NOT NULL)"
)
_LEASE_COLUMNS = "run_id, token, actor, host, pid, machine, proc_start, acquired, renewed, expires"


@dataclass(frozen=True)
class LeaseRecord:
    """The holder of a run's lease as the store records it. `machine` says where `pid` means something (boot
    and pid namespace); `proc_start` tells a reused pid from the holder; `expires` is on the store's clock."""

    run_id: str
    token: str
    actor: str
    host: str
    pid: int
    machine: str
    proc_start: str
    acquired: str  # UTC, for people
    renewed: str
    expires: float = 0.0


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
        self._fences: dict[str, str] = {}  # run id → the token of the lease this process holds for it
        try:
            self._connect()
        except (sqlite3.Error, OSError) as exc:
            raise self._open_error(exc) from None
        atexit.register(self.flush)  # queued events of a short-lived command reach the store

    def _open_error(self, exc: BaseException) -> JournalError:
        if _is_corrupt(exc):
            return _corrupt(self.location, exc)
        return JournalError(
            f"cannot open the journal at {self.location}: {exc}",
            hint=_full_hint(self.path)
            if _is_full(exc)
            else "set FIRELINE_HOME to a writable directory, or FIRELINE_STORE",
        )

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
        # Checked before SQLite opens the file: on an empty database it deletes the -wal file it finds.
        emptied = _emptied_journal(self.path)
        if emptied:
            raise JournalError(
                f"the journal at {self.path} is empty (0 bytes) but {emptied}: it was emptied or replaced, "
                "and the runs, approvals and game days it recorded are not in it",
                hint=f"restore it from a backup, or move it aside with its -wal and -shm files "
                f"(mv {self.path} {self.path}.empty) to start a new journal",
            )
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            self._create_schema()
        except BaseException:
            self._db.close()
            raise

    def _create_schema(self) -> None:
        tables = {str(r[0]) for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "journal_events" not in tables:  # refused before anything is written into it
            raise JournalError(
                f"{self.path} is an SQLite database but not a fireline journal "
                f"(it has the tables {', '.join(sorted(tables)[:5])})",
                hint="point FIRELINE_HOME (or FIRELINE_STORE) at fireline's own journal, or move this file aside",
            )
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
            + LEASE_DDL
            + ";"
        )
        self._db.execute(_VIEW.format(if_not_exists="VIEW IF NOT EXISTS"))
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def _insert(self, rows: list[tuple[Any, ...]], durable: bool) -> None:
        if durable:
            self._db.execute("PRAGMA synchronous=FULL")
        try:
            with self._transaction():
                if durable:
                    self._check_fences(rows)
                self._db.executemany(_INSERT, rows)
        finally:
            if durable:
                self._db.execute("PRAGMA synchronous=NORMAL")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[float]:
        """One write transaction, taking the write lock at once (two processes deciding the same thing are
        serialized); yields the store's clock."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield time.time()
            self._db.execute("COMMIT")
        except BaseException:
            # SQLite rolls back by itself on some errors (a full disk, I/O errors): a ROLLBACK then fails
            # with "no transaction is active", which must not hide the error that matters.
            if self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            raise

    def _execute(self, sql: str, args: tuple[Any, ...]) -> int:
        return self._db.execute(sql, args).rowcount

    def _fetch(self, sql: str, args: tuple[Any, ...] | list[Any]) -> list[tuple[Any, ...]]:
        return self._db.execute(sql, args).fetchall()

    _for_update = _for_share = ""  # BEGIN IMMEDIATE already holds the only write lock

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
            raise self._failure("write to", exc) from None

    def _failure(self, doing: str, exc: BaseException) -> JournalError:
        if _is_corrupt(exc):
            return _corrupt(self.location, exc)
        hint = _full_hint(self.path) if _is_full(exc) else None
        return JournalError(f"cannot {doing} the journal at {self.location}: {exc}", hint=hint)

    def _query(self, sql: str, args: tuple[Any, ...] | list[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._pending:
                self._write(False)
            try:
                return self._fetch(sql, args)
            except self._errors as exc:
                raise self._failure("read", exc) from None

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

    # -- run leases (the policy is in lease.py) ----------------------------------------------------------------
    def fence(self, run_id: str, token: str | None) -> None:
        """From now on (until None), durable events of `run_id` are written only while the lease with this
        token holds it. A holder that was suspended or cut off past its expiry and taken over then stops
        before its next change instead of making it alongside the new owner."""
        with self._lock:
            if token is None:
                self._fences.pop(run_id, None)
            else:
                self._fences[run_id] = token

    def _check_fences(self, rows: list[tuple[Any, ...]]) -> None:
        """Inside the write transaction, so no takeover can slip in between the check and the commit."""
        for run_id in sorted({str(r[0]) for r in rows} & self._fences.keys()):
            found = self._fetch("SELECT token FROM run_leases WHERE run_id = ?" + self._for_share, (run_id,))
            if not found or found[0][0] != self._fences[run_id]:
                raise JournalError(
                    f"this process no longer holds {run_id}: another process took it over (this one was "
                    "suspended or cut off from the journal for too long); stopped before the next change",
                    hint=f"see `fireline runs show {run_id}`; continue it from one place only",
                )

    def claim_lease(
        self, mine: LeaseRecord, ttl: float, replaceable: Callable[[LeaseRecord, float], bool]
    ) -> LeaseRecord | None:
        """Take the lease of `mine.run_id` in one transaction: free, or held by a holder `replaceable` gives
        up on (given the store's clock). Returns None when taken, else the holder who keeps it."""
        sql_insert = f"INSERT INTO run_leases ({_LEASE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        select = f"SELECT {_LEASE_COLUMNS} FROM run_leases WHERE run_id = ?" + self._for_update
        update = (
            "UPDATE run_leases SET token = ?, actor = ?, host = ?, pid = ?, machine = ?, proc_start = ?, "
            "acquired = ?, renewed = ?, expires = ? WHERE run_id = ?"
        )
        with self._lock:
            try:
                for _ in range(10):  # a row deleted between the insert and the select: look again
                    with self._transaction() as now:
                        row = _lease_values(mine, now + ttl)
                        # Insert first: of two processes inserting at once, exactly one succeeds.
                        if self._execute(sql_insert + "ON CONFLICT (run_id) DO NOTHING", row):
                            return None
                        found = self._fetch(select, (mine.run_id,))
                        if not found:
                            continue
                        holder = LeaseRecord(*found[0])
                        if not replaceable(holder, now):
                            return holder
                        self._execute(update, (*row[1:], mine.run_id))
                        return None
            except self._errors as exc:
                raise self._failure("take a lease in", exc) from None
        raise JournalError(f"cannot take the lease of {mine.run_id} in the journal at {self.location}")

    def renew_lease(self, run_id: str, token: str, ttl: float) -> bool:
        """Push the lease's expiry out; False when it is no longer ours (someone took it over)."""
        wall = _now_wall()
        with self._lock:
            try:
                with self._transaction() as now:
                    return bool(
                        self._execute(
                            "UPDATE run_leases SET renewed = ?, expires = ? WHERE run_id = ? AND token = ?",
                            (wall, now + ttl, run_id, token),
                        )
                    )
            except self._errors as exc:
                raise self._failure("renew a lease in", exc) from None

    def lease_holder(self, run_id: str) -> LeaseRecord | None:
        rows = self._query(f"SELECT {_LEASE_COLUMNS} FROM run_leases WHERE run_id = ?", (run_id,))
        return LeaseRecord(*rows[0]) if rows else None

    def release_lease(self, run_id: str, token: str) -> None:
        with self._lock:
            try:
                with self._transaction():
                    self._execute("DELETE FROM run_leases WHERE run_id = ? AND token = ?", (run_id, token))
            except self._errors as exc:
                raise self._failure("release a lease in", exc) from None


def _lease_values(lease: LeaseRecord, expires: float) -> tuple[Any, ...]:
    return (
        lease.run_id, lease.token, lease.actor, lease.host, lease.pid, lease.machine, lease.proc_start,
        lease.acquired, lease.renewed, expires,
    )  # fmt: skip


def _now_wall() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- errors that hide their cause -----------------------------------------------------------------------------
def _is_corrupt(exc: BaseException) -> bool:
    # SQLITE_NOTADB and SQLITE_CORRUPT (their numeric codes are only on Python 3.11+ exceptions).
    return getattr(exc, "sqlite_errorcode", None) in (11, 26) or any(
        text in str(exc) for text in ("file is not a database", "database disk image is malformed")
    )


def _is_full(exc: BaseException) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == 13 or "database or disk is full" in str(exc)


def _full_hint(path: Path) -> str:
    return f"free space on the filesystem of {path.parent} (or set FIRELINE_HOME elsewhere), then resume"


def _corrupt(location: str, exc: BaseException) -> JournalError:
    return JournalError(
        f"the file at {location} is not a fireline journal or is corrupt ({exc})",
        hint=f"move it aside with its -wal and -shm files (mv {location} {location}.broken) so fireline starts a "
        "new journal, and keep it: `sqlite3 FILE .recover` may save its events",
    )


def _emptied_journal(path: Path) -> str | None:
    """Why a zero-byte journal file is not simply new (what else fireline left around it), or None.

    SQLite treats an empty file as a new database. fireline writes the file's first page when it creates a
    journal, so an empty journal.db next to its own -wal file, or in a FIRELINE_HOME with other state in it,
    was truncated or replaced: starting over silently would lose paused runs and game days to recover."""
    try:
        if path.stat().st_size:
            return None
    except FileNotFoundError:
        return None
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size:
        return f"its write-ahead log {wal.name} is not empty"
    others = sorted(p.name for p in path.parent.iterdir() if not p.name.startswith(path.name))
    if path.parent == fireline_home() and others:
        return f"{path.parent} holds other fireline state ({', '.join(others[:5])})"
    return None


def _event(row: tuple[Any, ...]) -> Event:
    return Event(row[1], row[0], row[2], row[3], row[4], row[5], row[6], json.loads(row[7]), row[8])
