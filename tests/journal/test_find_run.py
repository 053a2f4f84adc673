"""Finding a run by the id or the first characters a responder typed, on both stores, without reading the
whole store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from runner.journal.sqlite import RUN_IDS
from runner.journal.store import Journal


@pytest.fixture
def journal(journal: Journal) -> Journal:
    """The journal on each store (tests/journal/conftest.py), holding runs whose ids start alike."""
    for run_id in ("run-1", "run-10", "run-2abc", "a_b1", "axb2", "Case-9"):
        journal.append(run_id, "run.started", data={"name": "x"})
    return journal


def test_a_whole_id_is_found_even_when_another_id_starts_with_it(journal: Journal) -> None:
    assert journal.find_run("run-1") == "run-1"
    assert journal.find_run("run-10") == "run-10"


def test_a_unique_prefix_is_found_and_an_ambiguous_or_unknown_one_is_not(journal: Journal) -> None:
    assert journal.find_run("run-2") == "run-2abc"
    assert journal.find_run("run-") is None  # four runs start with it
    assert journal.find_run("nope") is None


def test_a_prefix_is_taken_literally_and_case_sensitively(journal: Journal) -> None:
    assert journal.find_run("a_") == "a_b1"  # `_` is not a wildcard
    assert journal.find_run("Case") == "Case-9"
    assert journal.find_run("case") is None  # as on PostgreSQL: an id is not case-insensitive


def test_the_sqlite_prefix_lookup_reads_the_run_index_not_every_event(tmp_path: Path) -> None:
    Journal(tmp_path / "journal.db").close()
    db = sqlite3.connect(tmp_path / "journal.db")
    plan = " ".join(str(row[-1]) for row in db.execute("EXPLAIN QUERY PLAN " + RUN_IDS, ("run-", "run.")))
    db.close()
    assert "USING COVERING INDEX journal_events_run (run_id>? AND run_id<?)" in plan, plan
