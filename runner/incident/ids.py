"""Incident ids: `INC-YYYY-NNN`, the year of declaration and a number sequential per store and year, taken
atomically from the store's counters so two people declaring at once never share an id."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from runner.journal.store import Journal

PATTERN = re.compile(r"^INC-(\d{4})-(\d{3,})$")


def counter_name(year: int) -> str:
    return f"incident-{year}"


def format_id(year: int, number: int) -> str:
    return f"INC-{year:04d}-{number:03d}"


def allocate(journal: Journal, now: datetime | None = None) -> str:
    """A new incident id, never given before in this store."""
    year = (now or datetime.now(UTC)).astimezone(UTC).year
    return format_id(year, journal.next_number(counter_name(year)))


def is_incident_id(text: str) -> bool:
    return PATTERN.match(text) is not None
