"""SIGTERM at any moment of `fireline run`: the process exits 130 and says what the journal holds — a paused
run to resume, or nothing at all. Only a signal that arrives while Python itself is still starting (before
fireline's first instruction) ends it by the signal, and then nothing may have been recorded."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.command import FIRELINE
from tests.conftest import REPO, wait_for, write

RUNBOOK = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: interrupted}
steps:
  - id: wait
    action: shell.run
    read_only: true
    with: {command: "sleep 10"}
  - id: after
    action: shell.run
    read_only: true
    with: {argv: ["true"]}
"""




@dataclass(frozen=True)
class Trial:
    code: int
    err: str
    runs: list[str]
    home: Path


def _recorded_runs(home: Path) -> list[str]:
    if not (home / "journal.db").exists():
        return []
    with sqlite3.connect(home / "journal.db") as db:
        try:
            rows = db.execute("SELECT DISTINCT run_id FROM journal_events WHERE type = 'run.started'").fetchall()
        except sqlite3.OperationalError:  # created, but no table yet
            return []
    return [str(r[0]) for r in rows]


def _catches_sigterm(pid: int) -> bool:
    """Whether the process has a handler for SIGTERM (bit 15 of SigCgt in /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "FIRELINE_HOME": str(home), "PYTHONPATH": str(REPO), "FIRELINE_ACTOR": "responder"}


def _interrupt(tmp_path: Path, name: str, wait: Callable[[subprocess.Popen[str], Path], None]) -> Trial:
    home = tmp_path / name
    path = write(tmp_path / "interrupted.yaml", RUNBOOK)
    proc = subprocess.Popen(
        [*FIRELINE, "run", str(path), "--output", "plain"],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        wait(proc, home)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.killpg(proc.pid, signal.SIGKILL) if _group_alive(proc.pid) else None
    return Trial(proc.returncode, err, _recorded_runs(home), home)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _assert_truthful(trial: Trial) -> None:
    if trial.code == -signal.SIGTERM:
        # Python had not started running fireline: nothing can have been recorded.
        assert trial.runs == [], trial
        return
    assert trial.code == 130, trial
    if trial.runs:
        (run_id,) = trial.runs
        assert "paused" in trial.err and f"fireline resume {run_id}" in trial.err, trial
        assert "nothing was recorded" not in trial.err
    else:
        assert "nothing was recorded" in trial.err, trial
        assert "paused" not in trial.err and "resume" not in trial.err, trial


def _after(delay: float) -> Callable[[subprocess.Popen[str], Path], None]:
    return lambda proc, home: time.sleep(delay)


@pytest.mark.parametrize("delay", [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5])
def test_sigterm_at_an_early_moment_tells_the_truth(tmp_path: Path, delay: float) -> None:
    _assert_truthful(_interrupt(tmp_path, "home", _after(delay)))


def test_sigterm_once_fireline_runs_but_before_a_run_is_recorded(tmp_path: Path) -> None:
    def handler_installed(proc: subprocess.Popen[str], home: Path) -> None:
        wait_for(lambda: _catches_sigterm(proc.pid), "the SIGTERM handler", every=0.001)

    trial = _interrupt(tmp_path, "home", handler_installed)
    assert trial.code == 130, trial
    _assert_truthful(trial)


def test_sigterm_after_the_run_is_recorded_pauses_it_and_resume_finishes_it(tmp_path: Path) -> None:
    def run_recorded(proc: subprocess.Popen[str], home: Path) -> None:
        wait_for(lambda: _recorded_runs(home), "the run to be recorded", every=0.005)

    trial = _interrupt(tmp_path, "home", run_recorded)
    assert trial.code == 130 and len(trial.runs) == 1, trial
    _assert_truthful(trial)
    (run_id,) = trial.runs
    resumed = subprocess.run(
        [*FIRELINE, "resume", run_id, "--output", "plain"],
        env=_env(trial.home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"run {run_id} succeeded" in resumed.stdout
