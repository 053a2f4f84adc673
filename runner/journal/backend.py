"""What a journal store must provide (`JournalBackend`), and what every store shares: the row shape, lease
records, the fence check and the schema-version policy.

A backend speaks its own SQL and holds its own connection; the buffering and durability policy is written
once, in `runner.journal.store.Journal`. Nothing here imports a database driver.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from runner import __version__
from runner.errors import JournalError
from runner.journal.events import SCHEMA_VERSION

if TYPE_CHECKING:
    from runner.journal.incidents import AlertGroup

# The columns every store has, in the order rows are read.
EVENT_COLUMNS = "seq, run_id, ts_wall, ts_mono, type, step_id, actor, data, boot"
LEASE_COLUMNS = "run_id, token, actor, host, pid, machine, proc_start, acquired, renewed, expires"
# The same with the hash chain's columns (runner.journal.chain.ChainedRow); db_user is NULL on SQLite.
CHAIN_COLUMNS = "seq, run_id, ts_wall, ts_mono, type, step_id, actor, data, boot, db_user, prev_hash, hash"
# meta key: the first seq of the chained era (events below it may predate the chain); absent: every event.
CHAINED_FROM = "chained_from_seq"
# (run_id, ts_wall, ts_mono, type, step_id, actor, data as JSON, boot): one event as it is inserted.
Row = tuple[str, str, float, str, str | None, str | None, str, str]
# (seq, run_id, ts_wall, ts_mono, type, step_id, actor, data as JSON, boot): one event as it is read.
StoredRow = tuple[Any, ...]


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

    def columns(self) -> tuple[str, str, str, str, int, str, str, str, str]:
        """Every column but `expires`, in the table's order (the store sets `expires` on its own clock)."""
        return (
            self.run_id, self.token, self.actor, self.host, self.pid, self.machine, self.proc_start,
            self.acquired, self.renewed,
        )  # fmt: skip


class LeaseLost(Exception):
    """A fenced run's lease no longer carries this process's token (raised inside the write transaction)."""

    def __init__(self, run_id: str) -> None:
        super().__init__(run_id)
        self.run_id = run_id


class Refused(Exception):
    """Events a uniqueness rule of the store refuses (an alert group already held by an open incident, see
    runner.journal.incidents): the transaction was rolled back, nothing of it was written."""


class Leases(Protocol):
    """The run_leases table inside one write transaction; `now` is the store's clock."""

    now: float

    def insert(self, lease: LeaseRecord, expires: float) -> bool:
        """Insert unless the run already has a lease; True when inserted."""

    def holder(self, run_id: str) -> LeaseRecord | None:
        """The run's lease, locked until the transaction ends."""

    def replace(self, lease: LeaseRecord, expires: float) -> None: ...

    def renew(self, run_id: str, token: str, renewed: str, expires: float) -> bool: ...

    def release(self, run_id: str, token: str) -> None: ...


class JournalBackend(Protocol):
    """One connection to one store."""

    errors: tuple[type[BaseException], ...]  # the driver's errors, turned into JournalError by `failure`

    @property
    def location(self) -> str:
        """Where the store is, for messages (never with a password)."""

    def reopen(self) -> JournalBackend:
        """The same store through a new connection."""

    def close(self) -> None: ...

    def failure(self, doing: str, exc: BaseException) -> JournalError:
        """`exc` (one of `errors`) as the user should read it."""

    def insert(self, rows: Sequence[Row], durable: bool, fences: Mapping[str, str]) -> None:
        """Commit `rows` in one transaction; `durable`: so that it survives a power cut. Raises LeaseLost (and
        writes nothing) when a run in `fences` (run id → lease token) no longer has that lease. Each event is
        chained (runner.journal.chain) to its run's previous event, read inside the same transaction."""

    def events(self, run_id: str, types: tuple[str, ...]) -> list[StoredRow]: ...

    def newest(self, type_: str, limit: int) -> list[StoredRow]: ...

    def last(self, run_id: str) -> StoredRow | None: ...

    def run_ids(self, prefix: str) -> list[str]:
        """Up to two run ids starting with `prefix` (taken literally)."""

    def chain(self, run_id: str) -> list[StoredRow]:
        """The run's events with their chain columns (CHAIN_COLUMNS), in seq order."""

    def all_run_ids(self) -> list[str]:
        """Every run id in the store, in the order of their first events."""

    def chained_from(self) -> int:
        """The seq from which every event is chained (0: all of them)."""

    def leases(self) -> AbstractContextManager[Leases]:
        """A write transaction on the run_leases table."""

    def lease_holder(self, run_id: str) -> LeaseRecord | None: ...

    def next_number(self, counter: str) -> int:
        """The next number of the named counter (1 the first time), taken in one transaction: two processes
        asking at once never get the same number (incident ids, runner.incident.ids)."""

    def insert_numbered(self, counter: str, rows: Callable[[int], Sequence[Row]]) -> int:
        """Take the counter's next number, and insert durably the rows `rows` makes for it, in ONE transaction:
        both happen or neither. Raises Refused when the rows break a uniqueness rule of the store: then the
        number is not taken either (no incident id is skipped because two processes raced)."""

    def alert_group(self, digest: str) -> AlertGroup | None:
        """The newest incident declared for the alert group of that digest (runner.journal.incidents)."""

    def incident_rows(self) -> list[StoredRow]:
        """Every row of the incident index (runner.journal.incidents: its `ALL` columns), by declaration."""

    def open_incidents(self, limit: int) -> list[str]:
        """The ids of up to `limit` incidents neither resolved nor closed, newest declaration first."""

    def rebuild_incidents(self) -> None:
        """Build the incident index again from the events, in one transaction."""


