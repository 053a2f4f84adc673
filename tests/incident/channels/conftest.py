"""Fixtures for the channel kinds: the Slack/Statuspage/webhook-shaped receiver and a notice to send."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from runner.incident.channels.base import Notice
from runner.incident.events import IncidentUpdate
from runner.incident.model import IncidentType, Severity, Status
from runner.incident.view import Incident
from tests.servers.channel_receiver import ChannelReceiver

SLACK_TOKEN = "xoxwebhooktokenQ7mZ2pL9vR4sT8wK"
STATUSPAGE_KEY = "sp-key-4f1c9a7e2b8d6053"
AT = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
MESSAGE = "[INC-2026-007] SEV2 incident: Checkout <errors> & timeouts\nStatus: investigating\nSummary: looking"


@pytest.fixture
def receiver() -> Iterator[ChannelReceiver]:
    with ChannelReceiver(SLACK_TOKEN, STATUSPAGE_KEY) as rx:
        yield rx


def notice(
    status: str = "investigating",
    severity: Severity = Severity.SEV2,
    systems: tuple[str, ...] = ("checkout", "search"),
    external_id: str | None = None,
    message: str = MESSAGE,
    incident_type: IncidentType = IncidentType.AVAILABILITY,
) -> Notice:
    incident = Incident(id="INC-2026-007", title="Checkout errors", severity=severity, type=incident_type,
                        status=Status.INVESTIGATING, declared_at=AT, declared_by="alice", systems=systems,
                        impact="cannot pay")  # fmt: skip
    update = IncidentUpdate(status=status, summary="looking", impact="", message=message, shape="initial",
                            channels=("incidents",))  # fmt: skip
    return Notice(incident, update, 5, AT, external_id)
