"""The run loop, through the CLI as a responder would use it: effects on files, the journal, exit codes."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import write
from tests.signers import signing_team

HEADER = "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: t, title: Test}\n"


def runbook(tmp_path: Path, body: str, name: str = "rb.yaml") -> str:
    return str(write(tmp_path / name, HEADER + body))


def journal_rows(home: Path) -> list[tuple[str, str | None, dict]]:
    with sqlite3.connect(home / "journal.db") as db:
        return [(t, s, json.loads(d)) for t, s, d in db.execute("SELECT type, step_id, data FROM events ORDER BY seq")]


def test_mutating_step_without_tty_fails_closed_then_approve_and_resume(tmp_path: Path, cli, fireline_home) -> None:
    marker = tmp_path / "changed"
    path = runbook(
        tmp_path,
        f"""\
steps:
  - id: look
    action: shell.run
    read_only: true
    with: {{argv: [echo, looking]}}
  - id: change
    action: shell.run
    with: {{argv: [touch, "{marker}"]}}
""",
    )
    result = cli("run", path, "--output", "json")
    assert result.code == 3
    doc = result.json()
    assert doc["status"] == "paused" and doc["failed_step"] == "change"
    assert not marker.exists()
    run_id = doc["run_id"]
    # From "another terminal": approve, then resume.
    assert cli("approve", run_id, "change", "--as", "alice", "--reason", "INC-42").code == 0
    resumed = cli("resume", run_id, "--output", "plain")
    assert resumed.code == 0, resumed.out
    assert marker.exists()
    types = [(t, s) for t, s, _ in journal_rows(fireline_home)]
    assert types.count(("step.started", "look")) == 1  # completed steps are not run again
    approved = [d for t, s, d in journal_rows(fireline_home) if t == "step.approved"]
    assert approved == [{"reason": "INC-42", "via": "fireline approve"}]


def test_pre_approval_runs_and_is_recorded_with_reason(tmp_path: Path, cli, fireline_home) -> None:
    marker = tmp_path / "changed"
    path = runbook(tmp_path, f"steps:\n  - {{id: change, action: shell.run, with: {{argv: [touch, '{marker}']}}}}\n")
    assert cli("run", path, "--approve", "change").code == 2  # a pre-approval needs a reason
    assert not marker.exists()
    assert cli("run", path, "--approve", "change", "--reason", "drill").code == 0
    assert marker.exists()
    grants = [d for t, _, d in journal_rows(fireline_home) if t == "step.approved"]
    assert grants == [{"reason": "drill", "via": "--approve"}]


def test_two_approvers_must_be_distinct_verified_people_and_not_the_initiator(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = signing_team(tmp_path, monkeypatch)
    responder, bob, carol = team.key("responder"), team.key("bob"), team.key("carol")
    marker = tmp_path / "changed"
    path = runbook(
        tmp_path,
        f"""\
steps:
  - id: change
    action: shell.run
    approval: {{min_approvers: 2}}
    with: {{argv: [touch, "{marker}"]}}
""",
    )
    # The initiator's own --approve-all does not count towards a two-person gate.
    first = cli("run", path, "--approve-all", "--reason", "me", "--output", "json", "--key", str(responder))
    assert first.code == 3
    run_id = first.json()["run_id"]
    assert cli("approve", run_id, "change", "--reason", "ok", "--key", str(bob)).code == 0
    assert cli("approve", run_id, "change", "--reason", "ok again", "--key", str(bob)).code == 0
    assert cli("resume", run_id, "--key", str(bob)).code == 3 and not marker.exists()
    assert cli("approve", run_id, "change", "--reason", "self", "--key", str(responder)).code == 0  # the initiator
    assert cli("resume", run_id, "--key", str(responder)).code == 3 and not marker.exists()
    assert cli("approve", run_id, "change", "--reason", "ok", "--key", str(carol)).code == 0
    assert cli("resume", run_id, "--key", str(carol)).code == 0 and marker.exists()


def test_timeout_really_stops_a_hung_step(tmp_path: Path, cli) -> None:
    pidfile = tmp_path / "pid"
    path = runbook(
        tmp_path,
        f"""\
steps:
  - id: hang
    action: shell.run
    read_only: true
    timeout: 500ms
    with: {{command: "echo $$ > {pidfile}; exec sleep 30"}}
