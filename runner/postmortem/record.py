"""`incident.postmortem`: the journal's record that a post-mortem of an incident was drafted or rendered —
which file, in which format, and the digest of the bytes written (so a report can say which version people
read). Allowed on closed incidents: a post-mortem is usually written after the incident is over, and
`incident close` asks for a rendered one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from runner.journal.events import Event
from runner.journal.payloads import Payload, event_payload
from runner.journal.store import Journal

POSTMORTEM = "incident.postmortem"


class Action(StrEnum):
    DRAFTED = "drafted"
    RENDERED = "rendered"


@event_payload
class PostMortemRecorded(Payload):
    TYPE: ClassVar[str] = POSTMORTEM
    MISSING: ClassVar[Mapping[str, Any]] = {"action": "?", "format": "?"}
    action: str  # an Action value
    path: str  # as given on the command line (relative paths stay relative: the journal may be shared)
    format: str  # yaml | md | html | pdf
    digest: str  # sha256:HEX of the file written


@dataclass(frozen=True)
class Recorded:
    """One `incident.postmortem` event, read back."""

    at: str  # when it was recorded (UTC ISO 8601)
    actor: str | None
    action: str
    path: str
    format: str
    digest: str


def record(journal: Journal, incident_id: str, action: Action, path: str, fmt: str, digest: str,
           actor: str | None) -> Event:  # fmt: skip
    """Record a draft or a rendering, durably (it is what `incident close` checks)."""
    payload = PostMortemRecorded(str(action), path, fmt, digest)
    return journal.append(incident_id, POSTMORTEM, actor=actor, data=payload.to_data(), durable=True)


def records(journal: Journal, incident_id: str) -> list[Recorded]:
    """Every draft and rendering of the incident's post-mortem, oldest first."""
    found = []
    for event in journal.events(incident_id, (POSTMORTEM,)):
        p = PostMortemRecorded.of(event)
        found.append(Recorded(event.ts_wall, event.actor, p.action, p.path, p.format, p.digest))
    return found


def describe(event: Event) -> str:
    """The timeline's line for the event."""
    p = PostMortemRecorded.of(event)
    by = f" by {event.actor}" if event.actor else ""
    what = "drafted" if p.action == Action.DRAFTED else f"{p.action} as {p.format}"
    return f"post-mortem {what}{by}: {p.path} ({p.digest[:19]})"
