"""The Incident view: a fold of the incident's events, tolerant of what a newer fireline writes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from runner.incident import events as iev
from runner.incident.model import IncidentType, LinkKind, Milestone, Role, Severity, Status
from runner.incident.view import fold
from runner.journal.events import Event


def _events(*items: tuple[str, dict[str, Any], str]) -> list[Event]:
    return [
        Event("INC-2026-007", seq, f"2026-12-04T10:{seq:02d}:00.000000Z", float(seq), type_, None, actor, data)
        for seq, (type_, data, actor) in enumerate(items, start=1)
    ]


def _declared(**extra: Any) -> tuple[str, dict[str, Any], str]:
    data = {"title": "Checkout down", "severity": "SEV3", "type": "availability", "systems": ["checkout"],
            "impact": "", "started_at": "2026-12-04T09:00:00Z", "policy": "", **extra}  # fmt: skip
    return (iev.DECLARED, data, "alice")


def test_the_first_milestone_counts_and_a_later_correction_wins() -> None:
    incident = fold(_events(
        _declared(),
        (iev.MILESTONE, {"name": "started", "at": "2026-12-04T09:00:00Z", "source": "command"}, "alice"),
        (iev.MILESTONE, {"name": "acknowledged", "at": "2026-12-04T10:03:00Z", "source": "command"}, "bob"),
        (iev.MILESTONE, {"name": "acknowledged", "at": "2026-12-04T10:04:00Z", "source": "command"}, "carol"),
        (iev.CORRECTED, {"milestone": "started", "old": "2026-12-04T09:00:00Z", "new": "2026-12-04T08:45:00Z",
                         "reason": "graphs"}, "dave"),
    ))
    assert incident.at(Milestone.STARTED) == datetime(2026, 12, 4, 8, 45, tzinfo=UTC)
    started = incident.milestones[Milestone.STARTED]
    assert started.correction is not None and started.correction.by == "dave" and started.source == "command"
    acked = incident.milestones[Milestone.ACKNOWLEDGED]
    assert (acked.actor, acked.at.minute) == ("bob", 3)


def test_roles_status_severity_updates_and_links_fold_in_order() -> None:
    incident = fold(_events(
        _declared(commander="alice"),
        (iev.ROLE_ASSIGNED, {"role": "comms", "name": "bob"}, "alice"),
        (iev.ROLE_ASSIGNED, {"role": "participant", "name": "carol"}, "alice"),
        (iev.ROLE_ASSIGNED, {"role": "participant", "name": "carol"}, "alice"),
        (iev.SEVERITY_CHANGED, {"old": "SEV3", "new": "SEV2", "reason": "spreading"}, "alice"),
        (iev.STATUS_CHANGED, {"old": "investigating", "new": "identified"}, "alice"),
        (iev.UPDATE, {"status": "identified", "summary": "found it", "next_update_at": "2026-12-04T10:36:00Z"}, "bob"),
        (iev.LINKED, {"run_id": "run-1", "kind": "runbook", "name": "restart"}, "alice"),
        (iev.NOTE, {"text": "x", "kind": "decision"}, "alice"),
    ))
    assert incident.roles == {Role.COMMANDER: "alice", Role.COMMS: "bob"} and incident.participants == ("carol",)
    assert (incident.severity, incident.status, incident.type) == (Severity.SEV2, Status.IDENTIFIED,
                                                                   IncidentType.AVAILABILITY)  # fmt: skip
    assert incident.next_update_due(1800) == datetime(2026, 12, 4, 10, 36, tzinfo=UTC)  # what the update promised
    assert [(link.run_id, link.kind) for link in incident.links] == [("run-1", LinkKind.RUNBOOK)]
    assert (incident.updates, incident.notes, incident.last_seq) == (1, 1, 9)


def test_before_any_update_the_cadence_runs_from_the_declaration_and_stops_at_resolution() -> None:
    events = _events(_declared())
    assert fold(events).next_update_due(900) == datetime(2026, 12, 4, 10, 16, tzinfo=UTC)
    assert fold(events).next_update_due(None) is None
    resolved = _events(_declared(), (iev.STATUS_CHANGED, {"old": "investigating", "new": "resolved"}, "a"))
    assert fold(resolved).next_update_due(900) is None


def test_values_a_newer_fireline_writes_are_skipped_not_misread() -> None:
    incident = fold(_events(
        _declared(severity="SEV0", type="chaos"),
        (iev.MILESTONE, {"name": "contained", "at": "2026-12-04T10:00:00Z"}, "a"),
        (iev.MILESTONE, {"name": "mitigated", "at": "not a time"}, "a"),
        (iev.STATUS_CHANGED, {"old": "investigating", "new": "escalated"}, "a"),
        (iev.ROLE_ASSIGNED, {"role": "ceo", "name": "x"}, "a"),
        ("incident.paged", {"who": "x"}, "a"),
    ))
    assert incident.severity is Severity.SEV1  # unreadable: the most severe, never under-rated
    assert incident.milestones == {} and incident.status is Status.INVESTIGATING and incident.roles == {}
