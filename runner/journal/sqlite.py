"""The SQLite journal: one file (WAL) shared by every fireline process on the machine.

A durable insert is committed with synchronous=FULL (fsynced); queued ones with NORMAL. Write transactions
take SQLite's single write lock at once (BEGIN IMMEDIATE), so two processes deciding the same thing (who
holds a lease, whether a fenced event may be written) are serialized.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from runner.errors import JournalError
from runner.journal import backend, incidents
from runner.journal.backend import (
    CHAIN_COLUMNS,
    CHAINED_FROM,
    EVENT_COLUMNS,
    LEASE_COLUMNS,
    LeaseRecord,
    Migration,
    Refused,
    Row,
    StoredRow,
    fireline_home,
)
from runner.journal.chain import event_hash, run_origin
from runner.journal.events import SCHEMA_VERSION
from runner.journal.incidents import AlertGroup
from runner.journal.writers import WriterTurns

INSERT = (
    "INSERT INTO journal_events (run_id, ts_wall, ts_mono, type, step_id, actor, data, boot, prev_hash, hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
LAST_HASH = "SELECT hash FROM journal_events WHERE run_id = ? ORDER BY seq DESC LIMIT 1"
# Run ids starting with a prefix, as a range of the (run_id, seq) index: binary order keeps them together.
# (LIKE, case-insensitive in SQLite, cannot use the index: it read every event of the store.)
RUN_IDS = "SELECT DISTINCT run_id FROM journal_events WHERE run_id >= ? AND run_id < ? LIMIT 2"
RUN_IDS_SCAN = "SELECT DISTINCT run_id FROM journal_events WHERE substr(run_id, 1, length(?1)) = ?1 LIMIT 2"
# One row per run (or game day) that a process is driving: who, where, and until when (see lease.py).
LEASES_DDL = """
CREATE TABLE IF NOT EXISTS run_leases (
    run_id TEXT PRIMARY KEY, token TEXT NOT NULL, actor TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
    machine TEXT NOT NULL, proc_start TEXT NOT NULL, acquired TEXT NOT NULL, renewed TEXT NOT NULL,
    expires REAL NOT NULL
)"""
# Named counters (incident numbers per year): a number once taken is never given again.
COUNTERS_DDL = "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)"
NEXT_NUMBER = (
    "INSERT INTO counters (name, value) VALUES (?, 1) "
    "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value"
)
# For people and tools reading the journal with sqlite3: one row per event, in the documented shape.
VIEW_DDL = (
    "CREATE VIEW IF NOT EXISTS events AS "
    "SELECT run_id, seq, ts_wall, ts_mono, type, step_id, actor, data FROM journal_events"
)
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS journal_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, ts_wall TEXT NOT NULL,
        ts_mono REAL NOT NULL, type TEXT NOT NULL, step_id TEXT, actor TEXT, data TEXT NOT NULL,
        boot TEXT NOT NULL DEFAULT '', prev_hash TEXT, hash TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS journal_events_run ON journal_events (run_id, seq)",
    "CREATE INDEX IF NOT EXISTS journal_events_type ON journal_events (type, seq)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    LEASES_DDL,
    VIEW_DDL,
    COUNTERS_DDL,
    *incidents.DDL,
    *incidents.ALERT_DDL,
]


# -- migrations from older journals ------------------------------------------------------------------------------
def _is_table(db: sqlite3.Connection, name: str) -> bool:
    return bool(db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchall())


def _to_v2(db: sqlite3.Connection) -> None:
    """Schema 1 numbered events per run in a table `events`; schema 2 numbers them store-wide in
    journal_events (so several processes can append to one run) and `events` is a view of it."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS journal_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, "
        "ts_wall TEXT NOT NULL, ts_mono REAL NOT NULL, type TEXT NOT NULL, step_id TEXT, actor TEXT, "
        "data TEXT NOT NULL)"
    )
    if _is_table(db, "events"):
        # rowid is the order the events were written in, which keeps each run's own order.
        db.execute(
            "INSERT INTO journal_events (run_id, ts_wall, ts_mono, type, step_id, actor, data) "
            "SELECT run_id, ts_wall, ts_mono, type, step_id, actor, data FROM events ORDER BY rowid"
        )
        db.execute("DROP TABLE events")
    db.execute("CREATE INDEX IF NOT EXISTS journal_events_run ON journal_events (run_id, seq)")
    db.execute(VIEW_DDL)


