"""The incident index: one row per incident holding the few facts that `incident list --open` and `incident
metrics` need, so that neither reads every event of every incident ever declared.

The store keeps it in the same transaction as the events it comes from (`changes`, applied by each
backend's `insert`), and it can always be built again from the events alone (`Journal.rebuild_incident_index`;
the migration that adds it does exactly that, from `SOURCE`). Its rules are those of the incident view
(runner.incident.view.fold), which a test holds them to, written here on the stored data because the journal
is the bottom layer:

- the first `incident.declared` of a stream creates the row: severity, type and systems as declared, status
  investigating; an event of the stream before it changes nothing;
- `incident.milestone`: the first readable time per known milestone name counts;
- `incident.corrected`: the last readable correction of a milestone overrides it (kept apart, so the
  metrics can say which times are corrected ones);
- `incident.status_changed` to a known status sets it, `incident.closed` sets closed;
- `incident.severity_changed` sets the severity;
- the first `incident.alert` of a stream names the alert group the incident was declared for (`alert_group`),
  and the incident holds that group (`alert_claim`) until it is resolved or closed. A unique index on
  `alert_claim` is the store's rule that at most one open incident answers for an alert group: two intake
  processes declaring for the same group at once cannot both commit (runner.incident.intake). A reopened
  incident does not take its group back (a newer incident may hold it by then). Both columns hold a digest
  of the group key: keys can be longer than an index entry may be.

Severities and types are kept as stored; the reader interprets them as the view does. Times are kept as UTC
ISO 8601 text of one shape (microseconds, `Z`), so they sort as text.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from runner.digest import sha256_hex
from runner.journal.backend import Row

DECLARED = "incident.declared"
MILESTONE = "incident.milestone"
CORRECTED = "incident.corrected"
STATUS_CHANGED = "incident.status_changed"
SEVERITY_CHANGED = "incident.severity_changed"
CLOSED = "incident.closed"
ALERT = "incident.alert"  # its payload is runner.incident.intake.IncidentAlert
TYPES = (DECLARED, MILESTONE, CORRECTED, STATUS_CHANGED, SEVERITY_CHANGED, CLOSED, ALERT)
_INDEXED = frozenset(TYPES)

MILESTONES = ("started", "detected", "acknowledged", "mitigated", "resolved")
STATUSES = frozenset({"investigating", "identified", "monitoring", "resolved", "closed"})
# An incident is open until one of these (the view's FINISHED): the partial index holds only the open ones.
OPEN = "status NOT IN ('resolved', 'closed')"

COLUMNS = ", ".join(
    ["id", "declared_seq", "severity", "type", "systems", "status", *MILESTONES, *(f"{m}_fixed" for m in MILESTONES)]
)
DDL = [
    "CREATE TABLE IF NOT EXISTS incident_index (id TEXT PRIMARY KEY, declared_seq BIGINT NOT NULL, "
    "severity TEXT NOT NULL, type TEXT NOT NULL, systems TEXT NOT NULL, status TEXT NOT NULL, "
    + ", ".join(f"{m} TEXT, {m}_fixed TEXT" for m in MILESTONES)
    + ", alert_group TEXT, alert_claim TEXT)",
    f"CREATE INDEX IF NOT EXISTS incident_index_open ON incident_index (declared_seq) WHERE {OPEN}",
]
# The alert-group rule (schema 8): created once the columns exist (a store migrated from schema 7 gets them
# first). The second index finds a group's newest incident without reading the others.
ALERT_COLUMNS = ("alert_group", "alert_claim")
ALERT_DDL = [
    "CREATE UNIQUE INDEX IF NOT EXISTS incident_index_alert_claim ON incident_index (alert_claim) "
    "WHERE alert_claim IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS incident_index_alert_group ON incident_index (alert_group, declared_seq) "
    "WHERE alert_group IS NOT NULL",
]
ALERT_CLAIM_INDEX = "incident_index_alert_claim"  # the constraint a second open incident of a group breaks
# The newest incident declared for an alert group (by the group key's digest): id, status, whether it holds it.
GROUP_NEWEST = (
    "SELECT id, status, alert_claim IS NOT NULL FROM incident_index WHERE alert_group = ? "
    "ORDER BY declared_seq DESC LIMIT 1"
)
# The events the index is made of, in the order they were written (to build it again).
SOURCE = (
    "SELECT run_id, ts_wall, ts_mono, type, step_id, actor, data, boot FROM journal_events "
    f"WHERE type IN ({', '.join(repr(t) for t in TYPES)}) ORDER BY seq"
)
ALL = f"SELECT {COLUMNS} FROM incident_index ORDER BY declared_seq"
OPEN_IDS = f"SELECT id FROM incident_index WHERE {OPEN} ORDER BY declared_seq DESC LIMIT ?"

# (SQL with `?` placeholders, parameters): one change to the index.
Change = tuple[str, tuple[object, ...]]


class IncidentRow(NamedTuple):
    """One incident as the index holds it; `reached` and `corrected` follow MILESTONES: each milestone's first
    recorded time, and the time its last correction gave (this one counts). A named tuple: `incident
    metrics` reads one per incident of the store's history."""

    id: str
    declared_seq: int
    severity: str
    type: str
    systems: tuple[str, ...]
    status: str
    reached: tuple[str | None, ...]
    corrected: tuple[str | None, ...]

    def at(self, milestone: str) -> str | None:
        """The milestone's time in effect: the correction's, else the one first recorded."""
        index = MILESTONES.index(milestone)
        return self.corrected[index] or self.reached[index]


