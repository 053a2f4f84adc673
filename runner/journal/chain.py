"""The hash chain that makes a run's journal tamper-evident, and its verification.

Every event stores `prev_hash` (the hash of the previous event of its run) and `hash` (its own). The hash of
an event, as an auditor can recompute it from the stored row alone:

    hash = hex(SHA-256(b"fireline-event-v1"
                       + field(run_id) + field(ts_wall) + float8(ts_mono) + field(boot)
                       + field(type) + field(step_id) + field(actor) + field(data)
                       + field(db_user) + field(prev_hash)))

    field(NULL) = FF FF FF FF
    field(text) = the length in bytes of its UTF-8 encoding as a 4-byte big-endian unsigned integer,
                  then that encoding
    float8(x)   = x as an IEEE 754 binary64, big-endian (8 bytes)

`data` is the payload exactly as stored (JSON text, already redacted), `db_user` is the database role that
inserted the row (PostgreSQL sets it; NULL on SQLite). The first event of a run has

    prev_hash = hex(SHA-256(b"fireline-run-v1" + field(run_id)))

the hash of the run's start, which binds the chain to its run id: removing a run's first events breaks it.

`seq`, the store-wide number, is not hashed: it only says where the store put an event. The event's place in
its run is fixed by `prev_hash`, so moving an event (renumbering rows) breaks the links and is reported.

What it detects: an event edited in place (its hash no longer matches its contents), an event removed from
the middle or the start of a run, events moved, and events inserted later. What it cannot: someone able to
rewrite the whole store can recompute every hash after an edit, and the newest events of a run can be
removed without a trace (nothing follows them). Signed approvals are what such a person cannot forge.

Events recorded before the chain existed (schema 4 and older) carry no hash; they are reported as not
chained, not as tampering. The store records from which `seq` on every event is chained.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from runner.digest import sha256_hex
from runner.errors import JournalError

# The schema version from which events are chained (runner.journal.events.SCHEMA_VERSION at the time).
CHAIN_VERSION = 5
EVENT_TAG = b"fireline-event-v1"
RUN_TAG = b"fireline-run-v1"
_NULL = b"\xff\xff\xff\xff"
_LENGTH = struct.Struct(">I")
_FLOAT8 = struct.Struct(">d")


def _field(text: str | None) -> bytes:
    if text is None:
        return _NULL
    encoded = text.encode("utf-8")
    return _LENGTH.pack(len(encoded)) + encoded


def run_origin(run_id: str) -> str:
    """The `prev_hash` of a run's first event."""
    return sha256_hex(RUN_TAG + _field(run_id))


def event_hash(
    run_id: str,
    ts_wall: str,
    ts_mono: float,
    boot: str,
    type_: str,
    step_id: str | None,
    actor: str | None,
    data: str,
    db_user: str | None,
    prev_hash: str,
) -> str:
    """The hash of one stored event (see the module's docstring for the definition)."""
    wall, payload, prev = ts_wall.encode("utf-8"), data.encode("utf-8"), prev_hash.encode("utf-8")
    names = _NAMES  # a name's field is never empty bytes: `or` only falls through to encoding it
    parts = (
        EVENT_TAG, names.get(run_id) or _name(run_id), _LENGTH.pack(len(wall)), wall, _FLOAT8.pack(ts_mono),
        names.get(boot) or _name(boot), names.get(type_) or _name(type_), names.get(step_id) or _name(step_id),
        names.get(actor) or _name(actor), _LENGTH.pack(len(payload)), payload, names.get(db_user) or _name(db_user),
        _LENGTH.pack(len(prev)), prev,
    )  # fmt: skip
    return sha256_hex(b"".join(parts))


# The encoded fields of the names every event repeats (run id, boot, type, step id, actor, role): a run's
# events share a handful of them, so each is encoded once instead of for every event.
_NAMES: dict[str | None, bytes] = {None: _NULL}
_MAX_NAMES = 4096


def _name(text: str | None) -> bytes:
    found = _NAMES.get(text)
    if found is None:
        if len(_NAMES) >= _MAX_NAMES:
            _NAMES.clear()
            _NAMES[None] = _NULL
        found = _NAMES[text] = _field(text)
    return found


# -- verification ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChainedRow:
    """One event as stored, with its chain columns."""

    seq: int
    run_id: str
    ts_wall: str
    ts_mono: float
    type: str
    step_id: str | None
    actor: str | None
    data: str
    boot: str
    db_user: str | None
    prev_hash: str | None
    hash: str | None

    def recomputed(self) -> str:
        return event_hash(
            self.run_id, self.ts_wall, self.ts_mono, self.boot, self.type, self.step_id, self.actor, self.data,
            self.db_user, self.prev_hash or "",
        )  # fmt: skip