""",
    )
    started = time.monotonic()
    result = cli("run", path, "--output", "plain")
    assert result.code == 1 and time.monotonic() - started < 5
    assert "timed out" in result.out
    pid = int(pidfile.read_text())
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


def test_retries_until_when_outputs_and_goto(tmp_path: Path, cli) -> None:
    counter = tmp_path / "count"
    path = runbook(
        tmp_path,
        f"""\
steps:
  - id: grow
    action: shell.run
    read_only: true
    retries: {{count: 5, delay: 10ms, until: "{{{{ result.stdout | int >= 3 }}}}"}}
    with: {{command: "echo x >> {counter}; wc -l < {counter}"}}
    outputs: {{lines: "{{{{ result.stdout | int }}}}"}}
  - id: never
    action: control.assert
    when: "{{{{ steps.grow.outputs.lines > 100 }}}}"
    with: {{that: "{{{{ false }}}}"}}
  - id: fails
    action: control.assert
    with: {{that: "{{{{ steps.grow.outputs.lines == 99 }}}}", message: grow did not reach 99}}
    on_failure: goto:done
    critical: false  # its failure is a finding that routes the run, not a failure of the run
  - id: skipped-by-goto
    action: shell.run
    read_only: true
    with: {{argv: ["false"]}}
  - id: done
    action: control.sleep
    with: {{duration: 1ms}}
""",
    )
    result = cli("run", path, "--output", "json")
    doc = result.json()
    assert result.code == 0, doc
    steps = {s["id"]: s for s in doc["steps"]}
    assert steps["grow"]["outputs"] == {"lines": 3}
    assert steps["never"]["status"] == "skipped"
    assert steps["fails"]["status"] == "failed" and "grow did not reach 99" in steps["fails"]["summary"]
    assert "skipped-by-goto" not in steps
    assert steps["done"]["status"] == "ok"


def test_rollback_compensates_completed_steps_in_reverse(tmp_path: Path, cli) -> None:
    log = tmp_path / "log"
    path = runbook(
        tmp_path,
        f"""\
steps:
  - id: one
    action: shell.run
    approval: {{required: false}}
    with: {{command: "echo do-one >> {log}"}}
    rollback: {{action: shell.run, with: {{command: "echo undo-one >> {log}"}}}}
  - id: two
    action: shell.run
    approval: {{required: false}}
    with: {{command: "echo do-two >> {log}"}}
    rollback: {{action: shell.run, with: {{command: "echo undo-two >> {log}"}}}}
  - id: three
    action: shell.run
    approval: {{required: false}}
    on_failure: rollback
    with: {{command: "exit 7"}}
""",
    )
    result = cli("run", path, "--output", "plain")
    assert result.code == 1
    assert log.read_text().split() == ["do-one", "do-two", "undo-two", "undo-one"]


def test_verify_failure_fails_the_step(tmp_path: Path, cli) -> None:
    path = runbook(
        tmp_path,
        """\
steps:
  - id: act
    action: shell.run
    read_only: true
    with: {argv: [echo, "3"]}
    verify: {action: control.assert, with: {that: "{{ result.stdout | int > 5 }}", message: too small}}
""",
    )
    result = cli("run", path, "--output", "plain")
    assert result.code == 1 and "verify (control.assert) failed: too small" in result.out


def test_bad_inputs_are_all_reported_and_nothing_runs(tmp_path: Path, cli, fireline_home) -> None:
    marker = tmp_path / "ran"
    path = runbook(
        tmp_path,
        f"""\
inputs:
  replicas: {{type: integer, minimum: 1, maximum: 10}}
  name: {{type: string, required: true}}
steps:
  - {{id: s, action: shell.run, read_only: true, with: {{argv: [touch, "{marker}"]}}}}
""",
    )
    result = cli("run", path, "-i", "replicas=50", "-i", "colour=red")
    assert result.code == 2
    for text in ("above the maximum 10", "'name' is required", "unknown input 'colour'"):
        assert text in result.err
    assert not marker.exists()
    assert "Traceback" not in result.err


def test_dry_run_writes_nothing_and_journals_a_plan(tmp_path: Path, cli, fireline_home) -> None:
    marker = tmp_path / "changed"
    path = runbook(
        tmp_path,
        f"""\
steps:
  - id: read
    action: shell.run
    read_only: true
    with: {{argv: [echo, "7"]}}
    outputs: {{n: "{{{{ result.stdout | int }}}}"}}
  - id: change
    action: shell.run
    with: {{argv: [touch, "{marker}"]}}
  - id: uses-output
    action: shell.run
    with: {{argv: [echo, "{{{{ steps.read.outputs.n }}}}"]}}
