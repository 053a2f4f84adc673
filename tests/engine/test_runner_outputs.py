"""A change that happened is never recorded as a failure: when a mutating step succeeded and its `outputs:`
cannot be captured, the step is recorded as succeeded with an output error and the run pauses after it
(exit 3), never retrying, rolling back or going on as if the change had failed. `resume` goes on after it."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from runner.journal import events as ev
from runner.journal.store import open_journal
from tests.conftest import write


def _run_id(out: str) -> str:
    return next(w for w in out.split() if w.count("-") == 2 and w[:8].isdigit())


def _rows(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("SELECT note FROM changes ORDER BY id").fetchall()]


def test_a_database_change_whose_outputs_fail_is_recorded_once_as_succeeded_and_pauses(
    tmp_path: Path, cli, fireline_home: Path, pg_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE changes (id serial PRIMARY KEY, note text)")
    monkeypatch.setenv("APP_DSN", pg_db)
    path = write(tmp_path / "rb.yaml", """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: outputs}
secrets:
  DSN: {from: env, name: APP_DSN}
connections:
  db: {type: postgres, dsn: "{{ secrets.DSN }}"}
steps:
  - id: record
    action: postgres.execute
    approval: {required: false}
    with: {connection: db, sql: "INSERT INTO changes (note) VALUES ('record')"}
    retries: {count: 2, delay: 0s}
    outputs:
      count: "{{ result.rowcount }}"
      new_id: "{{ result.rows[0].id }}"
    on_failure: rollback
    rollback:
      action: postgres.execute
      with: {connection: db, sql: "DELETE FROM changes"}
  - id: after
    action: postgres.execute
    approval: {required: false}
    with: {connection: db, sql: "INSERT INTO changes (note) VALUES ('after')"}
""")
    ran = cli("run", str(path), "--output", "plain")
    assert ran.code == 3, ran.out
    assert _rows(pg_db) == ["record"]  # once: not retried, not rolled back, and the run did not go on
    assert "paused after record: record made its change, but its outputs could not be captured: new_id" in ran.out
    assert "is not retried or rolled back" in ran.out
    run_id = _run_id(ran.out)
    events = open_journal().events(run_id)
    types = [e.type for e in events]
    assert ev.STEP_FAILED not in types and ev.STEP_ROLLED_BACK not in types
    done = ev.StepSucceeded.of(next(e for e in events if e.type == ev.STEP_SUCCEEDED))
    assert done.output_error is not None and done.output_error.startswith("new_id")
    assert done.outputs == {"count": 1}  # what could be captured is kept
    paused = ev.RunPaused.of(next(e for e in events if e.type == ev.RUN_PAUSED))
    assert paused.reason == "outputs"
    shown = cli("runs", "show", run_id).out
    assert re.search(r"step\.succeeded +record .*outputs \{\"count\": 1\}; outputs not captured: new_id", shown), shown

    resumed = cli("resume", run_id, "--output", "plain")
    assert resumed.code == 0, resumed.out
    assert "going on after it without these outputs" in resumed.out and "new_id" in resumed.out
    assert _rows(pg_db) == ["record", "after"]  # the changed step was not run again


def test_a_shell_change_whose_outputs_fail_is_not_a_failure(tmp_path: Path, cli, fireline_home: Path) -> None:
    log = tmp_path / "changes.log"
    path = write(tmp_path / "rb.yaml", f"""\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: outputs}}
steps:
  - id: write
    action: shell.run
    approval: {{required: false}}
    with: {{argv: [sh, -c, "echo written >> '{log}'; echo one word"]}}
    retries: {{count: 2, delay: 0s}}
    outputs:
      third: "{{{{ result.stdout.split()[2] }}}}"
    on_failure: continue
  - id: next
    action: shell.run
    approval: {{required: false}}
    with: {{argv: [sh, -c, "echo next >> '{log}'"]}}
""")
    ran = cli("run", str(path), "--output", "json")
    assert ran.code == 3, ran.out
    doc = ran.json()
    assert doc["status"] == "paused" and doc["failed_step"] == "write"
    assert [s["status"] for s in doc["steps"]] == ["ok"]
    assert log.read_text() == "written\n"  # exactly once, and `on_failure: continue` did not apply


def test_a_read_whose_outputs_fail_still_fails(tmp_path: Path, cli, fireline_home: Path) -> None:
    # Nothing changed: the read fails as before, and its on_failure decides.
    path = write(tmp_path / "rb.yaml", """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: outputs}
steps:
  - id: read
    action: shell.run
    read_only: true
    with: {argv: [echo, one]}
    outputs:
      third: "{{ result.stdout.split()[2] }}"
""")
    ran = cli("run", str(path), "--output", "plain")
    assert ran.code == 1 and "FAILED at read" in ran.out, ran.out
