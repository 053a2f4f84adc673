"""The update cadence where people look (`incident show`, `incident list`): when the next status update is due
or how long it is overdue, never for a resolved or closed incident nor for a severity without a cadence; and
durations that stop growing at the resolution."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.incident import events as iev
from runner.incident.render import cadence_line, list_line, list_row, show_data, show_text
from runner.incident.view import Incident, fold
from runner.journal.events import Event
from runner.policy import policy_in_force
from tests.conftest import write

DECLARED_AT = "2026-12-04T10:00:00.000000Z"
AT = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def _incident(severity: str = "SEV2", *more: tuple[str, dict[str, Any]]) -> Incident:
    declared = {"title": "Checkout down", "severity": severity, "type": "availability", "started_at": DECLARED_AT}
    rows = [(iev.DECLARED, declared), (iev.MILESTONE, {"name": "started", "at": DECLARED_AT, "source": "command"}),
            *more]  # fmt: skip
    return fold(Event("INC-2026-007", n, DECLARED_AT, 0.0, t, None, "alice", d) for n, (t, d) in enumerate(rows, 1))


def _level(severity: str = "SEV2") -> Any:
    return policy_in_force().severities[severity]


def _at(minutes: float) -> datetime:
    return AT + timedelta(minutes=minutes)


def test_due_from_the_declaration_plus_the_cadence_then_overdue_by_how_long() -> None:
    incident = _incident()  # SEV2: an update every 30 minutes
    assert cadence_line(incident, _level(), _at(18)) == "next update due in 12m, by 2026-12-04 10:30 UTC"
    assert cadence_line(incident, _level(), _at(29.5)) == "next update due in 30s, by 2026-12-04 10:30 UTC"
    assert cadence_line(incident, _level(), _at(37.5)) == "update overdue by 7m (was due by 2026-12-04 10:30 UTC)"
    assert cadence_line(incident, _level(), _at(30 + 26 * 60)) == (
        "update overdue by 1d02h (was due by 2026-12-04 10:30 UTC)")  # fmt: skip
    assert "next update due in 12m, by 2026-12-04 10:30 UTC" in show_text(incident, _level(), _at(18)).splitlines()
    assert show_data(incident, _level(), _at(37.5))["cadence"].startswith("update overdue by 7m")


def test_due_when_the_last_update_promised() -> None:
    update = {"status": "identified", "summary": "pool", "next_update_at": "2026-12-04T11:15:00.000000Z"}
    incident = _incident("SEV2", (iev.UPDATE, update))
    assert cadence_line(incident, _level(), _at(45)) == "next update due in 30m, by 2026-12-04 11:15 UTC"
    assert cadence_line(incident, _level(), _at(80)) == "update overdue by 5m (was due by 2026-12-04 11:15 UTC)"


@pytest.mark.parametrize("status", ["resolved", "closed"])
def test_nothing_is_due_for_a_resolved_or_closed_incident_however_late(status: str) -> None:
    incident = _incident("SEV1", (iev.STATUS_CHANGED, {"old": "investigating", "new": status}))
    years_later = datetime(2029, 1, 1, tzinfo=UTC)
    assert cadence_line(incident, _level("SEV1"), years_later) is None
    text = show_text(incident, _level("SEV1"), years_later)
    assert "overdue" not in text and "next update" not in text
    row = list_row(incident, _level("SEV1"), years_later)
    assert row["cadence"] is None and row["next_update"] is None and "[" not in list_line(row)


def test_nothing_is_due_for_sev4_unless_an_update_promised_one() -> None:
    incident = _incident("SEV4")  # cadence: none
    assert cadence_line(incident, _level("SEV4"), _at(600)) is None
    assert "update" not in show_text(incident, _level("SEV4"), _at(600))
    promised = _incident("SEV4", (iev.UPDATE, {"status": "identified", "summary": "s",
                                                "next_update_at": "2026-12-04T12:00:00.000000Z"}))  # fmt: skip
    assert cadence_line(promised, _level("SEV4"), _at(60)) == "next update due in 1h00m, by 2026-12-04 12:00 UTC"


def test_list_rows_say_the_cadence_and_how_long_the_impact_lasted() -> None:
    row = list_row(_incident(), _level(), _at(37.5))
    assert row["cadence"] == "update overdue by 7m (was due by 2026-12-04 10:30 UTC)"
    assert row["next_update"]["overdue"] is True and row["duration_s"] == 2250.0 and row["ongoing"] is True
    line = list_line(row)
    assert line.startswith("INC-2026-007  SEV2  investigating ") and "37m30s+" in line
    assert line.endswith("[update overdue by 7m (was due by 2026-12-04 10:30 UTC)]")


def test_durations_stop_growing_at_the_resolution_and_grow_again_when_reopened() -> None:
    resolved = ("resolved", "2026-12-04T10:42:00.000000Z")
    events = [(iev.MILESTONE, {"name": resolved[0], "at": resolved[1], "source": "resolution gate"}),
              (iev.STATUS_CHANGED, {"old": "investigating", "new": "resolved"})]  # fmt: skip
    incident = _incident("SEV2", *events)
    for later in (_at(50), _at(60 * 24 * 3)):
        assert list_row(incident, _level(), later)["duration_s"] == 42 * 60
        assert "impact: lasted 42m00s (started → resolved)" in show_text(incident, _level(), later)
        assert show_data(incident, _level(), later)["ongoing"] is False
    reopened = _incident("SEV2", *events, (iev.STATUS_CHANGED, {"old": "resolved", "new": "investigating"}))
    assert list_row(reopened, _level(), _at(90))["duration_s"] == 90 * 60
    assert "impact: 1h30m so far (still open)" in show_text(reopened, _level(), _at(90))


def test_update_without_next_update_uses_the_policys_cadence_and_list_and_show_say_it(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = policy_in_force().severities["SEV2"]
    write(
        tmp_path / "incident-policy.yaml",
        f"""\
