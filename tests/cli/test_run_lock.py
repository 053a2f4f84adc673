"""One owner per run, seen from the command line: `fireline resume` started twice at once (real processes,
on the SQLite file and on the PostgreSQL team store) runs every remaining step exactly once; the other
resume refuses and names who is running it, or with --wait continues after it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runner.journal.store import open_journal
from tests.conftest import REPO, wait_for, write

GATED = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: one-owner}}
steps:
  - id: first
    action: shell.run
    with: {{command: "echo first >> {log}; while [ ! -e {go} ]; do sleep 0.02; done"}}
  - id: second
    action: shell.run
    with: {{command: "echo second >> {log}"}}
  - id: third
    action: shell.run
    with: {{command: "echo third >> {log}"}}
"""


@dataclass
class Proc:
    popen: subprocess.Popen[bytes]
    out: Path

    @property
    def output(self) -> str:
        return self.out.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "postgresql":
        monkeypatch.setenv("FIRELINE_STORE", request.getfixturevalue("pg_db"))
    return str(request.param)


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[object]:
    """`fireline ARGS` as another terminal would run it (no TTY), output in a file; killed at the end."""
    started: list[Proc] = []

    def start(*args: str) -> Proc:
        out = tmp_path / f"fireline-{len(started)}.out"
        with out.open("wb") as sink:
            popen = subprocess.Popen(
                [sys.executable, "-m", "runner", *args],
                cwd=REPO,
                env={**os.environ, "PYTHONPATH": str(REPO)},
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(Proc(popen, out))
        return started[-1]

    yield start
    for proc in started:
        if proc.popen.poll() is None:
            proc.popen.kill()
            proc.popen.wait(timeout=10)


def _paused_run(tmp_path: Path, cli: object) -> tuple[str, Path, Path]:
    log, go = tmp_path / "log", tmp_path / "go"
    runbook = write(tmp_path / "rb.yaml", GATED.format(log=log, go=go))
    paused = cli("run", str(runbook), "--output", "json")  # type: ignore[operator]
    assert paused.code == 3, paused.out + paused.err
    return str(paused.json()["run_id"]), log, go


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_two_resumes_at_once_run_each_step_once(tmp_path: Path, cli, spawn, store: str) -> None:
    run_id, log, go = _paused_run(tmp_path, cli)
    first = spawn("resume", run_id, "--approve-all", "--reason", "INC-1", "--as", "alice", "--output", "plain")
    second = spawn("resume", run_id, "--approve-all", "--reason", "INC-1", "--as", "bob", "--output", "plain")
    # The step blocks until the test says so: whichever resume lost must have given up by then.
    loser = wait_for(
        lambda: next((p for p in (first, second) if p.popen.poll() is not None), None),
        "one of the two resumes to refuse",
        timeout=60,
    )
    winner = second if loser is first else first
    winner_name = "bob" if winner is second else "alice"
    assert loser.popen.returncode == 1, loser.output
    assert (
        f"is being run by another process: {winner_name} on {socket.gethostname()} "
        f"(pid {winner.popen.pid}) since " in loser.output
    )
    assert "Traceback" not in loser.output
    wait_for(lambda: _lines(log) == ["first"], "the first step to start once")
    # Approving from another terminal while the run is owned elsewhere is the design: no lease needed.
    assert cli("approve", run_id, "third", "--as", "lead", "--reason", "INC-1").code == 0
    go.touch()
    assert winner.popen.wait(timeout=60) == 0, winner.output
    assert _lines(log) == ["first", "second", "third"]
    assert open_journal().lease_holder(run_id) is None  # released on the way out


def test_a_running_run_refuses_resume_and_wait_continues_after_it(tmp_path: Path, cli, spawn, store: str) -> None:
    log, go = tmp_path / "log", tmp_path / "go"
    text = GATED.format(log=log, go=go).replace(
        "  - id: first\n    action: shell.run\n",
        "  - id: first\n    action: shell.run\n    approval: {required: false}\n",
    )
    runbook = write(tmp_path / "rb.yaml", text)
    running = spawn("run", str(runbook), "--output", "plain")
    wait_for(lambda: _lines(log) == ["first"], "the run to start its first step", timeout=60)
    run_id = open_journal().first_events("run.started", 1)[0].run_id

    refused = cli("resume", run_id, "--approve-all", "--reason", "INC-2")
    assert refused.code == 1
    assert (
        f"run {run_id} is being run by another process: responder on {socket.gethostname()} "
        f"(pid {running.popen.pid})" in refused.err
    )
    assert "--wait" in refused.err

    waiting = spawn(
        "resume", run_id, "--wait", "--approve-all", "--reason", "INC-2", "--as", "bob", "--output", "plain"
    )
    wait_for(lambda: f"waiting for run {run_id}: held by responder" in waiting.output, "the resume to wait", timeout=60)
    assert waiting.popen.poll() is None
    go.touch()
    # The run pauses at the gate of `second` (nobody approved it there); the waiting resume then owns it.
    assert running.popen.wait(timeout=60) == 3, running.output
    assert waiting.popen.wait(timeout=60) == 0, waiting.output
    assert _lines(log) == ["first", "second", "third"]


@pytest.mark.slow
def test_torture_five_resumes_at_once(tmp_path: Path, cli, spawn, store: str) -> None:
    """10 rounds of 5 resumes started together: each round, every step runs exactly once and exactly one
    resume runs it; each other one refuses (held) or finds the run finished."""
    outcomes: dict[str, int] = {"ran": 0, "refused": 0, "already finished": 0}
    for round_ in range(10):
        base = tmp_path / f"round-{round_}"
        log = base / "log"
        runbook = write(base / "rb.yaml", GATED.format(log=log, go=base / "go"))
        (base / "go").touch()  # no blocking: the resumes race through the whole run
        paused = cli("run", str(runbook), "--output", "json")
        assert paused.code == 3
        run_id = paused.json()["run_id"]
        procs = [
            spawn("resume", run_id, "--approve-all", "--reason", "torture", "--as", f"r{i}", "--output", "plain")
            for i in range(5)
        ]
        codes = [p.popen.wait(timeout=120) for p in procs]
        assert _lines(log) == ["first", "second", "third"], (codes, [p.output for p in procs])
        assert codes.count(0) == 1, [p.output for p in procs]
        for proc, code in zip(procs, codes, strict=True):
            if code == 0:
                outcomes["ran"] += 1
            elif code == 1:
                assert "is being run by another process" in proc.output, proc.output
                outcomes["refused"] += 1
            else:
                assert code == 2 and "already finished" in proc.output, proc.output
                outcomes["already finished"] += 1
    assert outcomes["ran"] == 10
    print(f"concurrent resumes on {store}, 10 rounds x 5:", outcomes)


def test_ctrl_c_stops_waiting_and_does_nothing(tmp_path: Path, cli, spawn) -> None:
    run_id, log, go = _paused_run(tmp_path, cli)
    holder = spawn("resume", run_id, "--approve-all", "--reason", "INC-3", "--as", "alice", "--output", "plain")
    wait_for(lambda: _lines(log) == ["first"], "the holder to start the first step", timeout=60)
    waiting = spawn("resume", run_id, "--wait", "--approve-all", "--reason", "INC-3", "--as", "bob")
    wait_for(lambda: "(Ctrl-C stops waiting)" in waiting.output, "the resume to wait", timeout=60)
    waiting.popen.send_signal(signal.SIGINT)
    assert waiting.popen.wait(timeout=60) == 130, waiting.output
    assert f"stopped waiting for run {run_id}; nothing was done" in waiting.output
    assert "Traceback" not in waiting.output
    go.touch()
    assert holder.popen.wait(timeout=60) == 0, holder.output
    assert _lines(log) == ["first", "second", "third"]
    events = [e for e in open_journal().events(run_id) if e.type == "run.resumed"]
    assert [e.actor for e in events] == ["alice"]  # the one that stopped waiting left no trace in the run
