"""A generic webhook: POST JSON with the whole update and a summary of the incident, for tools fireline does
not speak to directly. Header values may be secrets (an Authorization token)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.incident.channels import http
from runner.incident.channels.base import Answer, Notice, Resolved, Value

EVENT = "incident.update"  # the body's `event`: receivers may get other kinds later


@dataclass(frozen=True)
class Webhook:
    url: Value
    headers: Mapping[str, Value] = field(default_factory=dict)

    @classmethod
    def parse(cls, entry: Mapping[str, Any]) -> Webhook:
        headers = entry.get("headers") or {}
        return cls(url=Value.parse(entry["url"]), headers={str(k): _header(v) for k, v in headers.items()})

    def credentials(self) -> tuple[Value, ...]:
        return (self.url, *(v for v in self.headers.values() if v.secret))

    def send(self, notice: Notice, resolved: Resolved, timeout_s: float) -> Answer:
        headers = {name: resolved[value] if value.secret else value.text for name, value in self.headers.items()}
        reply = http.request("POST", resolved[self.url], payload(notice), _plain(headers), timeout_s)
        return reply if isinstance(reply, Answer) else http.answer(reply, http.json_error(reply.body))


def payload(notice: Notice) -> dict[str, Any]:
    update = {**notice.update.to_data(), "seq": notice.update_seq}
    update["actions"] = list(notice.update.actions)
    update["channels"] = list(notice.update.channels)
    return {
        "event": EVENT,
        "incident": notice.summary(),
        "update": update,
        "at": notice.at.isoformat().replace("+00:00", "Z") if notice.at else None,
    }


def _header(raw: Any) -> Value:
    # A plain header value is not a secret (X-Team: sre); a {secret: NAME} one is.
    return Value.parse(raw)


def _plain(headers: Mapping[str, str | None]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if v is not None}
