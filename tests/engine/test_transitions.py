"""Every transition (where the run goes after a step, and why) is in the journal, and resume continues from
where the run stood — not from the furthest step that ever finished."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import wait_for, write

# a → b → c (fails on its first visit, goto:a) → a → b (a slow read on its second visit: killed there).
RUNBOOK = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: goto-crash}}
steps:
  - id: a
    action: shell.run
    approval: {{required: false}}
    with: {{command: "echo a >> {d}/log"}}
  - id: b
    action: shell.run
    read_only: true
    with:
      command: >-
        echo b >> {d}/log; echo x >> {d}/b.count;
        if [ $(wc -l < {d}/b.count) -eq 2 ]; then touch {d}/b.slow; sleep 60; fi
  - id: c
    action: shell.run
    approval: {{required: false}}
    on_failure: goto:a
    with: {{command: "echo c >> {d}/log; echo x >> {d}/c.count; test $(wc -l < {d}/c.count) -ge 2"}}
"""


def transitions(home: Path, run_id: str) -> list[tuple[str, str | None, str]]:
    with sqlite3.connect(home / "journal.db") as db:
        rows = db.execute(
            "SELECT step_id, data FROM events WHERE run_id = ? AND type = 'step.transition' ORDER BY seq", (run_id,)
        ).fetchall()
    return [(step, json.loads(data)["to"], json.loads(data)["why"]) for step, data in rows]


def test_resume_after_a_goto_continues_where_the_run_stood(tmp_path: Path, cli, fireline_home: Path) -> None:
    path = write(tmp_path / "goto.yaml", RUNBOOK.format(d=tmp_path))
    env = {**os.environ, "FIRELINE_HOME": str(fireline_home), "PYTHONPATH": str(Path.cwd())}
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner", "run", str(path), "--output", "plain"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    wait_for(lambda: (tmp_path / "b.slow").exists(), "the second visit of b", timeout=30)
    os.killpg(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate()
    run_id = next(w for line in out.splitlines() for w in line.split() if w.count("-") == 2 and w[:8].isdigit())
    log = tmp_path / "log"
    assert log.read_text().split() == ["a", "b", "c", "a", "b"]

    resumed = cli("resume", run_id, "--output", "plain")
    assert resumed.code == 0, resumed.out + resumed.err
    # b (a read cut short) runs again, then c, which passes on its second visit. Not c straight away.
    assert log.read_text().split() == ["a", "b", "c", "a", "b", "b", "c"]
    assert transitions(fireline_home, run_id) == [
        ("a", "b", "order"),
        ("b", "c", "order"),
        ("c", "a", "goto"),
        ("a", "b", "order"),
        ("b", "c", "order"),
        ("c", None, "end"),
    ]
    shown = cli("runs", "show", run_id, "--json").json()
    assert shown["events"][-1]["type"] == "run.finished" and shown["events"][-1]["data"]["status"] == "succeeded"


def test_transitions_name_why_the_run_moved(tmp_path: Path, cli, fireline_home: Path) -> None:
    path = write(
        tmp_path / "why.yaml",
        """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: why}
steps:
  - {id: check, action: control.assert, with: {that: "{{ false }}"}, on_failure: continue, critical: false}
  - {id: skipped, action: control.assert, when: "{{ false }}", with: {that: "{{ true }}"}}
  - {id: stop, action: control.assert, with: {that: "{{ false }}"}}
  - {id: never, action: control.assert, with: {that: "{{ true }}"}}
""",
    )
    result = cli("run", str(path), "--output", "json")
    assert result.code == 1
    run_id = result.json()["run_id"]
    assert transitions(fireline_home, run_id) == [
        ("check", "skipped", "continue"),
        ("skipped", "stop", "order"),
        ("stop", None, "abort"),
    ]
    timeline = cli("runs", "show", run_id).out
    assert "-> skipped (continue)" in timeline and "-> end of run (abort)" in timeline


def test_a_crash_between_an_abort_and_the_end_of_the_run_resumes_to_a_failed_run(
    tmp_path: Path, cli, fireline_home: Path
) -> None:
    log = tmp_path / "log"
    path = write(
        tmp_path / "abort.yaml",
        f"""\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: abort}}
steps:
  - {{id: change, action: shell.run, approval: {{required: false}}, with: {{command: "echo change >> {log}"}}}}
  - id: check
    action: shell.run
    approval: {{required: false}}
    critical: false
    with: {{command: "echo check >> {log}; exit 1"}}
  - {{id: never, action: shell.run, approval: {{required: false}}, with: {{command: "echo never >> {log}"}}}}
""",
    )
    first = cli("run", str(path), "--output", "json")
    assert first.code == 1
    run_id = first.json()["run_id"]
    with sqlite3.connect(fireline_home / "journal.db") as db:  # the crash: the run's end never written
        db.execute("DELETE FROM journal_events WHERE run_id = ? AND type = 'run.finished'", (run_id,))
    resumed = cli("resume", run_id, "--output", "json")
    assert resumed.code == 1, resumed.out + resumed.err
    assert resumed.json()["failed_step"] == "check"
    assert log.read_text().split() == ["change", "check"]  # nothing ran again, nothing ran after the abort


def test_a_journal_without_transitions_resumes_after_the_last_finished_step(
    tmp_path: Path, cli, fireline_home: Path
) -> None:
    """Journals written before transitions were recorded (or a step's end whose transition was lost):
    the last step that finished, and its on_failure, say where the run stood."""
    log = tmp_path / "log"
    path = write(tmp_path / "goto.yaml", RUNBOOK.format(d=tmp_path).replace("sleep 60", "true"))
    done = cli("run", str(path), "--output", "json")
    assert done.code == 0
    run_id = done.json()["run_id"]
    assert log.read_text().split() == ["a", "b", "c", "a", "b", "c"]
    with sqlite3.connect(fireline_home / "journal.db") as db:
        # Back to just after the second `a`: drop everything after its step.succeeded, and every transition.
        rows = db.execute(
            "SELECT seq, type, step_id FROM journal_events WHERE run_id = ? ORDER BY seq", (run_id,)
        ).fetchall()
        second_a = [seq for seq, type_, step in rows if type_ == "step.succeeded" and step == "a"][1]
        db.execute("DELETE FROM journal_events WHERE run_id = ? AND seq > ?", (run_id, second_a))
        db.execute("DELETE FROM journal_events WHERE run_id = ? AND type = 'step.transition'", (run_id,))
        # Such a journal is also older than the hash chain (journal schema 5): its events are not chained.
        db.execute("UPDATE journal_events SET prev_hash = NULL, hash = NULL WHERE run_id = ?", (run_id,))
        db.execute("INSERT OR REPLACE INTO meta SELECT 'chained_from_seq', max(seq) + 1 FROM journal_events")
    log.write_text("")
    resumed = cli("resume", run_id, "--output", "json")
    assert resumed.code == 0, resumed.out + resumed.err
    assert log.read_text().split() == ["b", "c"]


BRANCHY = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: branchy}}
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
        - {{when: "{{{{ steps.look.outputs.answer == 'left' }}}}", goto: left}}
      default: right
  - {{id: left, action: shell.run, approval: {{required: false}}, with: {{command: "echo left >> {d}/log"}}}}
  - {{id: done, action: shell.run, approval: {{required: false}}, with: {{command: "echo done >> {d}/log"}}, end: true}}
  - id: right
    action: shell.run
    approval: {{required: false}}
    with: {{command: "echo right >> {d}/log"}}
    next: done