""",
    )
    result = cli("plan", path, "--output", "plain")
    assert result.code == 0, result.out
    assert "READ" in result.out and "WOULD-CHANGE" in result.out and f"touch {marker}" in result.out
    assert "echo 7" in result.out  # the read ran for real and fed the later step
    assert not marker.exists()
    types = {t for t, _, _ in journal_rows(fireline_home)}
    assert "plan.started" in types and "run.started" not in types and "step.started" not in types
    no_reads = cli("plan", path, "--no-reads", "--output", "json").json()
    verdicts = {s["id"]: s["verdict"] for s in no_reads["steps"]}
    assert verdicts == {"read": "read", "change": "would-change", "uses-output": "cannot-check"}


def test_canary_secret_appears_nowhere(tmp_path: Path, cli, fireline_home, monkeypatch) -> None:
    canary = "canary-7f3a9c1e5b"
    monkeypatch.setenv("CANARY_TOKEN", canary)
    secret_file = write(tmp_path / "dsn-pass", "file-secret-0042\n")
    path = runbook(
        tmp_path,
        f"""\
secrets:
  TOKEN: {{from: env, name: CANARY_TOKEN}}
  PASS: {{from: file, path: "{secret_file}"}}
steps:
  - id: echo
    action: shell.run
    read_only: true
    with: {{command: "echo dsn=postgresql://u:{{{{ secrets.TOKEN }}}}@h/db {{{{ secrets.PASS }}}}"}}
    outputs: {{line: "{{{{ result.stdout }}}}"}}
  - id: fail
    action: control.assert
    with: {{that: "{{{{ false }}}}", message: "{{{{ 'leak ' ~ secrets.TOKEN }}}}"}}
""",
    )
    outputs = [cli("run", path, "--output", fmt) for fmt in ("plain", "json")]
    outputs.append(cli("plan", path, "--output", "json"))
    for result in outputs:
        assert canary not in result.out + result.err and "file-secret-0042" not in result.out + result.err
        assert "***" in result.out
    for file in fireline_home.iterdir():
        assert canary.encode() not in file.read_bytes(), file


def test_resume_refuses_changed_runbook(tmp_path: Path, cli) -> None:
    path = runbook(tmp_path, "steps:\n  - {id: change, action: shell.run, with: {argv: ['true']}}\n")
    run_id = cli("run", path, "--output", "json").json()["run_id"]
    Path(path).write_text(Path(path).read_text() + "# edited\n")
    result = cli("resume", run_id)
    assert result.code == 1 and "changed since run" in result.err


def test_a_step_whose_verify_fails_is_compensated_too(tmp_path: Path, cli) -> None:
    log = tmp_path / "log"
    path = runbook(tmp_path, f"""\
steps:
  - id: deploy
    action: shell.run
    approval: {{required: false}}
    on_failure: rollback
    with: {{command: "echo deploy >> {log}"}}
    verify: {{action: control.assert, with: {{that: "{{{{ false }}}}", message: health check failed}}}}
    rollback: {{action: shell.run, with: {{command: "echo undo-deploy >> {log}"}}}}
""")
    assert cli("run", path, "--output", "plain").code == 1
    assert log.read_text().split() == ["deploy", "undo-deploy"]


def test_plan_without_credentials_marks_steps_cannot_check(tmp_path: Path, cli, monkeypatch) -> None:
    """CI dry-runs runbooks without production secrets: the plan still runs, and says what it could not check."""
    monkeypatch.delenv("PRIMARY_DSN", raising=False)
    path = runbook(tmp_path, """\
secrets:
  PRIMARY_DSN: {from: env, name: PRIMARY_DSN}
connections:
  db: {type: postgres, dsn: "{{ secrets.PRIMARY_DSN }}"}
steps:
  - id: count
    action: postgres.query
    with: {connection: db, sql: SELECT 1}
  - id: local
    action: shell.run
    read_only: true
    with: {argv: [echo, ok]}
""")
    result = cli("plan", str(path), "--output", "json")
    assert result.code == 0
    doc = result.json()
    verdicts = {s["id"]: s["verdict"] for s in doc["steps"]}
    assert verdicts == {"count": "cannot-check", "local": "read"}
    assert "PRIMARY_DSN" in doc["notes"][0]
    assert cli("run", str(path)).code == 2  # a real run still refuses to start without its secrets