def chained_from(meta: Mapping[str, str]) -> int:
    """The CHAINED_FROM value a store's meta records (0 when it records none: chained from the start)."""
    value = meta.get(CHAINED_FROM, "0")
    return int(value) if value.isdigit() else 0


def check_fences(rows: Iterable[Row], fences: Mapping[str, str], token: Callable[[str], str | None]) -> None:
    """Raise LeaseLost for the first run of `rows` whose lease (`token` reads it) is no longer the fenced one."""
    for run_id in sorted({row[0] for row in rows} & fences.keys()):
        if token(run_id) != fences[run_id]:
            raise LeaseLost(run_id)


# -- schema versions ---------------------------------------------------------------------------------------------
Connection = TypeVar("Connection")


@dataclass(frozen=True)
class Migration(Generic[Connection]):
    """Brings a store from `version - 1` to `version`. Idempotent: a step that finds its change already made
    (a store an older fireline opened half-way, or a step repeated after a crash) does nothing more."""

    version: int
    what: str
    apply: Callable[[Connection], None]


def migrate(migrations: Sequence[Migration[Connection]], found: int, db: Connection) -> None:
    """Apply, in order, the steps a store of schema `found` has not had."""
    for step in migrations:
        if step.version > found:
            step.apply(db)


def stored_version(location: str, meta: Mapping[str, str], missing: int | None) -> int | None:
    """The schema version `meta` records (`missing` when it records none); refuses a store written by a
    newer fireline before anything is written to it."""
    if "schema_version" not in meta:
        return missing
    value = meta["schema_version"]
    try:
        found = int(value)
    except ValueError:
        raise JournalError(
            f"the journal at {location} records a schema version fireline cannot read ({value!r})",
            hint="it was not written by fireline; point FIRELINE_HOME (or FIRELINE_STORE) at fireline's own journal",
        ) from None
    if found > SCHEMA_VERSION:
        written_by = meta.get("fireline_version")
        by = f"fireline {written_by}" if written_by else "a newer fireline"
        raise JournalError(
            f"the journal at {location} was written by {by} (journal schema {found}); this fireline {__version__} "
            f"reads journal schema {SCHEMA_VERSION} at most, and leaves it untouched",
            hint=f"upgrade fireline{f' to {written_by} or later' if written_by else ''}, "
            "or point FIRELINE_HOME (or FIRELINE_STORE) at another journal",
        )
    return found


def version_rows() -> list[tuple[str, str]]:
    """What `meta` records once a store has this fireline's schema."""
    return [("schema_version", str(SCHEMA_VERSION)), ("fireline_version", __version__)]


# -- the machine ---------------------------------------------------------------------------------------------------
def fireline_home() -> Path:
    return Path(os.environ.get("FIRELINE_HOME") or Path.home() / ".local" / "state" / "fireline")


def boot_id() -> str:
    """This machine's current boot: CLOCK_MONOTONIC values are comparable only within one."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        import socket  # only here: the socket module costs every start a few milliseconds

        return f"{socket.gethostname()}-{int(time.time() - time.monotonic())}"
