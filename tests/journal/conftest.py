"""What the journal's tests share: a journal on each store, and the check that a migrated store says so."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.journal.events import SCHEMA_VERSION
from runner.journal.store import Journal, open_journal


@pytest.fixture(params=["sqlite", "postgresql"])
def journal(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Journal]:
    """The journal of the test's home on SQLite, then on a real PostgreSQL."""
    if request.param == "postgresql":
        monkeypatch.setenv("FIRELINE_STORE", request.getfixturevalue("pg_db"))
    store = open_journal()
    yield store
    store.close()


def assert_schema_current(path: Path) -> None:
    """The SQLite store at `path` records the schema version this fireline writes (after a migration)."""
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    db.close()