def _to_v3(db: sqlite3.Connection) -> None:
    """Events carry the boot their monotonic time belongs to; listing by type follows seq."""
    columns = {str(row[1]) for row in db.execute("PRAGMA table_info(journal_events)")}
    if "boot" not in columns:
        db.execute("ALTER TABLE journal_events ADD COLUMN boot TEXT NOT NULL DEFAULT ''")
    db.execute("DROP INDEX IF EXISTS journal_events_type")
    db.execute("CREATE INDEX journal_events_type ON journal_events (type, seq)")


def _to_v4(db: sqlite3.Connection) -> None:
    db.execute(LEASES_DDL)


def _to_v5(db: sqlite3.Connection) -> None:
    """Events carry the hash chain (runner.journal.chain); the events already stored are not chained, and
    meta records where the chained ones begin."""
    columns = {str(row[1]) for row in db.execute("PRAGMA table_info(journal_events)")}
    for column in ("prev_hash", "hash"):
        if column not in columns:
            db.execute(f"ALTER TABLE journal_events ADD COLUMN {column} TEXT")
    db.execute("INSERT OR IGNORE INTO meta SELECT ?, coalesce(max(seq), 0) + 1 FROM journal_events", (CHAINED_FROM,))


def _to_v6(db: sqlite3.Connection) -> None:
    db.execute(COUNTERS_DDL)


def _to_v7(db: sqlite3.Connection) -> None:
    """The incident index (runner.journal.incidents), filled from the incident events already stored."""
    for statement in incidents.DDL:
        db.execute(statement)
    _index_incidents(db)


def _to_v8(db: sqlite3.Connection) -> None:
    """The alert group each incident was declared for, and the rule that one open incident holds a group."""
    columns = {str(row[1]) for row in db.execute("PRAGMA table_info(incident_index)")}
    for column in incidents.ALERT_COLUMNS:
        if column not in columns:
            db.execute(f"ALTER TABLE incident_index ADD COLUMN {column} TEXT")
    _index_incidents(db)  # before the unique index: the groups as the events say
    for statement in incidents.ALERT_DDL:
        db.execute(statement)


def _index_incidents(db: sqlite3.Connection) -> None:
    """Build the incident index again from the events (inside a write transaction)."""
    db.execute("DELETE FROM incident_index")
    for sql, params in incidents.changes(db.execute(incidents.SOURCE).fetchall()):
        db.execute(sql, params)


MIGRATIONS: list[Migration[sqlite3.Connection]] = [
    Migration(2, "one store-wide event sequence", _to_v2),
    Migration(3, "the boot of each event's monotonic clock", _to_v3),
    Migration(4, "run leases", _to_v4),
    Migration(5, "the hash chain of each run's events", _to_v5),
    Migration(6, "named counters (incident ids)", _to_v6),
    Migration(7, "the incident index", _to_v7),
    Migration(8, "alert groups of incidents (one open incident per group)", _to_v8),
]


