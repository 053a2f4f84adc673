"""Slack incoming webhooks: the payload Slack accepts, and its real error answers."""

from __future__ import annotations

import pytest

from runner.incident.channels.base import Resolved, Value
from runner.incident.channels.slack import Slack
from tests.incident.channels.conftest import notice
from tests.servers.channel_receiver import ChannelReceiver, Scripted


def _send(receiver: ChannelReceiver, url: str | None = None) -> tuple[bool, str, bool]:
    value = Value(secret="SLACK_URL")
    answer = Slack(value).send(notice(), Resolved({value: url or receiver.slack_url}), 5)
    return answer.ok, answer.detail, answer.retry


def test_an_update_is_posted_as_text_and_blocks_that_slack_accepts(receiver: ChannelReceiver) -> None:
    assert _send(receiver) == (True, "HTTP 200", False)
    (got,) = receiver.received("slack")
    assert got.method == "POST" and got.headers["Content-Type"].startswith("application/json")
    assert got.answered == 200
    assert got.body["text"].startswith("[INC-2026-007] SEV2 incident: Checkout &lt;errors&gt; &amp; timeouts")
    header, section, context = got.body["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "[INC-2026-007] SEV2 incident: Checkout <errors> & timeouts"},
    }
    assert section["text"]["text"] == "Status: investigating\nSummary: looking"
    assert context["elements"][0]["text"] == "INC-2026-007 · SEV2 · investigating"


@pytest.mark.parametrize(("status", "body", "retry"), [
    (400, "invalid_payload", False),
    (403, "action_prohibited", False),
    (404, "channel_not_found", False),
    (410, "channel_is_archived", False),
    (429, "rate_limited", True),
    (500, "rollup_error", True),
])  # fmt: skip
def test_slacks_error_answers_say_why_and_only_429_and_5xx_are_worth_a_retry(
    receiver: ChannelReceiver, status: int, body: str, retry: bool
) -> None:
    receiver.script("slack", Scripted(status, body))
    assert _send(receiver) == (False, f"HTTP {status}: {body}", retry)


def test_a_removed_webhook_is_no_service(receiver: ChannelReceiver) -> None:
    ok, detail, retry = _send(receiver, receiver.slack_url.replace("Q7mZ", "XXXX"))
    assert not ok and not retry and detail.startswith("HTTP 404: no_service")


def test_a_redirect_is_not_followed(receiver: ChannelReceiver) -> None:
    receiver.script("slack", Scripted(301, "", (("Location", receiver.webhook_url),)))
    ok, detail, retry = _send(receiver)
    assert (ok, retry) == (False, False) and "redirects are not followed" in detail
    assert receiver.received("webhook") == []  # the body never went where the redirect pointed
