"""The store's alert-group rule (runner.journal.incidents, schema 8): at most one open incident holds an alert
group, decided by a unique index in the transaction that also takes the incident's number — so a refused
declaration writes nothing and takes no number — on SQLite and PostgreSQL, and for stores of schema 7."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from runner.journal.incidents import AlertGroup
from runner.journal.store import Journal, open_journal
from tests.journal.conftest import assert_schema_current

GROUP = '{}:{alertname="PostgresTooManyConnections"}'


def _declaring(group: str) -> Any:
    def events(number: int) -> list[tuple[str, str, str | None, dict[str, Any]]]:
        incident = f"INC-2026-{number:03d}"
        return [
            (incident, "incident.declared", "alertmanager", {"title": "t", "severity": "SEV1", "type": "availability"}),
            (incident, "incident.alert", "alertmanager", {"group_key": group, "status": "firing", "declared": True}),
        ]

    return events


def test_a_second_open_incident_for_a_group_is_refused_and_takes_no_number(journal: Journal) -> None:
    assert journal.append_numbered("incident-2026", _declaring(GROUP)) == 1
    assert journal.alert_group(GROUP) == AlertGroup("INC-2026-001", "investigating", True)
    assert journal.append_numbered("incident-2026", _declaring(GROUP)) is None  # refused: nothing written
    assert [e.type for e in journal.events("INC-2026-002")] == []
    assert journal.append_numbered("incident-2026", _declaring("another group")) == 2  # number 2 was not lost
    assert [row.id for row in journal.incidents()] == ["INC-2026-001", "INC-2026-002"]


def test_an_incident_that_is_over_lets_its_group_go(journal: Journal) -> None:
    journal.append_numbered("incident-2026", _declaring(GROUP))
    journal.append("INC-2026-001", "incident.status_changed", data={"old": "investigating", "new": "resolved"})
    assert journal.alert_group(GROUP) == AlertGroup("INC-2026-001", "resolved", False)
    assert journal.append_numbered("incident-2026", _declaring(GROUP)) == 2
    assert journal.alert_group(GROUP) == AlertGroup("INC-2026-002", "investigating", True)
    # Reopening the first one does not take the group back from the second (and is not refused).
    journal.append("INC-2026-001", "incident.status_changed", data={"old": "resolved", "new": "investigating"},
                   durable=True)  # fmt: skip
    assert journal.alert_group(GROUP) == AlertGroup("INC-2026-002", "investigating", True)
    journal.append("INC-2026-002", "incident.closed", data={}, durable=True)
    assert journal.alert_group(GROUP) == AlertGroup("INC-2026-002", "closed", False)


def test_attaching_alerts_changes_nothing_of_the_group(journal: Journal) -> None:
    journal.append_numbered("incident-2026", _declaring(GROUP))
    journal.append("INC-2026-001", "incident.alert", data={"group_key": "other", "status": "firing"}, durable=True)
    assert journal.alert_group(GROUP) == AlertGroup("INC-2026-001", "investigating", True)
    assert journal.alert_group("other") is None
    journal.rebuild_incident_index()
    assert journal.alert_group(GROUP) == AlertGroup("INC-2026-001", "investigating", True)


def test_a_schema_7_sqlite_store_gets_the_rule(fireline_home: Path) -> None:
    path = fireline_home / "journal.db"
    journal = Journal(path)
    journal.append_numbered("incident-2026", _declaring(GROUP))
    journal.close()
    with sqlite3.connect(path) as db:  # as schema 7 left it
        db.execute("DROP INDEX incident_index_alert_claim")
        db.execute("DROP INDEX incident_index_alert_group")
        db.execute("ALTER TABLE incident_index DROP COLUMN alert_claim")
        db.execute("ALTER TABLE incident_index DROP COLUMN alert_group")
        db.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    db.close()
    migrated = Journal(path)
    assert migrated.alert_group(GROUP) == AlertGroup("INC-2026-001", "investigating", True)
    assert migrated.append_numbered("incident-2026", _declaring(GROUP)) is None
    migrated.close()
    assert_schema_current(path)


def test_a_schema_7_team_store_gets_the_rule(pg_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRELINE_STORE", pg_db)
    journal = open_journal()
    journal.append_numbered("incident-2026", _declaring(GROUP))
    journal.close()
    with psycopg.connect(pg_db, autocommit=True) as db:
        db.execute("ALTER TABLE incident_index DROP COLUMN alert_claim, DROP COLUMN alert_group")
        db.execute("UPDATE fireline_meta SET value = '7' WHERE key = 'schema_version'")
    migrated = open_journal()
    assert migrated.alert_group(GROUP) == AlertGroup("INC-2026-001", "investigating", True)
    assert migrated.append_numbered("incident-2026", _declaring(GROUP)) is None
    migrated.close()
