"""Statuspage v1: the first update creates the page's incident, later ones patch it; statuses, impact and
component statuses in Statuspage's own values; its error answers (401, 404, 420 and 429 rate limits)."""

from __future__ import annotations

import pytest

from runner.incident.channels.base import Answer, Notice, Resolved, Value
from runner.incident.channels.statuspage import Statuspage
from runner.incident.model import Severity
from tests.incident.channels.conftest import STATUSPAGE_KEY, notice
from tests.servers.channel_receiver import ChannelReceiver, Scripted

KEY = Value(secret="STATUSPAGE_KEY")


def _page(receiver: ChannelReceiver, key: str = STATUSPAGE_KEY, page: str | None = None) -> tuple[Statuspage, Resolved]:
    channel = Statuspage(page=page or receiver.page, api_key=KEY, api=receiver.statuspage_api,
                         components={"checkout": "cmp-checkout"})  # fmt: skip
    return channel, Resolved({KEY: key})


def _send(receiver: ChannelReceiver, sent: Notice, **kw: str) -> Answer:
    channel, resolved = _page(receiver, **kw)
    return channel.send(sent, resolved, 5)


def test_the_first_update_creates_and_the_next_patches_the_same_incident(receiver: ChannelReceiver) -> None:
    created = _send(receiver, notice())
    assert created.ok and created.external_id == "sp0001"
    assert created.detail == "HTTP 201: incident sp0001 created"
    post = receiver.received("statuspage")[0]
    assert (post.method, post.path) == ("POST", f"/v1/pages/{receiver.page}/incidents")
    assert post.headers["Authorization"] == f"OAuth {STATUSPAGE_KEY}"
    assert post.body == {
        "incident": {
            "name": "Checkout errors",
            "impact_override": "major",
            "status": "investigating",
            "body": "looking\n\nImpact: cannot pay",
            "deliver_notifications": True,
            "components": {"cmp-checkout": "partial_outage"},
            "component_ids": ["cmp-checkout"],
        }
    }  # the internal message (ids, actions) never goes to the public page; unmapped systems are left out

    patched = _send(receiver, notice(status="resolved", external_id="sp0001"))
    assert patched.ok and patched.external_id == "sp0001" and patched.detail == "HTTP 200: incident sp0001 updated"
    patch = receiver.received("statuspage")[1]
    assert (patch.method, patch.path) == ("PATCH", f"/v1/pages/{receiver.page}/incidents/sp0001")
    assert patch.body["incident"]["status"] == "resolved" and "name" not in patch.body["incident"]
    assert patch.body["incident"]["components"] == {"cmp-checkout": "operational"}
    assert list(receiver.incidents()) == ["sp0001"]  # one incident on the page, not two


@pytest.mark.parametrize(("severity", "impact", "component"), [
    (Severity.SEV1, "critical", "major_outage"), (Severity.SEV2, "major", "partial_outage"),
    (Severity.SEV3, "minor", "degraded_performance"), (Severity.SEV4, "none", "degraded_performance"),
])  # fmt: skip
def test_impact_and_component_status_follow_the_severity(
    receiver: ChannelReceiver, severity: Severity, impact: str, component: str
) -> None:
    assert _send(receiver, notice(severity=severity)).ok
    body = receiver.received("statuspage")[0].body["incident"]
    assert (body["impact_override"], body["components"]) == (impact, {"cmp-checkout": component})


def test_closed_is_resolved_on_the_page(receiver: ChannelReceiver) -> None:
    assert _send(receiver, notice(status="closed", external_id=None)).ok
    assert receiver.received("statuspage")[0].body["incident"]["status"] == "resolved"


def test_a_wrong_key_is_401_and_not_retried(receiver: ChannelReceiver) -> None:
    answer = _send(receiver, notice(), key="sp-key-wrong-0000")
    assert (answer.ok, answer.retry, answer.detail) == (False, False, "HTTP 401: Could not authenticate")


def test_an_unknown_page_or_incident_is_404(receiver: ChannelReceiver) -> None:
    assert _send(receiver, notice(), page="nope").detail == "HTTP 404: Not found"
    gone = _send(receiver, notice(external_id="sp9999"))
    assert (gone.ok, gone.retry, gone.detail) == (False, False, "HTTP 404: Not found")


@pytest.mark.parametrize("status", [420, 429])
def test_rate_limits_are_worth_a_retry_after_the_time_asked(receiver: ChannelReceiver, status: int) -> None:
    receiver.script("statuspage", Scripted(status, '{"error": "Rate limit exceeded"}', (("Retry-After", "7"),)))
    answer = _send(receiver, notice())
    assert (answer.ok, answer.retry, answer.retry_after) == (False, True, 7.0)
    assert answer.detail == f"HTTP {status}: Rate limit exceeded"


def test_a_created_incident_without_an_id_is_a_failure_rather_than_a_duplicate_later(
    receiver: ChannelReceiver,
) -> None:
    receiver.script("statuspage", Scripted(201, '{"name": "x"}'))
    answer = _send(receiver, notice())
    assert (answer.ok, answer.retry) == (False, False) and "names no incident id" in answer.detail
