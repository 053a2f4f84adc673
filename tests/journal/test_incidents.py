"""The incident index (runner.journal.incidents) on SQLite and PostgreSQL: it says what the incident view
(the fold of the events) says — for damaged and out-of-order streams too —, it is kept with every write,
built again from the events alone (and when an older store is migrated), and it lists open incidents from a
partial index, without touching the incidents that are over."""

from __future__ import annotations

import random
import sqlite3
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest

from runner.incident.metrics import facts_of, facts_of_row
from runner.incident.model import Milestone
from runner.incident.store import load
from runner.journal.incidents import MILESTONES, OPEN_IDS, utc_text
from runner.journal.store import Journal, open_journal
from tests.journal.conftest import assert_schema_current

T = "2026-11-20T09:{:02d}:00Z"
DECLARED = {"title": "Checkout down", "severity": "SEV2", "type": "availability", "systems": ["checkout", "db"]}
# (incident, event type, payload): each stream tests one rule the view folds by.
STREAMS: list[tuple[str, str, dict[str, Any]]] = [
    # milestones: the first readable one counts; unknown names and unreadable times change nothing
    ("INC-2026-001", "incident.declared", DECLARED),
    ("INC-2026-001", "incident.milestone", {"name": "started", "at": T.format(0), "source": "command"}),
    ("INC-2026-001", "incident.milestone", {"name": "detected", "at": "yesterday", "source": "command"}),
    ("INC-2026-001", "incident.milestone", {"name": "detected", "at": T.format(4), "source": "command"}),
    ("INC-2026-001", "incident.milestone", {"name": "detected", "at": T.format(9), "source": "command"}),
    ("INC-2026-001", "incident.milestone", {"name": "fixed", "at": T.format(9)}),
    ("INC-2026-001", "incident.milestone", {"name": "acknowledged", "at": "2026-11-20T10:00:00+01:00"}),
    ("INC-2026-001", "incident.milestone", {"name": "mitigated", "at": "2026-11-20T09:20:00"}),  # no zone: UTC
    # corrections: the last readable one wins, also one made before the milestone was recorded
    ("INC-2026-002", "incident.declared", {**DECLARED, "severity": "SEV9", "type": "weird", "systems": "db"}),
    ("INC-2026-002", "incident.milestone", {"name": "started", "at": T.format(2)}),
    ("INC-2026-002", "incident.corrected", {"milestone": "started", "old": T.format(2), "new": T.format(1)}),
    ("INC-2026-002", "incident.corrected", {"milestone": "started", "old": T.format(1), "new": T.format(0)}),
    ("INC-2026-002", "incident.corrected", {"milestone": "started", "old": T.format(0), "new": "soon"}),
    ("INC-2026-002", "incident.corrected", {"milestone": "resolved", "old": None, "new": T.format(30)}),
    ("INC-2026-002", "incident.milestone", {"name": "resolved", "at": T.format(40)}),
    ("INC-2026-002", "incident.severity_changed", {"old": "SEV9", "new": "SEV1", "reason": "worse"}),
    ("INC-2026-002", "incident.status_changed", {"old": "investigating", "new": "resolved"}),
    ("INC-2026-002", "incident.status_changed", {"old": "resolved", "new": "archived"}),  # unknown: ignored
    # status: unknown ones change nothing; resolved, then reopened; closed; a second declaration is ignored
    ("INC-2026-003", "incident.declared", {**DECLARED, "severity": "SEV4", "type": "drill"}),
    ("INC-2026-003", "incident.status_changed", {"old": "investigating", "new": "resolved"}),
    ("INC-2026-003", "incident.status_changed", {"old": "resolved", "new": "investigating"}),
    ("INC-2026-003", "incident.status_changed", {"old": "investigating", "new": "paused"}),
    ("INC-2026-003", "incident.declared", {**DECLARED, "severity": "SEV1"}),
    ("INC-2026-004", "incident.declared", {"title": "bare"}),
    ("INC-2026-004", "incident.severity_changed", {"old": "SEV1", "new": ["SEV2"]}),
    ("INC-2026-004", "incident.closed", {"reason": "duplicate"}),
    ("run-1234", "incident.milestone", {"name": "started", "at": T.format(0)}),  # not an incident
]


def _write(journal: Journal, events: list[tuple[str, str, dict[str, Any]]], batch: bool) -> None:
    for run_id, type_, data in events:
        journal.append(run_id, type_, actor="responder", data=data, durable=not batch)
    journal.flush()


def _by_view(journal: Journal) -> dict[str, Any]:
    ids = sorted({run_id for run_id, *_ in STREAMS if run_id.startswith("INC-")})
    return {i: facts_of(load(journal, i)) for i in ids}


def _by_index(journal: Journal) -> dict[str, Any]:
    return {row.id: facts_of_row(row) for row in journal.incidents()}


def _same(view: Any, index: Any) -> None:
    """The same facts, and the same corrected milestones at the same times (what each correction replaced is
    the time first recorded in the index, and the one before the last correction in the view)."""
    assert index._replace(corrections=()) == view._replace(corrections=())
    assert [(c.milestone, c.corrected) for c in index.corrections] == [
        (c.milestone, c.corrected) for c in view.corrections
    ]


