"""The journal: what survives a crash, in whichever store the user configured — SQLite (default, WAL, one
file per machine, runner.journal.sqlite) or PostgreSQL (`FIRELINE_STORE=postgresql://…`, one store for a
team, so an approval or an acknowledgement can come from another machine; runner.journal.postgres).

Durability is per event: an event that precedes or records a production change is `durable` — committed
(SQLite: with synchronous=FULL, i.e. fsynced) together with everything queued before it, before `append`
returns. Other events (read-only steps, probe transitions) are group-committed: queued and written in one
transaction at the next durable event, every FLUSH_EVERY events, after FLUSH_AFTER seconds, or when anything
reads. A crash can lose at most those, and losing them never hides a change: a lost read-only step simply
runs again.

`seq` is one sequence for the whole store, assigned at insert: events of one run are ordered by it, and
several processes can append to one run (a game day receives acknowledgements from other terminals)
without colliding. `boot` identifies the machine boot whose monotonic clock `ts_mono` comes from.

This policy is written here once; a backend (runner.journal.backend.JournalBackend) only stores and reads.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from runner.errors import JournalError
from runner.journal.backend import (
    JournalBackend,
    LeaseLost,
    LeaseRecord,
    Refused,
    Row,
    StoredRow,
    boot_id,
    fireline_home,
)
from runner.journal.chain import ChainedRow, ChainReport, require_intact, rows_of, verify
from runner.journal.events import Event
from runner.journal.incidents import AlertGroup, IncidentRow, group_digest, row_of
from runner.journal.sqlite import SqliteBackend

__all__ = ["FLUSH_AFTER", "FLUSH_EVERY", "Journal", "LeaseRecord", "boot_id", "fireline_home", "open_journal"]

# (run id, type, actor, data): one event as `append_numbered` is given it.
Pending = tuple[str, str, str | None, Mapping[str, Any]]

T = TypeVar("T")

FLUSH_EVERY = 256
FLUSH_AFTER = 0.25
_BOOT = boot_id()

# A payload as stored: json.dumps(data, default=str), without building a new encoder for every event.
_encode = json.JSONEncoder(default=str).encode
# The whole second of the last wall-clock time written, and its text: events come many to a second.
_second: tuple[int, str] = (-1, "")


def wall_now() -> str:
    """The wall-clock time of an event: UTC, ISO 8601 with microseconds and a Z (2026-01-31T09:15:02.123456Z),
    as datetime.now(UTC).isoformat(timespec="microseconds") writes it, truncated to the microsecond."""
    global _second
    second, micro = divmod(time.time_ns() // 1000, 1_000_000)
    cached = _second
    if cached[0] != second:
        cached = _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{cached[1]}.{micro:06d}Z"


# Every journal this process has open, so that a command run inside a longer-lived process (a test, an
# embedding tool) can close what it opened: on PostgreSQL each open journal is a server connection.
_OPEN: weakref.WeakSet[Journal] = weakref.WeakSet()


def open_journals() -> frozenset[Journal]:
    return frozenset(_OPEN)


def open_journal() -> Journal:
    """The store the user configured: FIRELINE_STORE (a postgresql:// URL or a file), else the SQLite file
    under FIRELINE_HOME."""
    store = os.environ.get("FIRELINE_STORE", "").strip()
    if store.startswith(("postgresql://", "postgres://")):
        from runner.journal.postgres import PostgresBackend  # psycopg only for those who use it

        return Journal(PostgresBackend(store))
    return Journal(Path(store).expanduser() if store else None)


class Journal:
    """The events of every run and game day, in one store shared by every fireline process that uses it.

    `Journal(path)` (or no argument: the file under FIRELINE_HOME) is the SQLite journal; any other store is
    passed in as its backend."""

    def __init__(self, store: JournalBackend | Path | str | None = None) -> None:
        self._backend: JournalBackend = (
            SqliteBackend(store) if store is None or isinstance(store, (Path, str)) else store
        )
        self._lock = threading.RLock()
        self._pending: list[Row] = []
        self._pending_since = 0.0
        self._fences: dict[str, str] = {}  # run id → the token of the lease this process holds for it
        atexit.register(self.flush)  # queued events of a short-lived command reach the store
        _OPEN.add(self)

    @property
    def location(self) -> str:
        """Where the journal is, for messages (never with a password)."""
        return self._backend.location

    def reopen(self) -> Journal:
        """The same store through a new connection (for another thread)."""
        return Journal(self._backend.reopen())

    def close(self) -> None:
        self.flush()
        atexit.unregister(self.flush)
        _OPEN.discard(self)
        self._backend.close()

    # -- writing -----------------------------------------------------------------------------------------------
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
        data = data or {}
        payload = _encode(data)
        wall = wall_now()
        mono = time.monotonic()
        with self._lock:
            pending = self._pending
            if not pending:
                self._pending_since = mono
            pending.append((run_id, wall, mono, type_, step_id, actor, payload, _BOOT))
            if durable or len(pending) >= FLUSH_EVERY or mono - self._pending_since > FLUSH_AFTER:
                self._write(durable)
        return Event(run_id, 0, wall, mono, type_, step_id, actor, data, _BOOT)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self._write(False)

    def _write(self, durable: bool) -> None:
        rows, self._pending = self._pending, []
        try:
            self._backend.insert(rows, durable, self._fences)
        except self._backend.errors as exc:
            raise self._backend.failure("write to", exc) from None
        except LeaseLost as lost:
            raise JournalError(
                f"this process no longer holds {lost.run_id}: another process took it over (this one was "
                "suspended or cut off from the journal for too long); stopped before the next change",
                hint=f"see `fireline runs show {lost.run_id}`; continue it from one place only",
            ) from None

    # -- reading -----------------------------------------------------------------------------------------------
    def _read(self, query: Callable[[], list[StoredRow]]) -> list[Event]:
        return [_event(row, self.location) for row in self._call("read", query)]

    def _call(self, doing: str, call: Callable[[], T], flush: bool = True) -> T:
        """`call` on the store, after writing what this process queued (a reader sees everything this process
        wrote; `flush` False: for what does not read events); a failure of the store becomes a JournalError
        saying it could not `doing` the journal."""
        with self._lock:
            if flush:
                self.flush()
            try:
                return call()
            except self._backend.errors as exc:
                raise self._backend.failure(doing, exc) from None

    def events(self, run_id: str, types: tuple[str, ...] = ()) -> list[Event]:
        return self._read(lambda: self._backend.events(run_id, types))

    def first_events(self, type_: str, limit: int = 50) -> list[Event]:
        """The most recent events of one type, newest first (e.g. run.started for `runs list`)."""
        return self._read(lambda: self._backend.newest(type_, limit))

    def last_event(self, run_id: str) -> Event | None:
        found = self._read(lambda: [row] if (row := self._backend.last(run_id)) else [])
        return found[0] if found else None

    def find_run(self, prefix: str) -> str | None:
        """A run id from a unique prefix, so responders can type the first few characters; a whole id is
        itself (one index lookup, whatever else starts with it)."""
        with self._lock:
            self.flush()
            try:
                if prefix and self._backend.last(prefix) is not None:
                    return prefix
                found = self._backend.run_ids(prefix)
            except self._backend.errors as exc:
                raise self._backend.failure("read", exc) from None
        return found[0] if len(found) == 1 else None

    # -- the hash chain (runner.journal.chain) -------------------------------------------------------------------
    def chain(self, run_id: str) -> list[ChainedRow]:
        """The run's events as stored, with their chain columns."""
        return rows_of(self._call("read", lambda: self._backend.chain(run_id)))

    def verify(self, run_id: str) -> ChainReport:
        """Whether the run's events are as they were written (see runner.journal.chain)."""
        rows = self.chain(run_id)
        return verify(run_id, rows, self._call("read", self._backend.chained_from, flush=False))

    def require_intact(self, run_id: str, doing: str) -> None:
        """Refuse `doing` (e.g. "resume") on a run whose chain does not verify (raises ChainBroken)."""
        require_intact(run_id, self.verify(run_id), doing)

    def all_runs(self) -> list[str]:
        """Every run id in the store (runs, plans, game days …), oldest first."""
        return self._call("read", self._backend.all_run_ids)

    def next_number(self, counter: str) -> int:
        """The next number of a named counter, unique in this store (see JournalBackend.next_number)."""
        return self._call("take a number in", lambda: self._backend.next_number(counter), flush=False)

    def append_numbered(self, counter: str, events: Callable[[int], Sequence[Pending]]) -> int | None:
        """Take the counter's next number and write, durably, the events `events` makes for it, in one
        transaction: both happen or neither. None (no number taken, nothing written) when the events break a
        uniqueness rule of the store: an alert group already held by an open incident (see
        runner.journal.incidents); the caller then reads who holds it."""
        mono = time.monotonic()
        wall = wall_now()

        def rows(number: int) -> list[Row]:
            return [
                (run_id, wall, mono, type_, None, actor, _encode(data), _BOOT)
                for run_id, type_, actor, data in events(number)
            ]

        with self._lock:
            self.flush()
            try:
                return self._backend.insert_numbered(counter, rows)
            except Refused:
                return None
            except self._backend.errors as exc:
                raise self._backend.failure("write to", exc) from None

    # -- the incident index (runner.journal.incidents) ------------------------------------------------------------
    def alert_group(self, group_key: str) -> AlertGroup | None:
        """The newest incident declared for an alert group, and whether it holds the group (is not over)."""
        return self._call("read", lambda: self._backend.alert_group(group_digest(group_key)))

    def incidents(self) -> list[IncidentRow]:
        """Every incident as the store's index holds it, by declaration: what metrics need, without reading
        every event of every incident."""
        return [row_of(row) for row in self._call("read", self._backend.incident_rows)]

    def open_incidents(self, limit: int) -> list[str]:
        """The ids of incidents neither resolved nor closed, newest first; as fast with 10 incidents in the
        store's history as with 100,000 (the index holds the open ones apart)."""
        return self._call("read", lambda: self._backend.open_incidents(limit))

    def rebuild_incident_index(self) -> None:
        """Build the incident index again from the events (it is kept with every write; this is for a store
        changed by other means)."""
        self._call("write to", self._backend.rebuild_incidents)

    # -- run leases (the policy is in lease.py) ------------------------------------------------------------------
    def fence(self, run_id: str, token: str | None) -> None:
        """From now on (until None), durable events of `run_id` are written only while the lease with this
        token holds it. A holder that was suspended or cut off past its expiry and taken over then stops
        before its next change instead of making it alongside the new owner."""
        with self._lock:
            if token is None:
                self._fences.pop(run_id, None)
            else:
                self._fences[run_id] = token

    def claim_lease(
        self, mine: LeaseRecord, ttl: float, replaceable: Callable[[LeaseRecord, float], bool]
    ) -> LeaseRecord | None:
        """Take the lease of `mine.run_id` in one transaction: free, or held by a holder `replaceable` gives
        up on (given the store's clock). Returns None when taken, else the holder who keeps it."""
        with self._lock:
            try:
                for _ in range(10):  # a row deleted between the insert and the select: look again
                    with self._backend.leases() as leases:
                        expires = leases.now + ttl
                        # Insert first: of two processes inserting at once, exactly one succeeds.
                        if leases.insert(mine, expires):
                            return None
                        holder = leases.holder(mine.run_id)
                        if holder is None:
                            continue
                        if not replaceable(holder, leases.now):
                            return holder
                        leases.replace(mine, expires)
                        return None
            except self._backend.errors as exc:
                raise self._backend.failure("take a lease in", exc) from None
        raise JournalError(f"cannot take the lease of {mine.run_id} in the journal at {self.location}")

    def renew_lease(self, run_id: str, token: str, ttl: float) -> bool:
        """Push the lease's expiry out; False when it is no longer ours (someone took it over)."""
        renewed = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        with self._lock:
            try:
                with self._backend.leases() as leases:
                    return leases.renew(run_id, token, renewed, leases.now + ttl)
            except self._backend.errors as exc:
                raise self._backend.failure("renew a lease in", exc) from None

    def lease_holder(self, run_id: str) -> LeaseRecord | None:
        return self._call("read", lambda: self._backend.lease_holder(run_id), flush=False)

    def release_lease(self, run_id: str, token: str) -> None:
        with self._lock:
            try:
                with self._backend.leases() as leases:
                    leases.release(run_id, token)
            except self._backend.errors as exc:
                raise self._backend.failure("release a lease in", exc) from None


def _event(row: StoredRow, location: str) -> Event:
    try:
        data = json.loads(row[7])
    except ValueError:
        # Only a change made outside fireline stores this: say so instead of failing as a bug.
        raise JournalError(
            f"event {row[0]} of run {row[1]} in the journal at {location} has a payload that is not JSON: the "
            "journal was changed outside fireline",
            hint=f"see `fireline audit verify {row[1]}`",
        ) from None
    return Event(row[1], row[0], row[2], row[3], row[4], row[5], row[6], data, row[8])
