"""Incident ids are INC-YYYY-NNN, sequential per store and year, and never shared, on both stores."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.incident import ids
from runner.journal.store import Journal, open_journal

# Each process waits for the go file, then takes ids as fast as it can: the two overlap on every number.
_TAKER = """
import json, os, sys, time
from runner.incident import ids
from runner.journal.store import open_journal
journal = open_journal()
while not os.path.exists(sys.argv[1]):
    time.sleep(0.005)
print(json.dumps([ids.allocate(journal) for _ in range(int(sys.argv[2]))]))
"""


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """FIRELINE_STORE for either store (the PostgreSQL one only when that test runs)."""
    location = request.getfixturevalue("pg_db") if request.param == "postgres" else str(tmp_path / "journal.db")
    monkeypatch.setenv("FIRELINE_STORE", location)
    return location


def test_ids_are_sequential_per_year_with_at_least_three_digits(store: str) -> None:
    journal = open_journal()
    first = ids.allocate(journal, datetime(2026, 3, 1, tzinfo=UTC))
    second = ids.allocate(journal, datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    next_year = ids.allocate(journal, datetime(2027, 1, 1, tzinfo=UTC))
    assert (first, second, next_year) == ("INC-2026-001", "INC-2026-002", "INC-2027-001")
    assert ids.format_id(2026, 1234) == "INC-2026-1234" and ids.is_incident_id("INC-2026-1234")
    assert not ids.is_incident_id("INC-26-1")


def test_two_processes_declaring_at_once_never_get_the_same_id(store: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    env = {**os.environ, "FIRELINE_STORE": store}
    open_journal().close()  # the store exists before both race (creating it is serialized separately)
    takers = [
        subprocess.Popen([sys.executable, "-c", _TAKER, str(go), "40"], stdout=subprocess.PIPE, env=env, text=True)
        for _ in range(2)
    ]
    go.touch()
    taken = [json.loads(p.communicate(timeout=120)[0]) for p in takers]
    assert all(p.returncode == 0 for p in takers)
    every = taken[0] + taken[1]
    year = datetime.now(UTC).year
    assert sorted(every) == [ids.format_id(year, n) for n in range(1, 81)]  # 80 distinct, none skipped


def test_a_journal_of_the_previous_schema_gains_the_counters(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Journal(path).close()
    db = sqlite3.connect(path)
    db.execute("DROP TABLE counters")
    db.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    journal = Journal(path)
    assert ids.allocate(journal, datetime(2026, 1, 1, tzinfo=UTC)) == "INC-2026-001"
