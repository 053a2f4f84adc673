"""Reading and writing incidents in the journal: append an event, read one incident's events, list them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from runner.errors import UsageError
from runner.incident import events as ev
from runner.incident.ids import is_incident_id
from runner.incident.view import Incident, fold
from runner.journal.events import Event
from runner.journal.payloads import Payload
from runner.journal.store import Journal

# The most incidents `list` reads (newest first); a store with more shows the newest.
LIST_LIMIT = 10_000


class UnknownIncident(UsageError):
    """No incident of that id in this store (a usage error, as an unknown run id is)."""


def append(journal: Journal, incident_id: str, payload: Payload, actor: str | None) -> Event:
    """Record one incident event, durably: each is a decision someone made and must not be lost."""
    return journal.append(incident_id, payload.TYPE, actor=actor, data=payload.to_data(), durable=True)


def incident_events(journal: Journal, incident_id: str, types: tuple[str, ...] = ev.TYPES) -> list[Event]:
    """The incident's events of `types` (its own types by default; `()`: every event of its stream, such as
    deliveries and signatures, for readers that show them all), in order; raises UnknownIncident when it has
    none."""
    found = journal.events(incident_id, types)
    if not found or found[0].type != ev.DECLARED:
        raise UnknownIncident(
            f"no incident {incident_id[:40]!r}{'…' if len(incident_id) > 40 else ''} in the journal at "
            f"{journal.location}",
            hint="see `fireline incident list`"
            + ("" if is_incident_id(incident_id) else "; ids look like INC-2026-001 (INC-YEAR-NUMBER)"),
        )
    return found


def load(journal: Journal, incident_id: str) -> Incident:
    return fold(incident_events(journal, incident_id.strip().upper()))


def declared_ids(journal: Journal, limit: int = LIST_LIMIT) -> list[str]:
    """Every incident's id, newest declaration first."""
    return [e.run_id for e in journal.first_events(ev.DECLARED, limit)]


def list_incidents(journal: Journal, open_only: bool = False) -> list[Incident]:
    """The incidents, newest first; `open_only`: not resolved or closed (found in the store's index of open
    incidents, so the time this takes does not grow with the incidents that are over)."""
    ids = journal.open_incidents(LIST_LIMIT) if open_only else declared_ids(journal)
    incidents = [fold(journal.events(i, ev.TYPES)) for i in ids]
    return [i for i in incidents if not (open_only and i.finished)]


def now_iso(moment: datetime | None = None) -> str:
    """UTC ISO 8601 with `Z`, the form incident times are stored in."""
    return iso(moment or datetime.now(UTC))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def first_of(events: Sequence[Event], type_: str) -> Event | None:
    return next((e for e in events if e.type == type_), None)
