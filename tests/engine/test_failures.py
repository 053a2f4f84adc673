"""How failures end a run: a failed step fails the run unless it is `critical: false`; work that cannot be
stopped is never retried or compensated while it may still run; a bug in a dry-run check is a bug."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from types import ModuleType

import pytest

from runner.engine import policies
from tests.conftest import wait_for, write

HEADER = "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: t, title: Test}\n"


def events(home: Path) -> list[tuple[str, str | None, dict]]:
    with sqlite3.connect(home / "journal.db") as db:
        return [(t, s, json.loads(d)) for t, s, d in db.execute("SELECT type, step_id, data FROM events ORDER BY seq")]


# -- run status -------------------------------------------------------------------------------------------

ALL_FAIL = """\
steps:
  - {id: one, action: control.assert, with: {that: "{{ false }}", message: one is broken}, on_failure: continue}
  - {id: two, action: control.assert, with: {that: "{{ false }}", message: two is broken}, on_failure: continue}
  - {id: fine, action: control.assert, with: {that: "{{ true }}"}}
"""


def test_steps_that_failed_under_continue_fail_the_run(tmp_path: Path, cli, fireline_home: Path) -> None:
    path = str(write(tmp_path / "rb.yaml", HEADER + ALL_FAIL))
    result = cli("run", path, "--output", "json")
    doc = result.json()
    assert result.code == 1 and doc["status"] == "failed", doc
    assert {s["id"]: s["status"] for s in doc["steps"]} == {"one": "failed", "two": "failed", "fine": "ok"}
    assert [(f["id"], f["critical"]) for f in doc["failed_steps"]] == [("one", True), ("two", True)]
    assert "one is broken" in doc["failed_steps"][0]["summary"]
    finished = [d for t, _, d in events(fireline_home) if t == "run.finished"]
    assert finished[-1]["status"] == "failed" and finished[-1]["failed_steps"] == ["one", "two"]

    plain = cli("run", path, "--output", "plain")
    assert plain.code == 1
    assert "FAILED" in plain.out
    assert "failed step one: one is broken" in plain.out and "failed step two: two is broken" in plain.out


def test_a_step_marked_not_critical_may_fail_without_failing_the_run(tmp_path: Path, cli) -> None:
    body = ALL_FAIL.replace("on_failure: continue}", "on_failure: continue, critical: false}")
    path = str(write(tmp_path / "rb.yaml", HEADER + body))
    result = cli("run", path, "--output", "json")
    doc = result.json()
    assert result.code == 0 and doc["status"] == "succeeded", doc
    assert [(f["id"], f["critical"]) for f in doc["failed_steps"]] == [("one", False), ("two", False)]
    plain = cli("run", path, "--output", "plain")
    assert plain.code == 0
    assert "succeeded" in plain.out and "failed step one (critical: false): one is broken" in plain.out


def test_critical_must_be_a_boolean(tmp_path: Path, cli) -> None:
    body = 'steps:\n  - {id: one, action: control.assert, with: {that: "{{ true }}"}, critical: "no"}\n'
    result = cli("validate", str(write(tmp_path / "rb.yaml", HEADER + body)))
    assert result.code == 1 and "critical" in result.out


def test_an_aborting_step_fails_the_run_even_when_not_critical(tmp_path: Path, cli) -> None:
    body = 'steps:\n  - {id: one, action: control.assert, with: {that: "{{ false }}"}, critical: false}\n'
    result = cli("run", str(write(tmp_path / "rb.yaml", HEADER + body)), "--output", "json")
    assert result.code == 1 and result.json()["failed_step"] == "one"


def test_a_step_that_passes_after_a_goto_does_not_fail_the_run(tmp_path: Path, cli) -> None:
    counter = tmp_path / "count"
    body = f"""\
steps:
  - id: again
    action: shell.run
    read_only: true
    with: {{command: "echo x >> {counter}"}}
  - id: flaky
    action: shell.run
    read_only: true
    on_failure: goto:again
    with: {{command: "test $(wc -l < {counter}) -ge 3"}}
"""
    result = cli("run", str(write(tmp_path / "rb.yaml", HEADER + body)), "--output", "json")
    doc = result.json()
    assert result.code == 0 and doc["status"] == "succeeded" and doc["failed_steps"] == [], doc


# -- work that cannot be stopped ------------------------------------------------------------------------------

def test_an_attempt_that_cannot_be_stopped_pauses_the_run(
    tmp_path: Path, cli, fireline_home: Path, engine_actions: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(policies, "CANCEL_GRACE_SECONDS", 0.2)
    log = tmp_path / "log"
    body = f"""\
steps:
  - id: first
    action: testing.record
    with: {{log: "{log}", text: first}}
    rollback: {{action: testing.record, with: {{log: "{log}", text: undo-first}}}}
  - id: stuck
    action: testing.stuck
    timeout: 100ms
    retries: {{count: 2, delay: 1ms}}
    on_failure: rollback
    with: {{log: "{log}"}}
  - id: after
    action: testing.record
    with: {{log: "{log}", text: after}}