apiVersion: fireline/v1
kind: IncidentPolicy
severities:
  SEV2:
    title: high
    definition: {base.definition}
    response_target: 15m
    update_cadence: 10m
    roles: []
    channels: []
    criteria: []
""",
    )
    monkeypatch.setenv("FIRELINE_POLICY", str(tmp_path / "incident-policy.yaml"))
    incident_id = cli("incident", "declare", "--title", "Checkout errors", "--sev", "SEV2").out.strip()
    before = datetime.now(UTC)
    posted = cli("incident", "update", incident_id, "--status", "identified", "--summary", "pool", "--format", "json")
    assert posted.code == 0, posted.err
    promised = datetime.fromisoformat(posted.json()["next_update_at"].replace("Z", "+00:00"))
    assert before + timedelta(minutes=10) <= promised <= datetime.now(UTC) + timedelta(minutes=10)
    due = re.compile(r"next update due in (9|10)m, by \d{4}-\d\d-\d\d \d\d:\d\d UTC")
    assert due.search(cli("incident", "show", incident_id).out)
    listed = cli("incident", "list").out
    assert due.search(listed) and incident_id in listed
    assert cli("incident", "list", "--format", "json").json()[0]["next_update"]["overdue"] is False
    assert cli("incident", "resolve", incident_id).code == 0
    assert "next update" not in cli("incident", "show", incident_id).out
    assert "next update" not in cli("incident", "list").out


def test_list_still_lists_when_the_policy_file_in_the_directory_cannot_be_read(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident_id = cli("incident", "declare", "--title", "Checkout errors", "--sev", "SEV2").out.strip()
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "incident-policy.yaml", "apiVersion: fireline/v1\nkind: IncidentPolicy\nseverities: [\n")
    listed = cli("incident", "list")
    assert listed.code == 0 and incident_id in listed.out
    assert "next update due in " in listed.out  # from the built-in cadence
    assert "warning: the policy file cannot be read" in listed.err
    named = cli("incident", "list", "--policy", str(tmp_path / "incident-policy.yaml"))
    assert named.code == 1 and "incident-policy.yaml:" in named.err  # named on purpose: its mistakes are the answer
