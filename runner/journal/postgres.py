"""The team journal on PostgreSQL (`FIRELINE_STORE=postgresql://…`): the same events and semantics as the
SQLite file, so a run paused on one machine can be approved from another and resumed anywhere.

Imported only when the store is PostgreSQL: psycopg is not loaded for anyone else. Every commit is durable
(synchronous_commit), so a durable insert differs from a queued one only in its fence check. Lease expiries
are on the server's clock, the one clock every machine sharing the store agrees on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence

import psycopg
from psycopg.conninfo import conninfo_to_dict

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
)
from runner.journal.events import SCHEMA_VERSION
from runner.journal.incidents import AlertGroup

INSERT = (
    "INSERT INTO journal_events (run_id, ts_wall, ts_mono, type, step_id, actor, data, boot) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)
LEASES_DDL = """
CREATE TABLE IF NOT EXISTS run_leases (
    run_id TEXT PRIMARY KEY, token TEXT NOT NULL, actor TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
    machine TEXT NOT NULL, proc_start TEXT NOT NULL, acquired TEXT NOT NULL, renewed TEXT NOT NULL,
    expires DOUBLE PRECISION NOT NULL
)"""
# Named counters (incident numbers per year): a number once taken is never given again.
COUNTERS_DDL = "CREATE TABLE IF NOT EXISTS fireline_counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)"
# One statement: the row lock taken by the upsert makes a concurrent caller wait and then see the new value.
NEXT_NUMBER = (
    "INSERT INTO fireline_counters AS c (name, value) VALUES (%s, 1) "
    "ON CONFLICT (name) DO UPDATE SET value = c.value + 1 RETURNING c.value"
)
_RUN_LOCK = 7726452  # with hashtext(run_id): one appender per run at a time (the chain's previous event)


def _field(column: str) -> str:
    """chain.py's field(): NULL as FF FF FF FF, text as its UTF-8 length (4 bytes, big-endian) and bytes.
    Written out in place rather than as an SQL function: PL/pgSQL would call one eleven times per event at a
    cost that tripled the insert's."""
    utf8 = f"convert_to({column}, 'UTF8')"
    return f"coalesce(int4send(octet_length({utf8})) || {utf8}, '\\xffffffff'::bytea)"