_COUNT = len(MILESTONES)


def row_of(stored: Sequence[Any]) -> IncidentRow:
    """An `ALL` row as an IncidentRow."""
    return IncidentRow(
        str(stored[0]),
        int(stored[1]),
        str(stored[2]),
        str(stored[3]),
        _systems(stored[4]),
        str(stored[5]),
        tuple(stored[6 : 6 + _COUNT]),
        tuple(stored[6 + _COUNT : 6 + 2 * _COUNT]),
    )


def changes(rows: Iterable[Row]) -> list[Change]:
    """What the events in `rows` (as inserted, in order) change in the index; nothing for most events."""
    found: list[Change] = []
    for run_id, _wall, _mono, type_, _step, _actor, data, _boot in rows:
        if type_ in _INDEXED:
            change = _change(run_id, type_, data)
            if change is not None:
                found.append(change)
    return found


def _change(run_id: str, type_: str, data: str) -> Change | None:
    try:
        payload = json.loads(data)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    if type_ == DECLARED:
        return (
            "INSERT INTO incident_index (id, declared_seq, severity, type, systems, status) VALUES "
            "(?, (SELECT min(seq) FROM journal_events WHERE run_id = ?), ?, ?, ?, 'investigating') "
            "ON CONFLICT (id) DO NOTHING",
            (run_id, run_id, _text(payload.get("severity")), _text(payload.get("type")), _systems_json(payload)),
        )
    if type_ == MILESTONE:
        name, at = _text(payload.get("name")), utc_text(_text(payload.get("at")))
        if name not in MILESTONES or at is None:
            return None
        # The column name comes from MILESTONES, never from the event.
        return f"UPDATE incident_index SET {name} = coalesce({name}, ?) WHERE id = ?", (at, run_id)
    if type_ == CORRECTED:
        name, new = _text(payload.get("milestone")), utc_text(_text(payload.get("new")))
        if name not in MILESTONES or new is None:
            return None
        return f"UPDATE incident_index SET {name}_fixed = ? WHERE id = ?", (new, run_id)
    if type_ == STATUS_CHANGED:
        status = _text(payload.get("new"))
        if status not in STATUSES:
            return None
        # An incident that is over lets its alert group go (a new alert of the group opens a new incident).
        if status in ("resolved", "closed"):
            return "UPDATE incident_index SET status = ?, alert_claim = NULL WHERE id = ?", (status, run_id)
        return "UPDATE incident_index SET status = ? WHERE id = ?", (status, run_id)
    if type_ == CLOSED:
        return "UPDATE incident_index SET status = 'closed', alert_claim = NULL WHERE id = ?", (run_id,)
    if type_ == ALERT:
        group = _text(payload.get("group_key"))
        if not group:
            return None
        digest = group_digest(group)
        return (
            "UPDATE incident_index SET alert_group = ?, "
            f"alert_claim = CASE WHEN {OPEN} THEN ? ELSE NULL END WHERE id = ? AND alert_group IS NULL",
            (digest, digest, run_id),
        )
    return "UPDATE incident_index SET severity = ? WHERE id = ?", (_text(payload.get("new")), run_id)


def group_digest(group_key: str) -> str:
    """How the index keys an alert group (runner.incident.intake): the SHA-256 of its key, in hex."""
    return sha256_hex(group_key.encode("utf-8", "surrogatepass"))


class AlertGroup(NamedTuple):
    """The newest incident declared for an alert group, and whether it still holds the group."""

    incident_id: str
    status: str
    holds: bool


def parse_utc(text: str) -> datetime | None:
    """A stored incident time (ISO 8601), or None when it is missing or unreadable; no zone means UTC. The
    index and the incident view (runner.incident.view) read times through this one function."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def utc_text(text: str) -> str | None:
    """An incident time (ISO 8601) in the index's one shape, or None when it is missing or unreadable."""
    moment = parse_utc(text)
    return None if moment is None else moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _text(value: object) -> str:
    """A stored value read as text, as payloads read a text field (a list or mapping is no text)."""
    return "" if value is None or isinstance(value, dict | list) else str(value)


def _systems_json(payload: Mapping[str, Any]) -> str:
    value = payload.get("systems")
    return json.dumps([str(v) for v in value] if isinstance(value, list) else [])


@functools.lru_cache(maxsize=1024)
def _systems(stored: object) -> tuple[str, ...]:
    """The stored list of systems (cached: incidents of a store name the same few sets of systems)."""
    try:
        value = json.loads(str(stored))
    except ValueError:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else ()
