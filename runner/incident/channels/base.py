"""What every kind of channel shares: credentials that may be secret references, what is delivered (a
`Notice`), and the answer of one attempt."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from runner.incident.events import IncidentUpdate
from runner.incident.view import Incident

# The most of an answer's body that is read (an error page can be large; a status line is enough).
MAX_BODY = 64 * 1024
# The most of a remote error that is kept in a delivery's detail.
DETAIL_LIMIT = 300


@dataclass(frozen=True)
class Value:
    """A URL, key or password: written in the policy, or `{secret: NAME}` (read when delivering). Either way
    it is treated as a secret: masked in everything fireline writes."""

    text: str | None = None
    secret: str | None = None

    @classmethod
    def parse(cls, raw: Any) -> Value:
        if isinstance(raw, Mapping):
            return cls(secret=str(raw.get("secret", "")))
        return cls(text=str(raw))

    def resolve(self, secrets: Mapping[str, str]) -> str:
        return self.text if self.text is not None else secrets[self.secret or ""]

    @property
    def shown(self) -> str:
        """How a message names it without saying it."""
        return f"secret {self.secret}" if self.secret else "the value in the policy"


@dataclass(frozen=True)
class Notice:
    """One update of one incident, as every channel is given it."""

    incident: Incident
    update: IncidentUpdate
    update_seq: int
    at: datetime | None  # when the update was recorded
    external_id: str | None = None  # the status page's incident, once created

    def summary(self) -> dict[str, Any]:
        """The incident in a few fields (the webhook's `incident`)."""
        i = self.incident
        return {
            "id": i.id,
            "title": i.title,
            "severity": str(i.severity),
            "type": str(i.type),
            "status": self.update.status,
            "systems": list(i.systems),
            "impact": self.update.impact or i.impact,
            "drill": is_drill(i),
            "declared_at": i.declared_at.isoformat().replace("+00:00", "Z") if i.declared_at else None,
        }


def is_drill(incident: Incident) -> bool:
    """A game day's practice incident: never announced to real people unless a channel asks for drills."""
    return str(incident.type) == "drill" or bool(incident.drill_of)


@dataclass(frozen=True)
class Answer:
    """How one attempt went. `retry`: worth trying again (rate limited, a server error, no connection)."""

    ok: bool
    detail: str
    retry: bool = False
    retry_after: float | None = None  # seconds the receiver asked to wait (Retry-After)
    external_id: str | None = None


@dataclass(frozen=True)
class Resolved:
    """The channel's credentials, read: `values[Value]` is the plain text to use."""

    values: Mapping[Value, str] = field(default_factory=dict)

    def __getitem__(self, value: Value) -> str:
        return self.values[value]


class Settings(Protocol):
    """A kind's settings, parsed from its policy entry."""

    def credentials(self) -> tuple[Value, ...]:
        """The values that are secrets (resolved and registered for masking before anything is sent)."""
        ...

    def send(self, notice: Notice, resolved: Resolved, timeout_s: float) -> Answer:
        """One attempt, every connection bounded by `timeout_s`."""
        ...