"""


def _branchy(tmp_path: Path, answer: str) -> Path:
    (tmp_path / "answer").write_text(answer + "\n")
    (tmp_path / "log").write_text("")
    return write(tmp_path / "branchy.yaml", BRANCHY.format(d=tmp_path))


def test_branch_next_and_end_are_transitions(tmp_path: Path, cli, fireline_home: Path) -> None:
    left = cli("run", str(_branchy(tmp_path, "left")), "--output", "json")
    assert left.code == 0, left.out + left.err
    assert (tmp_path / "log").read_text().split() == ["left", "done"]  # end: true, `right` never runs
    assert transitions(fireline_home, left.json()["run_id"]) == [
        ("look", "decide", "order"),
        ("decide", "left", "branch"),
        ("left", "done", "order"),
        ("done", None, "end"),
    ]
    right = cli("run", str(_branchy(tmp_path, "right")), "--output", "json")
    assert right.code == 0, right.out + right.err
    assert (tmp_path / "log").read_text().split() == ["right", "done"]
    assert transitions(fireline_home, right.json()["run_id"])[1:] == [
        ("decide", "right", "branch"),
        ("right", "done", "next"),
        ("done", None, "end"),
    ]


def test_without_its_transition_a_branch_step_still_says_where_the_run_went(
    tmp_path: Path, cli, fireline_home: Path
) -> None:
    """A journal whose branch decision has no step.transition after it (a crash between the two when they
    were not written in one commit): the decision recorded in the branch's result says where the run went
    — not the file's order, and not a new decision."""
    from runner.document.runbook import load_runbook
    from runner.engine.resume import replay
    from runner.engine.transitions import after_event
    from runner.journal.store import open_journal

    path = _branchy(tmp_path, "right")
    run_id = cli("run", str(path), "--output", "json").json()["run_id"]
    events = open_journal().events(run_id)
    decided = next(i for i, e in enumerate(events) if e.type == "step.succeeded" and e.step_id == "decide")
    runbook = load_runbook(path)
    move = after_event(runbook, events[decided])
    assert (move.to, move.why) == ("right", "branch")
    before_transition = [e for e in events[: decided + 1] if e.type != "step.transition"]
    assert replay(runbook, before_transition).next_index == runbook.index_of("right")


def test_a_loop_that_only_a_failure_could_leave_stops_at_the_visit_limit(
    tmp_path: Path, cli, fireline_home: Path
) -> None:
    path = write(
        tmp_path / "loop.yaml",
        """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: loop}
steps:
  - {id: poll, action: control.set, with: {values: {n: "{{ 1 }}"}}}
  - {id: again, action: control.sleep, with: {duration: 1ms}, next: poll}
""",
    )
    assert "warning: steps poll -> again -> poll form a loop" in cli("validate", str(path)).out
    result = cli("run", str(path), "--output", "json")
    assert result.code == 1
    assert result.json()["message"] == "step 'poll' ran 100 times: a loop (goto, next: or a branch) never left"