class Break(StrEnum):
    EDITED = "edited"  # the event's contents (or its hash) changed after it was written
    DELETED = "deleted"  # an event before this one is missing
    REORDERED = "reordered"  # this event links to an event stored after it
    INSERTED = "inserted"  # an event was added that the chain does not lead through
    UNCHAINED = "unchained"  # an event of the chained era without a hash


@dataclass(frozen=True)
class ChainBreak:
    """An event whose hash does not follow from the events before it."""

    seq: int
    type: str
    step_id: str | None
    kind: Break
    detail: str

    def describe(self) -> str:
        step = f" of step {self.step_id}" if self.step_id else ""
        return f"event {self.seq} ({self.type}{step}): {self.kind.value} — {self.detail}"


@dataclass(frozen=True)
class ChainReport:
    """A run's hash chain checked: how many events, how many before the chain, every break."""

    run_id: str
    events: int
    unchained: int  # recorded before the chain existed
    breaks: tuple[ChainBreak, ...]

    @property
    def ok(self) -> bool:
        return not self.breaks


def verify(run_id: str, rows: Sequence[ChainedRow], chained_from: int) -> ChainReport:
    """Check the chain of one run's events (in `seq` order). Events with a seq below `chained_from` and no
    hash were recorded before the chain existed."""
    legacy = [r for r in rows if r.hash is None and r.prev_hash is None and r.seq < chained_from]
    chained = [r for r in rows if not (r.hash is None and r.prev_hash is None and r.seq < chained_from)]
    position = {r.hash: index for index, r in enumerate(chained) if r.hash}
    breaks: list[ChainBreak] = []
    expected = run_origin(run_id)
    for index, row in enumerate(chained):
        found = _check(row, index, expected, position)
        if found is not None:
            breaks.append(ChainBreak(row.seq, row.type, row.step_id, *found))
        expected = row.hash or ""
    if any(b.kind == Break.REORDERED for b in breaks):
        # Every link after a move looks broken; when the links still lead through all the events, what
        # happened is one thing: they were moved.
        moved = _moved(run_id, chained)
        breaks = [moved] if moved is not None else breaks
    return ChainReport(run_id, len(rows), len(legacy), tuple(breaks))


def _moved(run_id: str, chained: Sequence[ChainedRow]) -> ChainBreak | None:
    """The one REORDERED break when following the links from the run's start visits every event, each
    intact, in an order other than the stored one; else None."""
    following = {r.prev_hash: r for r in chained if r.hash is not None and r.recomputed() == r.hash}
    written: list[ChainedRow] = []
    link = run_origin(run_id)
    while (row := following.get(link)) is not None and len(written) < len(chained):
        written.append(row)
        link = row.hash or ""
    if [r.seq for r in written] != sorted(r.seq for r in chained) and len(written) == len(chained):
        first = next(r for r, w in zip(chained, written, strict=True) if r.seq != w.seq)
        order = ", ".join(str(r.seq) for r in written)
        return ChainBreak(
            first.seq, first.type, first.step_id, Break.REORDERED,
            f"the events are stored in another order than they were written (written: {order})",
        )  # fmt: skip
    return None


def _check(row: ChainedRow, index: int, expected: str, position: dict[str, int]) -> tuple[Break, str] | None:
    if row.hash is None or row.prev_hash is None:
        return Break.UNCHAINED, "it carries no hash, though it was recorded after the chain began"
    if row.recomputed() != row.hash:
        return Break.EDITED, "its stored contents no longer match its hash"
    if row.prev_hash == expected:
        return None
    linked = position.get(row.prev_hash)
    if linked is not None and linked > index:
        return Break.REORDERED, "it follows an event that is stored after it"
    if linked is not None or row.prev_hash == run_origin(row.run_id):
        return Break.INSERTED, "the event before it was not written by the chain (inserted, or its hash rewritten)"
    return Break.DELETED, "the event it follows is missing (deleted, or rewritten together with its hash)"


class ChainBroken(JournalError):
    """A run's journal does not verify: it was changed after it was written."""


def require_intact(run_id: str, report: ChainReport, doing: str) -> None:
    """Refuse `doing` (e.g. "resume") on a run whose chain does not verify, naming the first break."""
    if report.ok:
        return
    first = report.breaks[0]
    more = f" (and {len(report.breaks) - 1} more)" if len(report.breaks) > 1 else ""
    raise ChainBroken(
        f"the journal of run {run_id} was changed after it was written: {first.describe()}{more}; refusing to {doing}",
        hint=f"see `fireline audit verify {run_id}`; the run's record can no longer be trusted",
    )


def rows_of(stored: Iterable[tuple[object, ...]]) -> list[ChainedRow]:
    """Rows as `JournalBackend.chain` returns them (the CHAIN_COLUMNS order)."""
    return [ChainedRow(*row) for row in stored]  # type: ignore[arg-type]