@pytest.mark.parametrize("batch", [False, True], ids=["one-by-one", "group-committed"])
def test_the_index_says_what_the_view_says(journal: Journal, batch: bool) -> None:
    _write(journal, STREAMS, batch)
    view, index = _by_view(journal), _by_index(journal)
    assert list(index) == ["INC-2026-001", "INC-2026-002", "INC-2026-003", "INC-2026-004"]
    for incident_id, facts in view.items():
        _same(facts, index[incident_id])
    # Spot checks of what the rules mean, so that a rule both got wrong the same way still fails here.
    rows = {row.id: row for row in journal.incidents()}
    first, second, third, fourth = (rows[f"INC-2026-00{n}"] for n in range(1, 5))
    assert first.reached == (
        "2026-11-20T09:00:00.000000Z", "2026-11-20T09:04:00.000000Z", "2026-11-20T09:00:00.000000Z",
        "2026-11-20T09:20:00.000000Z", None,
    )  # fmt: skip
    assert first.corrected == (None,) * 5 and first.at("detected") == "2026-11-20T09:04:00.000000Z"
    assert second.reached[0] == utc_text(T.format(2)) and second.corrected[0] == utc_text(T.format(0))
    assert second.at("started") == "2026-11-20T09:00:00.000000Z" and second.at("resolved") == utc_text(T.format(30))
    assert (second.severity, second.type, second.systems, second.status) == ("SEV1", "weird", (), "resolved")
    assert index["INC-2026-002"].type == "availability"  # an unknown type reads as the view reads it
    assert (third.severity, third.type, third.status) == ("SEV4", "drill", "investigating")
    assert (fourth.severity, fourth.status) == ("", "closed") and index["INC-2026-004"].severity == "SEV1"


def test_writers_at_once_leave_the_index_as_the_view_says(journal: Journal) -> None:
    """Four connections appending to the same incidents at once, in batches and one by one: the index is
    written in the transaction of its events, so it ends as the fold of the events in their stored order."""
    ids = [f"INC-2026-{n:03d}" for n in range(1, 4)]
    for incident_id in ids:
        journal.append(incident_id, "incident.declared", data=DECLARED, durable=True)

    def writer(number: int) -> None:
        own = open_journal()
        rnd = random.Random(number)
        try:
            for index in range(60):
                incident_id, name = rnd.choice(ids), rnd.choice(MILESTONES)
                if rnd.random() < 0.2:
                    data = {"milestone": name, "old": None, "new": T.format(rnd.randint(0, 59))}
                    own.append(incident_id, "incident.corrected", data=data, durable=index % 2 == 0)
                elif rnd.random() < 0.1:
                    new = rnd.choice(["resolved", "investigating", "closed"])
                    own.append(incident_id, "incident.status_changed", data={"new": new}, durable=True)
                else:
                    data = {"name": name, "at": T.format(rnd.randint(0, 59)), "source": f"writer {number}"}
                    own.append(incident_id, "incident.milestone", data=data, durable=index % 3 == 0)
            own.flush()
        finally:
            own.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    index = _by_index(journal)
    for incident_id in ids:
        _same(facts_of(load(journal, incident_id)), index[incident_id])
    assert len(journal.events(ids[0])) > 40 and any(index[i].corrections for i in ids)


def test_the_index_keeps_milestones_in_the_view_s_order() -> None:
    assert tuple(str(m) for m in Milestone) == MILESTONES


def test_open_incidents_newest_first_and_rebuilt_from_the_events(journal: Journal) -> None:
    _write(journal, STREAMS, batch=False)
    assert journal.open_incidents(10) == ["INC-2026-003", "INC-2026-001"]
    assert journal.open_incidents(1) == ["INC-2026-003"]
    before = journal.incidents()
    journal.rebuild_incident_index()
    assert journal.incidents() == before
    journal.append("INC-2026-003", "incident.closed", data={"reason": "done"}, durable=True)
    assert journal.open_incidents(10) == ["INC-2026-001"]


def test_an_older_sqlite_store_gets_its_index_from_the_events(fireline_home: Path) -> None:
    path = fireline_home / "journal.db"
    journal = Journal(path)
    _write(journal, STREAMS, batch=False)
    expected = journal.incidents()
    journal.close()
    with sqlite3.connect(path) as db:  # as schema 6 left it: no index
        db.execute("DROP TABLE incident_index")
        db.execute("UPDATE meta SET value = '6' WHERE key = 'schema_version'")
    db.close()
    migrated = Journal(path)
    assert migrated.incidents() == expected
    assert migrated.open_incidents(10) == ["INC-2026-003", "INC-2026-001"]
    migrated.close()
    assert_schema_current(path)


def test_an_older_team_store_gets_its_index_from_the_events(pg_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRELINE_STORE", pg_db)
    journal = open_journal()
    _write(journal, STREAMS, batch=True)
    expected = journal.incidents()
    journal.close()
    with psycopg.connect(pg_db, autocommit=True) as db:
        db.execute("DROP TABLE incident_index")
        db.execute("UPDATE fireline_meta SET value = '6' WHERE key = 'schema_version'")
    migrated = open_journal()
    assert migrated.incidents() == expected
    migrated.close()


def test_listing_open_incidents_reads_only_the_open_ones(fireline_home: Path) -> None:
    """What keeps `incident list --open` flat as history grows: the query is answered from the partial index
    of open incidents (its size is the number of open ones), not by scanning every incident."""
    path = fireline_home / "journal.db"
    Journal(path).close()
    with sqlite3.connect(path) as db:
        plan = " ".join(str(row[-1]) for row in db.execute(f"EXPLAIN QUERY PLAN {OPEN_IDS}", (50,)))
    db.close()
    assert "USING INDEX incident_index_open" in plan and "TEMP B-TREE" not in plan