"""
    path = str(write(tmp_path / "rb.yaml", HEADER + body))
    result = cli("run", path, "--approve-all", "--reason", "drill", "--output", "plain")
    assert result.code == 3, result.out + result.err
    # One attempt, still running: no second attempt, no compensation, nothing after it.
    assert log.read_text().split() == ["first", "attempt"]
    assert "--retry-step" in result.out and "--skip-step" in result.out
    journal = events(fireline_home)
    paused = [(s, d) for t, s, d in journal if t == "run.paused"]
    assert paused == [("stuck", paused[0][1])] and paused[0][1]["reason"] == "interrupted"
    assert "could not be stopped" in paused[0][1]["why"]
    assert not [t for t, _, _ in journal if t in ("step.attempt_failed", "step.rolled_back", "run.finished")]
    run_id = result.out.split(" id ")[1].split()[0]

    # Exactly as after a crash: resume asks what happened to the step.
    blocked = cli("resume", run_id)
    assert blocked.code == 3 and "--retry-step" in blocked.err

    engine_actions.RELEASE.set()  # the stray work finishes; the responder sees it did and skips the step
    wait_for(lambda: "attempt-end" in log.read_text(), "the stuck attempt to finish")
    done = cli("resume", run_id, "--skip-step", "--output", "plain")
    assert done.code == 0, done.out + done.err
    assert log.read_text().split() == ["first", "attempt", "attempt-end", "after"]


def test_an_attempt_that_was_stopped_is_retried(tmp_path: Path, cli) -> None:
    counter = tmp_path / "count"
    body = f"""\
steps:
  - id: slow
    action: shell.run
    timeout: 300ms
    retries: {{count: 1, delay: 1ms}}
    approval: {{required: false}}
    with: {{command: "echo x >> {counter}; sleep 30"}}
"""
    result = cli("run", str(write(tmp_path / "rb.yaml", HEADER + body)), "--output", "json")
    assert result.code == 1, result.out
    assert counter.read_text().split() == ["x", "x"]  # the process was killed, so a retry was safe


# -- a bug in a dry-run check -------------------------------------------------------------------------------

def test_a_bug_in_plan_is_reported_as_a_bug(tmp_path: Path, cli, engine_actions: ModuleType) -> None:
    log = tmp_path / "log"
    body = f"steps:\n  - {{id: change, action: testing.bad_plan, with: {{log: \"{log}\"}}}}\n"
    result = cli("run", str(write(tmp_path / "rb.yaml", HEADER + body)), "--output", "plain")
    assert result.code == 4, result.out + result.err
    assert "KeyError" in result.err
    assert "cannot-check" not in result.out.lower() and not log.exists()


def test_a_compensation_that_cannot_be_stopped_pauses_and_resume_finishes_the_rollback(
    tmp_path: Path, cli, fireline_home: Path, engine_actions: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(policies, "CANCEL_GRACE_SECONDS", 0.2)
    log = tmp_path / "log"
    body = f"""\
steps:
  - id: first
    action: testing.record
    with: {{log: "{log}", text: first}}
    rollback: {{action: testing.record, with: {{log: "{log}", text: undo-first}}}}
  - id: second
    action: testing.record
    with: {{log: "{log}", text: second}}
    rollback: {{action: testing.stuck, with: {{log: "{log}"}}, timeout: 100ms, retries: {{count: 2, delay: 1ms}}}}
  - id: third
    action: testing.record
    with: {{log: "{log}", text: third}}
    rollback: {{action: testing.record, with: {{log: "{log}", text: undo-third}}}}
  - id: check
    action: control.assert
    with: {{that: "{{{{ false }}}}", message: still broken}}
    on_failure: rollback
"""
    path = str(write(tmp_path / "rb.yaml", HEADER + body))
    result = cli("run", path, "--approve-all", "--reason", "drill", "--output", "plain")
    assert result.code == 3, result.out + result.err
    # third was undone; second's undo is stuck: first's undo must wait for a person, not run beside it.
    assert log.read_text().split() == ["first", "second", "third", "undo-third", "attempt"]
    run_id = result.out.split(" id ")[1].split()[0]

    blocked = cli("resume", run_id)
    assert blocked.code == 3 and "rollback of step 'second'" in blocked.err and "--retry-step" in blocked.err

    engine_actions.RELEASE.set()
    wait_for(lambda: "attempt-end" in log.read_text(), "the stuck compensation to finish")
    done = cli("resume", run_id, "--skip-step", "--output", "json")
    assert done.code == 1, done.out + done.err
    assert done.json()["failed_step"] == "check"
    # The rest of the rollback ran once; nothing was undone twice.
    assert log.read_text().split() == ["first", "second", "third", "undo-third", "attempt", "attempt-end", "undo-first"]
    assert [d["status"] for t, _, d in events(fireline_home) if t == "run.finished"] == ["failed"]