class SqliteBackend:
    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else fireline_home() / "journal.db"
        self._turns = WriterTurns(self.path)  # appends from many processes take turns (see writers.py)
        try:
            self._db = self._connect()
        except (sqlite3.Error, OSError) as exc:
            raise self._open_error(exc) from None

    @property
    def location(self) -> str:
        return str(self.path)

    def reopen(self) -> SqliteBackend:
        return SqliteBackend(self.path)

    def close(self) -> None:
        self._db.close()
        self._turns.close()

    # -- opening ---------------------------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
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
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            self._prepare(db)
        except BaseException:
            db.close()
            raise
        return db

    def _prepare(self, db: sqlite3.Connection) -> None:
        """Create, migrate or refuse the store. Nothing is written before it is known to be fireline's own
        journal of a schema this fireline understands."""
        found = self._version(db)
        if found == SCHEMA_VERSION:  # the usual case: no write, no lock
            db.execute("PRAGMA synchronous=NORMAL")
            return
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        with _transaction(db):
            found = self._version(db)  # another process may have created or migrated it meanwhile
            if found is None:
                for statement in SCHEMA:
                    db.execute(statement)
            else:
                backend.migrate(MIGRATIONS, found, db)
            if found != SCHEMA_VERSION:
                db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", backend.version_rows())

    def _version(self, db: sqlite3.Connection) -> int | None:
        """The store's schema version (None: a new, empty database); refuses foreign and newer stores."""
        tables = {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return None
        meta: dict[str, str] = {}
        if "meta" in tables:
            # Another program's table of that name may have other columns: then it is not fireline's.
            with contextlib.suppress(sqlite3.OperationalError):
                meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if "journal_events" not in tables and "schema_version" not in meta:  # refused before any write
            raise JournalError(
                f"{self.path} is an SQLite database but not a fireline journal "
                f"(it has the tables {', '.join(sorted(tables)[:5])})",
                hint="point FIRELINE_HOME (or FIRELINE_STORE) at fireline's own journal, or move this file aside",
            )
        return backend.stored_version(self.location, meta, missing=1)  # schema 1 stores may lack it

    def _open_error(self, exc: BaseException) -> JournalError:
        if _is_corrupt(exc):
            return _corrupt(self.location, exc)
        return JournalError(
            f"cannot open the journal at {self.location}: {exc}",
            hint=_full_hint(self.path)
            if _is_full(exc)
            else "set FIRELINE_HOME to a writable directory, or FIRELINE_STORE",
        )

    def failure(self, doing: str, exc: BaseException) -> JournalError:
        if _is_corrupt(exc):
            return _corrupt(self.location, exc)
        hint = _full_hint(self.path) if _is_full(exc) else None
        return JournalError(f"cannot {doing} the journal at {self.location}: {exc}", hint=hint)

    # -- events ----------------------------------------------------------------------------------------------------
    def insert(self, rows: Sequence[Row], durable: bool, fences: Mapping[str, str]) -> None:
        db = self._db
        if durable:
            db.execute("PRAGMA synchronous=FULL")
        try:
            with self._turns.turn(), _transaction(db):
                if durable and fences:
                    backend.check_fences(rows, fences, self._token)
                self._add(rows)
        finally:
            if durable:
                db.execute("PRAGMA synchronous=NORMAL")

    def _add(self, rows: Sequence[Row]) -> None:
        """Insert `rows` with their chain columns, and move the incident index with them (inside the write
        transaction)."""
        self._db.executemany(INSERT, self._chained(rows))
        for sql, params in incidents.changes(rows):
            self._db.execute(sql, params)

    def _chained(self, rows: Sequence[Row]) -> list[tuple[object, ...]]:
        """`rows` with their chain columns. Called inside the write transaction: BEGIN IMMEDIATE holds the
        store's only write lock, so no other process appends between reading a run's last hash and this insert."""
        last: dict[str, str] = {}
        chained: list[tuple[object, ...]] = []
        for run_id, wall, mono, type_, step_id, actor, data, boot in rows:
            prev = last.get(run_id)
            if prev is None:
                found = self._db.execute(LAST_HASH, (run_id,)).fetchone()
                prev = str(found[0]) if found and found[0] else run_origin(run_id)
            last[run_id] = event_hash(run_id, wall, mono, boot, type_, step_id, actor, data, None, prev)
            chained.append((run_id, wall, mono, type_, step_id, actor, data, boot, prev, last[run_id]))
        return chained

    def _token(self, run_id: str) -> str | None:
        found = self._db.execute("SELECT token FROM run_leases WHERE run_id = ?", (run_id,)).fetchall()
        return str(found[0][0]) if found else None

    def events(self, run_id: str, types: tuple[str, ...]) -> list[StoredRow]:
        query = f"SELECT {EVENT_COLUMNS} FROM journal_events WHERE run_id = ?"
        if types:
            query += f" AND type IN ({','.join('?' * len(types))})"
        return self._db.execute(query + " ORDER BY seq", (run_id, *types)).fetchall()

    def newest(self, type_: str, limit: int) -> list[StoredRow]:
        sql = f"SELECT {EVENT_COLUMNS} FROM journal_events WHERE type = ? ORDER BY seq DESC LIMIT ?"
        return self._db.execute(sql, (type_, limit)).fetchall()

    def last(self, run_id: str) -> StoredRow | None:
        sql = f"SELECT {EVENT_COLUMNS} FROM journal_events WHERE run_id = ? ORDER BY seq DESC LIMIT 1"
        row: StoredRow | None = self._db.execute(sql, (run_id,)).fetchone()
        return row

    def run_ids(self, prefix: str) -> list[str]:
        end = _prefix_end(prefix)
        rows = self._db.execute(RUN_IDS, (prefix, end)) if end else self._db.execute(RUN_IDS_SCAN, (prefix,))
        return [str(r[0]) for r in rows]

    def chain(self, run_id: str) -> list[StoredRow]:
        columns = CHAIN_COLUMNS.replace("db_user", "NULL")
        sql = f"SELECT {columns} FROM journal_events WHERE run_id = ? ORDER BY seq"
        return self._db.execute(sql, (run_id,)).fetchall()

    def all_run_ids(self) -> list[str]:
        sql = "SELECT run_id FROM journal_events GROUP BY run_id ORDER BY min(seq)"
        return [str(r[0]) for r in self._db.execute(sql)]

    def chained_from(self) -> int:
        return backend.chained_from(dict(self._db.execute("SELECT key, value FROM meta").fetchall()))

    def next_number(self, counter: str) -> int:
        # BEGIN IMMEDIATE: the increment and its read are one step under the store's write lock.
        with _transaction(self._db):
            row = self._db.execute(NEXT_NUMBER, (counter,)).fetchone()
        return int(row[0])

    def insert_numbered(self, counter: str, rows: Callable[[int], Sequence[Row]]) -> int:
        db = self._db
        db.execute("PRAGMA synchronous=FULL")
        try:
            with self._turns.turn(), _transaction(db):
                number = int(db.execute(NEXT_NUMBER, (counter,)).fetchone()[0])
                self._add(rows(number))
        except sqlite3.IntegrityError as exc:
            # Raised inside the transaction, which rolled back: the number was not taken either. SQLite names
            # the unique index's table and column, not the index.
            if "incident_index.alert_claim" in str(exc):
                raise Refused(str(exc)) from None
            raise
        finally:
            db.execute("PRAGMA synchronous=NORMAL")
        return number

    # -- the incident index ----------------------------------------------------------------------------------------
    def incident_rows(self) -> list[StoredRow]:
        return self._db.execute(incidents.ALL).fetchall()

    def open_incidents(self, limit: int) -> list[str]:
        return [str(r[0]) for r in self._db.execute(incidents.OPEN_IDS, (limit,))]

    def rebuild_incidents(self) -> None:
        with _transaction(self._db):
            _index_incidents(self._db)

    def alert_group(self, digest: str) -> AlertGroup | None:
        row = self._db.execute(incidents.GROUP_NEWEST, (digest,)).fetchone()
        return AlertGroup(str(row[0]), str(row[1]), bool(row[2])) if row else None

    # -- leases ----------------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def leases(self) -> Iterator[_SqliteLeases]:
        with _transaction(self._db):
            yield _SqliteLeases(self._db, time.time())

    def lease_holder(self, run_id: str) -> LeaseRecord | None:
        sql = f"SELECT {LEASE_COLUMNS} FROM run_leases WHERE run_id = ?"
        rows = self._db.execute(sql, (run_id,)).fetchall()
        return LeaseRecord(*rows[0]) if rows else None


class _SqliteLeases:
    """BEGIN IMMEDIATE already holds the only write lock: rows need no locking of their own."""

    def __init__(self, db: sqlite3.Connection, now: float) -> None:
        self._db, self.now = db, now

    def insert(self, lease: LeaseRecord, expires: float) -> bool:
        sql = f"INSERT INTO run_leases ({LEASE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        return bool(self._db.execute(sql, (*lease.columns(), expires)).rowcount)

    def holder(self, run_id: str) -> LeaseRecord | None:
        rows = self._db.execute(f"SELECT {LEASE_COLUMNS} FROM run_leases WHERE run_id = ?", (run_id,)).fetchall()
        return LeaseRecord(*rows[0]) if rows else None

    def replace(self, lease: LeaseRecord, expires: float) -> None:
        self._db.execute(
            "UPDATE run_leases SET token = ?, actor = ?, host = ?, pid = ?, machine = ?, proc_start = ?, "
            "acquired = ?, renewed = ?, expires = ? WHERE run_id = ?",
            (*lease.columns()[1:], expires, lease.run_id),
        )

    def renew(self, run_id: str, token: str, renewed: str, expires: float) -> bool:
        sql = "UPDATE run_leases SET renewed = ?, expires = ? WHERE run_id = ? AND token = ?"
        return bool(self._db.execute(sql, (renewed, expires, run_id, token)).rowcount)

    def release(self, run_id: str, token: str) -> None:
        self._db.execute("DELETE FROM run_leases WHERE run_id = ? AND token = ?", (run_id, token))


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, taking the write lock at once."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        # SQLite rolls back by itself on some errors (a full disk, I/O errors): a ROLLBACK then fails with
        # "no transaction is active", which must not hide the error that matters.
        if db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
        raise


def _prefix_end(prefix: str) -> str | None:
    """The first text after every text that starts with `prefix` (None: no such text, or no prefix)."""
    if not prefix or prefix[-1] == chr(0x10FFFF):
        return None
    last = ord(prefix[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # surrogates are not text: the next character after them
        last = 0xE000
    return prefix[:-1] + chr(last)


# -- errors that hide their cause ----------------------------------------------------------------------------------
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
