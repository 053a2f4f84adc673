"""What happens to an incident: declaring, milestones, status transitions, resolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.incident import events as iev
from runner.incident.lifecycle import (
    Declaration,
    MilestoneOrder,
    TransitionRefused,
    acknowledge,
    check_order,
    declare,
    mitigate,
    reach,
    resolve,
    set_status,
)
from runner.incident.model import TRANSITIONS, Milestone, Severity, Status
from runner.incident.store import load
from runner.journal.store import Journal


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.db")


def test_declaring_records_the_impact_start_and_the_detection(journal: Journal) -> None:
    started = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    incident_id = declare(journal, Declaration("Checkout down", Severity.SEV2, started_at=started), "alice")
    incident = load(journal, incident_id)
    assert incident.at(Milestone.STARTED) == started and incident.declared_by == "alice"
    detected = incident.at(Milestone.DETECTED)
    assert incident.declared_at is not None and detected is not None  # declaring is detecting, unless told
    assert abs(detected - incident.declared_at) < timedelta(seconds=5)
    assert iev.IncidentDeclared.of(journal.events(incident_id)[0]).started_at == "2026-12-04T09:00:00.000000Z"


def test_a_milestone_is_recorded_once(journal: Journal) -> None:
    incident_id = declare(journal, Declaration("x", Severity.SEV3), "alice")
    assert acknowledge(journal, load(journal, incident_id), "bob") is True
    assert acknowledge(journal, load(journal, incident_id), "carol") is False
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert reach(journal, incident_id, Milestone.ACKNOWLEDGED, later, "alert", "x") is False
    assert load(journal, incident_id).milestones[Milestone.ACKNOWLEDGED].actor == "bob"


def test_every_status_may_follow_only_what_the_life_of_an_incident_allows(journal: Journal) -> None:
    incident_id = declare(journal, Declaration("x", Severity.SEV3), "alice")
    with pytest.raises(TransitionRefused, match="from investigating it can become identified, monitoring, resolved"):
        set_status(journal, load(journal, incident_id), Status.CLOSED, "alice")
    assert set_status(journal, load(journal, incident_id), Status.MONITORING, "a") == [
        "status investigating → monitoring"
    ]
    assert set_status(journal, load(journal, incident_id), Status.MONITORING, "a") == []
    assert Status.INVESTIGATING in TRANSITIONS[Status.MONITORING]  # a fix that did not hold
    assert TRANSITIONS[Status.CLOSED] == frozenset()


def test_resolving_without_a_mitigation_records_both_at_once(journal: Journal) -> None:
    incident_id = declare(journal, Declaration("x", Severity.SEV3), "alice")
    changed = resolve(journal, load(journal, incident_id), "alice")
    assert changed == ["mitigated", "resolved", "status investigating → resolved"]
    incident = load(journal, incident_id)
    assert incident.at(Milestone.MITIGATED) == incident.at(Milestone.RESOLVED)
    assert incident.milestones[Milestone.MITIGATED].source.startswith("resolution")
    assert resolve(journal, incident, "alice") == []  # already resolved: nothing more is written


def test_mitigation_moves_the_status_to_monitoring_once(journal: Journal) -> None:
    incident_id = declare(journal, Declaration("x", Severity.SEV3), "alice")
    assert mitigate(journal, load(journal, incident_id), "a") == ["mitigated", "status investigating → monitoring"]
    assert mitigate(journal, load(journal, incident_id), "a") == []


def test_no_milestone_may_come_before_the_impact_started(journal: Journal) -> None:
    started = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    incident_id = declare(journal, Declaration("x", Severity.SEV3, started_at=started), "alice")
    incident = load(journal, incident_id)
    with pytest.raises(MilestoneOrder, match="before the impact started"):
        check_order(incident, Milestone.ACKNOWLEDGED, started - timedelta(seconds=1))
    with pytest.raises(MilestoneOrder, match="after detected"):
        check_order(incident, Milestone.STARTED, datetime.now(UTC) + timedelta(minutes=1))
    check_order(incident, Milestone.STARTED, started - timedelta(hours=1))
