"""When the journal cannot be used, the message names the real cause: a full disk, a file that is not a
fireline journal, a journal that was emptied or replaced. Nothing is silently started over."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.journal.store import Journal
from tests.conftest import REPO, write


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A real 512 KiB filesystem (tmpfs), so the disk really fills up; skipped where mounting is not allowed."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    if not shutil.which("mount"):
        pytest.skip("no mount command")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def test_a_full_disk_is_reported_as_such_and_the_next_change_does_not_run(
    tmp_path: Path, tiny_filesystem: Path
) -> None:
    log = tmp_path / "changes.log"
    runbook = write(
        tmp_path / "full.yaml",
        f"""\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: disk-full}}
steps:
  - id: fill-the-disk
    action: shell.run
    approval: {{required: false}}
    with: {{command: "head -c 10000000 /dev/zero > {tiny_filesystem}/filler 2>/dev/null; true"}}
  - id: change
    action: shell.run
    approval: {{required: false}}
    with: {{command: "echo change >> {log}"}}
""",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "runner", "run", str(runbook), "--output", "plain"],
        cwd=REPO,
        env={**os.environ, "FIRELINE_HOME": str(tiny_filesystem), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"cannot write to the journal at {tiny_filesystem}/journal.db: database or disk is full" in proc.stderr
    assert f"free space on the filesystem of {tiny_filesystem}" in proc.stderr
    assert "no transaction is active" not in proc.stderr and "Traceback" not in proc.stderr
    assert not log.exists()  # the change could not be recorded first, so it did not run


def test_a_corrupt_journal_says_so_and_where(cli, fireline_home: Path) -> None:
    fireline_home.mkdir(parents=True)
    path = fireline_home / "journal.db"
    path.write_bytes(b"this is not a database, it is a text file that happens to be here\n" * 100)
    result = cli("runs", "list")
    assert result.code == 1
    assert f"the file at {path} is not a fireline journal or is corrupt" in result.err
    assert f"mv {path} {path}.broken" in result.err
    assert "writable directory" not in result.err


def test_another_programs_database_is_refused_and_left_alone(cli, fireline_home: Path) -> None:
    fireline_home.mkdir(parents=True)
    path = fireline_home / "journal.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (name TEXT)")
    db.close()
    result = cli("runs", "list")
    assert result.code == 1
    assert f"{path} is an SQLite database but not a fireline journal (it has the tables users)" in result.err
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    db.close()
    assert (tables, mode) == (["users"], "delete")  # not a table added, not even the journal mode changed


def _journal_with_a_run(home: Path) -> None:
    journal = Journal(home / "journal.db")
    journal.append("20261204-100000-abcdef", "run.started", data={"name": "paused-run"}, durable=True)
    journal.close()


def test_an_emptied_journal_next_to_its_wal_is_an_error(cli, fireline_home: Path) -> None:
    path = fireline_home / "journal.db"
    wal = fireline_home / "journal.db-wal"
    # A journal whose events are still in its write-ahead log (a process has it open), then the main file is
    # truncated, e.g. by a restore that copied only some files.
    writer = Journal(path)
    writer.append("20261204-100000-abcdef", "run.started", data={"name": "paused-run"}, durable=True)
    saved = wal.read_bytes()
    writer.close()
    path.write_bytes(b"")
    wal.write_bytes(saved)

    result = cli("runs", "list")
    assert result.code == 1
    assert f"the journal at {path} is empty (0 bytes) but its write-ahead log journal.db-wal is not empty" in result.err
    assert "emptied or replaced" in result.err and f"mv {path} {path}.empty" in result.err
    assert wal.read_bytes() == saved  # the evidence is kept (SQLite deletes such a WAL once it opens the file)


def test_an_emptied_journal_among_other_state_is_an_error_but_a_fresh_one_is_not(cli, fireline_home: Path) -> None:
    _journal_with_a_run(fireline_home)
    (fireline_home / "reports").mkdir()
    (fireline_home / "journal.db").write_bytes(b"")
    result = cli("runs", "list")
    assert result.code == 1
    assert "is empty (0 bytes) but" in result.err and "holds other fireline state (reports)" in result.err

    # An empty file alone (fireline stopped between creating the file and writing its first page): new journal.
    shutil.rmtree(fireline_home)
    fireline_home.mkdir()
    (fireline_home / "journal.db").write_bytes(b"")
    fresh = cli("runs", "list")
    assert fresh.code == 0, fresh.err
    assert (fireline_home / "journal.db").stat().st_size > 0


def test_an_unreachable_team_store_is_an_error_without_its_password(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("FIRELINE_STORE", f"postgresql://oncall:s3cret-pw@127.0.0.1:{port}/fireline")
    result = cli("runs", "list")
    assert result.code == 1, result.err
    assert f"cannot open the journal at postgresql://oncall@127.0.0.1:{port}/fireline" in result.err
    assert "s3cret-pw" not in result.err + result.out and "internal error" not in result.err
