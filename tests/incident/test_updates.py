"""Status updates: the shape (initial, progress, resolution), the next update from the severity's cadence,
and the place where delivery plugs in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.incident.lifecycle import Declaration, TransitionRefused, declare, resolve
from runner.incident.model import Milestone, Severity, Status
from runner.incident.store import load
from runner.incident.updates import UpdateRequest, post_update
from runner.journal.store import Journal
from runner.policy import policy_in_force

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.db")


def _post(journal: Journal, incident_id: str, request: UpdateRequest, at: datetime = NOW):  # type: ignore[no-untyped-def]
    incident = load(journal, incident_id)
    level = policy_in_force().severities[str(incident.severity)]
    return post_update(journal, incident, request, level, "bob", at)


@pytest.mark.parametrize(("severity", "minutes"), [(Severity.SEV1, 15), (Severity.SEV2, 30), (Severity.SEV3, 120)])
def test_the_next_update_follows_the_severitys_cadence(journal: Journal, severity: Severity, minutes: int) -> None:
    incident_id = declare(journal, Declaration("x", severity), "alice")
    recorded, _, _ = _post(journal, incident_id, UpdateRequest(Status.INVESTIGATING, "looking"))
    assert recorded.next_update_at == (NOW + timedelta(minutes=minutes)).isoformat().replace("+00:00", ".000000Z")


def test_sev4_has_no_cadence_but_an_update_may_promise_one(journal: Journal) -> None:
    incident_id = declare(journal, Declaration("x", Severity.SEV4), "alice")
    first, _, deliveries = _post(journal, incident_id, UpdateRequest(Status.INVESTIGATING, "looking"))
    assert first.next_update_at is None and "Next update: when there is news" in first.message
    assert deliveries == []  # SEV4 names no channels
    promised, _, _ = _post(journal, incident_id, UpdateRequest(Status.IDENTIFIED, "found", next_update_s=600))
    assert promised.next_update_at == "2026-12-04T10:10:00.000000Z"


def test_the_shapes_initial_progress_resolution(journal: Journal) -> None:
    started = datetime(2026, 12, 3, 22, 0, tzinfo=UTC)
    incident_id = declare(journal, Declaration("Checkout down", Severity.SEV2, started_at=started), "alice")
    initial, _, deliveries = _post(journal, incident_id, UpdateRequest(Status.INVESTIGATING, "looking", "no pay"))
    assert initial.shape == "initial" and "SEV2 incident: Checkout down" in initial.message
    assert "Started: 2026-12-03 22:00:00 UTC" in initial.message and "Impact: no pay" in initial.message
    assert [(d.channel, d.delivered) for d in deliveries] == [("incidents", False), ("status-page", False)]
    progress, changed, _ = _post(journal, incident_id, UpdateRequest(Status.IDENTIFIED, "pool", actions=("a",)))
    assert progress.shape == "progress" and changed == ["status investigating → identified"]
    done, changed, _ = _post(journal, incident_id, UpdateRequest(Status.RESOLVED, "fixed"), NOW)
    assert done.shape == "resolution" and done.next_update_at is None
    assert "Resolved: 2026-12-04 10:00:00 UTC (impact lasted 12h00m)" in done.message
    assert "resolved" in changed and load(journal, incident_id).at(Milestone.RESOLVED) == NOW


def test_a_resolution_update_after_the_resolution_says_when_it_was_resolved(journal: Journal) -> None:
    """`resolve` (its gate) first, the update for the status page later: the update tells the resolution's
    time and the impact's length, which stopped growing then, not the moment the update was written."""
    started = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    incident_id = declare(journal, Declaration("Checkout down", Severity.SEV2, started_at=started), "alice")
    resolve(journal, load(journal, incident_id), "alice", NOW)
    later, _, _ = _post(journal, incident_id, UpdateRequest(Status.RESOLVED, "fixed"), NOW + timedelta(hours=2))
    assert "Resolved: 2026-12-04 10:00:00 UTC (impact lasted 1h00m)" in later.message


def test_a_refused_status_writes_nothing(journal: Journal) -> None:
    incident_id = declare(journal, Declaration("x", Severity.SEV3), "alice")
    before = len(journal.events(incident_id))
    with pytest.raises(TransitionRefused, match="cannot make it closed"):
        _post(journal, incident_id, UpdateRequest(Status.CLOSED, "done"))
    assert len(journal.events(incident_id)) == before
