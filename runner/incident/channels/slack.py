"""Slack, through an incoming webhook: POST {text, blocks}. The webhook's URL is itself the credential (its
path holds the token), so it is masked like a password.

Slack answers 200 "ok", or a status with a plain-text reason: 400 invalid_payload / user_not_found, 403
action_prohibited or invalid_token, 404 channel_not_found / no_service (the webhook was removed), 410
channel_is_archived, 429 with Retry-After, 500 rollup_error. Only 429 and 5xx are worth retrying."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.incident.channels import http
from runner.incident.channels.base import Answer, Notice, Resolved, Value, is_drill

HEADER_LIMIT = 150  # Slack's limit for a header block's text
SECTION_LIMIT = 3000  # … and for a section's


@dataclass(frozen=True)
class Slack:
    url: Value

    @classmethod
    def parse(cls, entry: Mapping[str, Any]) -> Slack:
        return cls(url=Value.parse(entry["url"]))

    def credentials(self) -> tuple[Value, ...]:
        return (self.url,)

    def send(self, notice: Notice, resolved: Resolved, timeout_s: float) -> Answer:
        reply = http.request("POST", resolved[self.url], payload(notice), {}, timeout_s)
        return reply if isinstance(reply, Answer) else http.answer(reply)


def payload(notice: Notice) -> dict[str, Any]:
    """`text` (the whole message: notifications and clients without blocks show it) and `blocks`: the
    heading, the body, and a line of context."""
    heading, _, body = notice.update.message.partition("\n")
    i = notice.incident
    context = f"{i.id} · {i.severity} · {notice.update.status}" + (" · drill" if is_drill(i) else "")
    return {
        "text": escape(notice.update.message),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": _cut(heading, HEADER_LIMIT)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(escape(body.strip()) or " ", SECTION_LIMIT)}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(context)}]},
        ],
    }


def escape(text: str) -> str:
    """Slack's three control characters: text people wrote is shown, never read as a link or a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