_EVENT_BYTES = " || ".join(
    ["'fireline-event-v1'::bytea", _field("NEW.run_id"), _field("NEW.ts_wall"), "float8send(NEW.ts_mono)"]
    + [_field(f"NEW.{c}") for c in ("boot", "type", "step_id", "actor", "data", "db_user", "prev_hash")]
)
# The hash chain (runner.journal.chain, whose docstring defines the hash: this computes the same bytes), the
# server's own record of who inserted each event (session_user), and the per-run lock, all in the server: a
# client can neither skip the chain nor give another db_user (the trigger overwrites what it sends), and an
# append costs no extra round trip. The lock is taken before the previous event is read and before the row
# gets its seq, and held until the transaction ends, so a run's events are chained in seq order even when
# several processes append to it (a game day and `fireline approve` from another terminal).
CHAIN_DDL = [
    "ALTER TABLE journal_events ADD COLUMN IF NOT EXISTS db_user TEXT, ADD COLUMN IF NOT EXISTS prev_hash TEXT, "
    "ADD COLUMN IF NOT EXISTS hash TEXT",
    f"""CREATE OR REPLACE FUNCTION fireline_chain_event() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_advisory_xact_lock({_RUN_LOCK}, hashtext(NEW.run_id));
        NEW.seq := nextval('journal_events_seq_seq');
        NEW.db_user := session_user;
        -- A statement in a volatile function sees what was committed before it started: after the lock.
        NEW.prev_hash := coalesce(
            (SELECT hash FROM journal_events WHERE run_id = NEW.run_id ORDER BY seq DESC LIMIT 1),
            encode(sha256('fireline-run-v1'::bytea || {_field("NEW.run_id")}), 'hex'));
        NEW.hash := encode(sha256({_EVENT_BYTES}), 'hex');
        RETURN NEW;
    END $$""",
    "DROP TRIGGER IF EXISTS journal_events_chain ON journal_events",
    "CREATE TRIGGER journal_events_chain BEFORE INSERT ON journal_events "
    "FOR EACH ROW EXECUTE FUNCTION fireline_chain_event()",
]
# A batch with events of several runs takes their locks first, in one order, so two such batches never wait
# for each other in a circle.
LOCK_RUNS = (
    f"SELECT count(pg_advisory_xact_lock({_RUN_LOCK}, k)) "
    "FROM (SELECT DISTINCT hashtext(r) AS k FROM unnest(%s::text[]) AS r ORDER BY k) AS keys"
)
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS journal_events (
        seq BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, ts_wall TEXT NOT NULL, ts_mono DOUBLE PRECISION NOT NULL,
        type TEXT NOT NULL, step_id TEXT, actor TEXT, data TEXT NOT NULL, boot TEXT NOT NULL DEFAULT ''
    )""",
    *CHAIN_DDL,
    "CREATE INDEX IF NOT EXISTS journal_events_run ON journal_events (run_id, seq)",
    "CREATE INDEX IF NOT EXISTS journal_events_type ON journal_events (type, seq)",
    "CREATE TABLE IF NOT EXISTS fireline_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    LEASES_DDL,
    COUNTERS_DDL,
    *incidents.DDL,
    *incidents.ALERT_DDL,
    # For people and tools reading the store with psql: one row per event, in the documented shape.
    "CREATE OR REPLACE VIEW events AS "
    "SELECT run_id, seq, ts_wall, ts_mono, type, step_id, actor, data FROM journal_events",
]
_CREATOR_LOCK = 7726451  # one creator or migrator at a time: CREATE ... IF NOT EXISTS races otherwise


def _to_v4(db: psycopg.Connection) -> None:
    db.execute(LEASES_DDL)


def _to_v5(db: psycopg.Connection) -> None:
    """The hash chain. ALTER TABLE locks the table first: no event is inserted between it and reading where
    the chained events begin (the events stored before are not chained)."""
    for statement in CHAIN_DDL:
        db.execute(statement)
    db.execute(
        "INSERT INTO fireline_meta SELECT %s, (coalesce(max(seq), 0) + 1)::text FROM journal_events "
        "ON CONFLICT (key) DO NOTHING",
        (CHAINED_FROM,),
    )


def _to_v6(db: psycopg.Connection) -> None:
    db.execute(COUNTERS_DDL)


def _to_v7(db: psycopg.Connection) -> None:
    """The incident index (runner.journal.incidents), filled from the incident events already stored."""
    for statement in incidents.DDL:
        db.execute(statement)
    _index_incidents(db)


def _to_v8(db: psycopg.Connection) -> None:
    """The alert group each incident was declared for, and the rule that one open incident holds a group."""
    columns = ", ".join(f"ADD COLUMN IF NOT EXISTS {column} TEXT" for column in incidents.ALERT_COLUMNS)
    db.execute(f"ALTER TABLE incident_index {columns}")
    _index_incidents(db)  # before the unique index: the groups as the events say
    for statement in incidents.ALERT_DDL:
        db.execute(statement)


def _index_incidents(db: psycopg.Connection) -> None:
    """Build the incident index again from the events (inside a transaction). No event is inserted meanwhile
    (SHARE mode lets readers in, not writers): a change made between reading the events and committing the
    new index would be lost."""
    db.execute("LOCK TABLE journal_events IN SHARE MODE")
    db.execute("DELETE FROM incident_index")
    with db.cursor() as cur:
        for sql, params in incidents.changes(db.execute(incidents.SOURCE).fetchall()):
            cur.execute(_placeholders(sql), params)


def _add(cur: psycopg.Cursor[StoredRow], rows: Sequence[Row]) -> None:
    """Insert `rows` (the trigger chains them) and move the incident index with them, inside a transaction."""
    runs = {row[0] for row in rows}
    if len(runs) > 1:
        cur.execute(LOCK_RUNS, (sorted(runs),))
    cur.executemany(INSERT, rows)
    for sql, params in incidents.changes(rows):
        cur.execute(_placeholders(sql), params)


def _placeholders(sql: str) -> str:
    """runner.journal.incidents writes its SQL with `?`; psycopg's placeholder is %s."""
    return sql.replace("?", "%s")


# The team store came with schema 3 (store-wide seq, boot column): nothing older exists on PostgreSQL.
MIGRATIONS: list[Migration[psycopg.Connection]] = [
    Migration(4, "run leases", _to_v4),
    Migration(5, "the hash chain of each run's events, and who inserted them", _to_v5),
    Migration(6, "named counters (incident ids)", _to_v6),
    Migration(7, "the incident index", _to_v7),
    Migration(8, "alert groups of incidents (one open incident per group)", _to_v8),
]


