"""The team journal on PostgreSQL (`FIRELINE_STORE=postgresql://…`): the same events and semantics as the
SQLite file, so a run paused on one machine can be approved from another and resumed anywhere."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from runner.journal.events import SCHEMA_VERSION
from runner.journal.store import _INSERT, _VIEW, LEASE_DDL, Journal

_DDL = """
CREATE TABLE IF NOT EXISTS journal_events (
    seq BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, ts_wall TEXT NOT NULL, ts_mono DOUBLE PRECISION NOT NULL,
    type TEXT NOT NULL, step_id TEXT, actor TEXT, data TEXT NOT NULL, boot TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS journal_events_run ON journal_events (run_id, seq);
CREATE INDEX IF NOT EXISTS journal_events_type ON journal_events (type, seq);
CREATE TABLE IF NOT EXISTS fireline_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class PostgresJournal(Journal):
    _errors = (psycopg.Error,)

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        super().__init__()

    @property
    def location(self) -> str:
        parts = conninfo_to_dict(self._dsn)
        where = f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"
        return f"postgresql://{parts.get('user', '')}@{where}"

    def reopen(self) -> Journal:
        return PostgresJournal(self._dsn)

    def _connect(self) -> None:
        self._db_pg = psycopg.connect(self._dsn, autocommit=True, connect_timeout=10, application_name="fireline")
        with self._db_pg.transaction():
            # One creator at a time: CREATE ... IF NOT EXISTS races between two first runs otherwise.
            self._db_pg.execute("SELECT pg_advisory_xact_lock(7726451)")
            self._db_pg.execute(_DDL)
            self._db_pg.execute(LEASE_DDL)
            self._db_pg.execute(_VIEW.format(if_not_exists="OR REPLACE VIEW"))
            self._db_pg.execute(
                "INSERT INTO fireline_meta VALUES ('schema_version', %s) ON CONFLICT DO NOTHING",
                (str(SCHEMA_VERSION),),
            )

    def _insert(self, rows: list[tuple[Any, ...]], durable: bool) -> None:
        # A PostgreSQL commit is durable (synchronous_commit) whether or not this event asked for it.
        with self._db_pg.transaction(), self._db_pg.cursor() as cur:
            if durable:
                self._check_fences(rows)
            cur.executemany(_INSERT.replace("?", "%s"), rows)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[float]:
        # The server's clock: lease expiries written from several machines are compared on one clock.
        with self._db_pg.transaction():
            row = self._db_pg.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()
            yield float(row[0]) if row else 0.0

    def _execute(self, sql: str, args: tuple[Any, ...]) -> int:
        return self._db_pg.execute(sql.replace("?", "%s"), args).rowcount

    def _fetch(self, sql: str, args: tuple[Any, ...] | list[Any]) -> list[tuple[Any, ...]]:
        return self._db_pg.execute(sql.replace("?", "%s"), args).fetchall()

    _for_update = " FOR UPDATE"  # the holder's row stays locked until this transaction decides
    _for_share = " FOR SHARE"  # a takeover waits until the event checked against the lease is committed

    def _close(self) -> None:
        self._db_pg.close()
