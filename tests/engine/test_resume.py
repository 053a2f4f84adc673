"""kill -9 in the middle of a run, then `fireline resume`: finished steps stay finished, the interrupted
mutating step is not silently repeated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.command import FIRELINE
from tests.conftest import wait_for, write

RUNBOOK = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: crash}}
steps:
  - id: first
    action: shell.run
    approval: {{required: false}}
    with: {{command: "echo first >> {log}"}}
  - id: slow-change
    action: shell.run
    approval: {{required: false}}
    with: {{command: "echo slow-start >> {log}; touch {started}; sleep 30; echo slow-end >> {log}"}}
  - id: last
    action: shell.run
    approval: {{required: false}}
    with: {{command: "echo last >> {log}"}}
"""


def _start_and_kill(tmp_path: Path, env: dict[str, str]) -> str:
    log, started = tmp_path / "log", tmp_path / "started"
    path = write(tmp_path / "crash.yaml", RUNBOOK.format(log=log, started=started))
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner", "run", str(path), "--output", "plain"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while not started.exists():
        assert time.monotonic() < deadline, "the slow step never started"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the engine and the step's shell die together, no cleanup
    proc.wait()
    out = proc.stdout.read() if proc.stdout else ""
    run_id = next(w for line in out.splitlines() for w in line.split() if w.count("-") == 2 and w[:8].isdigit())
    return run_id


def test_kill_dash_nine_then_resume(tmp_path: Path, cli, fireline_home) -> None:
    env = {**os.environ, "FIRELINE_HOME": str(fireline_home), "PYTHONPATH": str(Path.cwd())}
    run_id = _start_and_kill(tmp_path, env)
    log = tmp_path / "log"
    assert log.read_text().split() == ["first", "slow-start"]

    listed = cli("runs", "list")
    assert run_id in listed.out and "running?" in listed.out

    blocked = cli("resume", run_id)
    assert blocked.code == 3
    assert "started but never finished" in blocked.err and "--retry-step" in blocked.err
    assert log.read_text().split() == ["first", "slow-start"]  # nothing ran

    # The responder checked the system and knows the change landed: skip it.
    (tmp_path / "crash.yaml").read_text()
    resumed = cli("resume", run_id, "--skip-step", "--output", "plain")
    assert resumed.code == 0, resumed.out
    assert log.read_text().split() == ["first", "slow-start", "last"]  # `first` was not repeated
    shown = cli("runs", "show", run_id, "--json").json()
    decisions = [e for e in shown["events"] if e["type"] == "step.decision"]
    assert decisions[0]["step_id"] == "slow-change" and decisions[0]["data"]["decision"] == "skip"


def test_sigterm_pauses_the_run_and_resume_reruns_the_interrupted_read(tmp_path: Path, cli, fireline_home) -> None:
    marker, log = tmp_path / "fast-now", tmp_path / "log"
    path = write(tmp_path / "term.yaml", f"""\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: term}}
steps:
  - id: first
    action: shell.run
    approval: {{required: false}}
    with: {{command: "echo first >> {log}"}}
  - id: slow-read
    action: shell.run
    read_only: true
    with: {{command: "echo read >> {log}; test -f {marker} || sleep 30"}}
""")
    env = {**os.environ, "FIRELINE_HOME": str(fireline_home), "PYTHONPATH": str(Path.cwd())}
    proc = subprocess.Popen([sys.executable, "-m", "runner", "run", str(path), "--output", "plain"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 20
    while not (log.exists() and "read" in log.read_text()):
        assert time.monotonic() < deadline, "the slow step never started"
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 130, out
    run_id = next(w for line in out.splitlines() for w in line.split() if w.count("-") == 2 and w[:8].isdigit())
    assert f"run {run_id} is paused" in out and f"fireline resume {run_id}" in out
    listed = cli("runs", "list")
    assert run_id in listed.out and "paused" in listed.out
    marker.touch()
    resumed = cli("resume", run_id, "--output", "plain")  # a read is simply run again: no decision needed
    assert resumed.code == 0, resumed.out + resumed.err
    assert log.read_text().split() == ["first", "read", "read"]


BRANCH_RUNBOOK = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: branch-crash}}
steps:
  - id: look
    action: shell.run
    read_only: true
    with: {{command: "cat {d}/answer"}}
    outputs: {{answer: "{{{{ result.stdout | trim }}}}"}}
  - id: decide
    action: control.branch
    with:
      choices:
        - {{when: "{{{{ steps.look.outputs.answer == 'rollback' }}}}", goto: rollback}}
      default: scale
  - id: rollback
    action: shell.run
    approval: {{required: false}}
    with: {{command: "echo rollback-start >> {d}/log; touch {d}/started; sleep 30; echo rollback-end >> {d}/log"}}
  - id: verify
    action: shell.run
    approval: {{required: false}}
    with: {{command: "echo verify >> {d}/log"}}
    end: true
  - id: scale
    action: shell.run
    approval: {{required: false}}
    with: {{command: "echo scale >> {d}/log"}}
"""


def test_a_run_killed_after_a_branch_resumes_on_the_chosen_path(tmp_path: Path, cli, fireline_home) -> None:
    (tmp_path / "answer").write_text("rollback\n")
    path = write(tmp_path / "branch.yaml", BRANCH_RUNBOOK.format(d=tmp_path))
    env = {**os.environ, "FIRELINE_HOME": str(fireline_home), "PYTHONPATH": str(Path.cwd())}
    proc = subprocess.Popen(
        [*FIRELINE, "run", str(path), "--output", "plain"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    wait_for(lambda: (tmp_path / "started").exists(), "the chosen path's slow change", timeout=30)
    os.killpg(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate()
    run_id = next(w for line in out.splitlines() for w in line.split() if w.count("-") == 2 and w[:8].isdigit())
    # What the branch read has changed since: deciding again would take the other path.
    (tmp_path / "answer").write_text("scale\n")
    resumed = cli("resume", run_id, "--skip-step", "--output", "json")
    assert resumed.code == 0, resumed.out + resumed.err
    assert (tmp_path / "log").read_text().split() == ["rollback-start", "verify"]
    ran = [s["id"] for s in resumed.json()["steps"]]
    assert "scale" not in ran and "decide" not in ran


def test_a_run_paused_on_the_chosen_path_resumes_there(tmp_path: Path, cli, fireline_home) -> None:
    """The run stopped between the decision and the next step (an approval gate on it): resume starts from
    where the recorded branch pointed, not from the step after the branch in the file."""
    log = tmp_path / "log"
    path = write(
        tmp_path / "gate.yaml",
        f"""\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: branch-gate}}
inputs:
  errors: {{type: integer, default: 5}}
steps:
  - id: decide
    action: control.branch
    with:
      choices:
        - {{when: "{{{{ inputs.errors > 3 }}}}", goto: roll-back}}
      default: watch
  - {{id: watch, action: shell.run, read_only: true, with: {{command: "echo watch >> {log}"}}, end: true}}
  - {{id: roll-back, action: shell.run, with: {{command: "echo roll-back >> {log}"}}}}
""",
    )
    first = cli("run", str(path), "--output", "json")
    assert first.code == 3, first.out + first.err
    run_id = first.json()["run_id"]
    assert cli("approve", run_id, "roll-back", "--as", "alice", "--reason", "errors are climbing").code == 0
    resumed = cli("resume", run_id, "--output", "json")
    assert resumed.code == 0, resumed.out + resumed.err
    assert log.read_text().split() == ["roll-back"]