class PostgresBackend:
    errors: tuple[type[BaseException], ...] = (psycopg.Error,)

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        try:
            self._db = psycopg.connect(dsn, autocommit=True, connect_timeout=10, application_name="fireline")
            # The chain trigger reads a run's previous event after taking its lock: that needs a snapshot per
            # statement, whatever the server's default isolation is (sent with BEGIN: no extra round trip).
            self._db.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
        except psycopg.Error as exc:
            raise JournalError(
                f"cannot open the journal at {self.location}: {str(exc).strip()}",
                hint="check that the server in FIRELINE_STORE is up and reachable, and its credentials",
            ) from None
        try:
            self._prepare()
        except psycopg.Error as exc:
            self._db.close()
            raise self.failure("open", exc) from None
        except BaseException:
            self._db.close()
            raise

    @property
    def location(self) -> str:
        try:
            parts = conninfo_to_dict(self._dsn)
        except psycopg.Error:
            return "postgresql://…"  # unparseable: never echo it, it may hold a password
        where = f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"
        return f"postgresql://{parts.get('user', '')}@{where}"

    def reopen(self) -> PostgresBackend:
        return PostgresBackend(self._dsn)

    def close(self) -> None:
        self._db.close()

    def failure(self, doing: str, exc: BaseException) -> JournalError:
        return JournalError(f"cannot {doing} the journal at {self.location}: {str(exc).strip()}")

    # -- opening ---------------------------------------------------------------------------------------------------
    def _prepare(self) -> None:
        """Create, migrate or refuse the store; nothing is written to a store of a newer schema."""
        with self._db.transaction():
            if self._version() == SCHEMA_VERSION:  # the usual case: no lock, no write
                return
            self._db.execute("SELECT pg_advisory_xact_lock(%s)", (_CREATOR_LOCK,))
            found = self._version()  # another process may have created or migrated it meanwhile
            if found is None:
                for statement in SCHEMA:
                    self._db.execute(statement)
            else:
                backend.migrate(MIGRATIONS, found, self._db)
            if found != SCHEMA_VERSION:
                with self._db.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO fireline_meta VALUES (%s, %s) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        backend.version_rows(),
                    )

    def _version(self) -> int | None:
        exists = self._db.execute("SELECT to_regclass('fireline_meta') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return None
        meta: dict[str, str] = dict(self._db.execute("SELECT key, value FROM fireline_meta").fetchall())
        return backend.stored_version(self.location, meta, missing=None)

    # -- events ----------------------------------------------------------------------------------------------------
    def insert(self, rows: Sequence[Row], durable: bool, fences: Mapping[str, str]) -> None:
        with self._db.transaction(), self._db.cursor() as cur:
            if durable and fences:
                backend.check_fences(rows, fences, self._token)
            _add(cur, rows)

    def _token(self, run_id: str) -> str | None:
        # FOR SHARE: a takeover waits until the event checked against the lease is committed.
        found = self._db.execute("SELECT token FROM run_leases WHERE run_id = %s FOR SHARE", (run_id,)).fetchone()
        return str(found[0]) if found else None

    def events(self, run_id: str, types: tuple[str, ...]) -> list[StoredRow]:
        if types:
            sql = f"SELECT {EVENT_COLUMNS} FROM journal_events WHERE run_id = %s AND type = ANY(%s) ORDER BY seq"
            return self._db.execute(sql, (run_id, list(types))).fetchall()
        sql = f"SELECT {EVENT_COLUMNS} FROM journal_events WHERE run_id = %s ORDER BY seq"
        return self._db.execute(sql, (run_id,)).fetchall()

    def newest(self, type_: str, limit: int) -> list[StoredRow]:
        sql = f"SELECT {EVENT_COLUMNS} FROM journal_events WHERE type = %s ORDER BY seq DESC LIMIT %s"
        return self._db.execute(sql, (type_, limit)).fetchall()

    def last(self, run_id: str) -> StoredRow | None:
        sql = f"SELECT {EVENT_COLUMNS} FROM journal_events WHERE run_id = %s ORDER BY seq DESC LIMIT 1"
        return self._db.execute(sql, (run_id,)).fetchone()

    def run_ids(self, prefix: str) -> list[str]:
        sql = "SELECT DISTINCT run_id FROM journal_events WHERE starts_with(run_id, %s) LIMIT 2"
        return [str(r[0]) for r in self._db.execute(sql, (prefix,))]

    def chain(self, run_id: str) -> list[StoredRow]:
        sql = f"SELECT {CHAIN_COLUMNS} FROM journal_events WHERE run_id = %s ORDER BY seq"
        return self._db.execute(sql, (run_id,)).fetchall()

    def all_run_ids(self) -> list[str]:
        sql = "SELECT run_id FROM journal_events GROUP BY run_id ORDER BY min(seq)"
        return [str(r[0]) for r in self._db.execute(sql)]

    def chained_from(self) -> int:
        meta: dict[str, str] = dict(self._db.execute("SELECT key, value FROM fireline_meta").fetchall())
        return backend.chained_from(meta)

    def next_number(self, counter: str) -> int:
        with self._db.transaction():
            row = self._db.execute(NEXT_NUMBER, (counter,)).fetchone()
        if row is None:  # an upsert with RETURNING always returns its row
            raise JournalError(f"the journal at {self.location} returned no number for {counter}")
        return int(row[0])

    def insert_numbered(self, counter: str, rows: Callable[[int], Sequence[Row]]) -> int:
        try:
            with self._db.transaction(), self._db.cursor() as cur:
                # The counter's row stays locked until the commit: a second process declaring for the same alert
                # group waits here, then takes the next number and breaks the group's rule (rolled back, number
                # and all) instead of committing a second open incident.
                found = cur.execute(NEXT_NUMBER, (counter,)).fetchone()
                number = int(found[0]) if found else 0
                _add(cur, rows(number))
        except psycopg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name == incidents.ALERT_CLAIM_INDEX:
                raise Refused(str(exc).strip()) from None
            raise
        return number

    # -- the incident index ----------------------------------------------------------------------------------------
    def incident_rows(self) -> list[StoredRow]:
        return self._db.execute(incidents.ALL).fetchall()

    def alert_group(self, digest: str) -> AlertGroup | None:
        row = self._db.execute(_placeholders(incidents.GROUP_NEWEST), (digest,)).fetchone()
        return AlertGroup(str(row[0]), str(row[1]), bool(row[2])) if row else None

    def open_incidents(self, limit: int) -> list[str]:
        return [str(r[0]) for r in self._db.execute(_placeholders(incidents.OPEN_IDS), (limit,))]

    def rebuild_incidents(self) -> None:
        with self._db.transaction():
            _index_incidents(self._db)

    # -- leases ----------------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def leases(self) -> Iterator[_PostgresLeases]:
        with self._db.transaction():
            row = self._db.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()
            yield _PostgresLeases(self._db, float(row[0]) if row else 0.0)

    def lease_holder(self, run_id: str) -> LeaseRecord | None:
        row = self._db.execute(f"SELECT {LEASE_COLUMNS} FROM run_leases WHERE run_id = %s", (run_id,)).fetchone()
        return LeaseRecord(*row) if row else None


class _PostgresLeases:
    def __init__(self, db: psycopg.Connection, now: float) -> None:
        self._db, self.now = db, now

    def insert(self, lease: LeaseRecord, expires: float) -> bool:
        sql = (
            f"INSERT INTO run_leases ({LEASE_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (run_id) DO NOTHING"
        )
        return bool(self._db.execute(sql, (*lease.columns(), expires)).rowcount)

    def holder(self, run_id: str) -> LeaseRecord | None:
        # FOR UPDATE: the holder's row stays locked until this transaction decides.
        sql = f"SELECT {LEASE_COLUMNS} FROM run_leases WHERE run_id = %s FOR UPDATE"
        row = self._db.execute(sql, (run_id,)).fetchone()
        return LeaseRecord(*row) if row else None

    def replace(self, lease: LeaseRecord, expires: float) -> None:
        self._db.execute(
            "UPDATE run_leases SET token = %s, actor = %s, host = %s, pid = %s, machine = %s, proc_start = %s, "
            "acquired = %s, renewed = %s, expires = %s WHERE run_id = %s",
            (*lease.columns()[1:], expires, lease.run_id),
        )

    def renew(self, run_id: str, token: str, renewed: str, expires: float) -> bool:
        sql = "UPDATE run_leases SET renewed = %s, expires = %s WHERE run_id = %s AND token = %s"
        return bool(self._db.execute(sql, (renewed, expires, run_id, token)).rowcount)

    def release(self, run_id: str, token: str) -> None:
        self._db.execute("DELETE FROM run_leases WHERE run_id = %s AND token = %s", (run_id, token))
