"""`incident show`: the next update due or overdue by how long, never for a resolved or closed incident."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from runner.incident import events as iev
from runner.incident.render import show_data, show_text
from runner.incident.view import fold
from runner.journal.events import Event
from runner.policy import policy_in_force

DECLARED = {"title": "Checkout down", "severity": "SEV1", "type": "availability", "started_at": "", "policy": ""}


def _incident(*more: tuple[str, dict[str, Any]]) -> Any:
    rows = [(iev.DECLARED, DECLARED), *more]
    return fold(Event("INC-2026-002", n, "2026-12-04T10:00:00.000000Z", 0.0, t, None, "a", d)
                for n, (t, d) in enumerate(rows, 1))  # fmt: skip


def test_overdue_says_by_how_long_and_when_it_was_due() -> None:
    level = policy_in_force().severities["SEV1"]
    incident = _incident()
    late = datetime(2026, 12, 4, 10, 40, tzinfo=UTC)  # SEV1: due 10:15, 25 minutes late
    assert "update overdue by 25m (was due by 2026-12-04 10:15 UTC)" in show_text(incident, level, late)
    data = show_data(incident, level, late)["next_update"]
    assert data == {"due_at": "2026-12-04T10:15:00.000000Z", "overdue": True, "overdue_s": 1500.0, "in_s": 0.0}
    early = datetime(2026, 12, 4, 10, 5, tzinfo=UTC)
    assert "next update due in 10m, by 2026-12-04 10:15 UTC" in show_text(incident, level, early)


def test_nothing_is_due_once_resolved_or_closed_however_late_it_is() -> None:
    level = policy_in_force().severities["SEV1"]
    years_later = datetime(2029, 1, 1, tzinfo=UTC)
    for status in ("resolved", "closed"):
        incident = _incident((iev.STATUS_CHANGED, {"old": "investigating", "new": status}))
        assert "overdue" not in show_text(incident, level, years_later)
        assert show_data(incident, level, years_later)["next_update"] is None


def test_required_roles_not_filled_are_named() -> None:
    level = policy_in_force().severities["SEV1"]
    shown = show_data(_incident((iev.ROLE_ASSIGNED, {"role": "commander", "name": "alice"})), level)
    assert shown["roles_missing"] == ["tech-lead", "comms", "scribe"]
    assert "comms        - (required for SEV1)" in show_text(_incident(), level)
