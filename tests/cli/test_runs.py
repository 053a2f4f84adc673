"""`fireline runs list` and `runs show` read the journal through the typed event payloads: a journal written by
an earlier version (keys missing, keys since renamed) still lists and shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runner.journal import events as ev
from runner.journal.store import open_journal
from tests.conftest import write


def _old_run(run_id: str) -> None:
    """A run as an early version recorded it: no version, steps, approvals or `mutating`; the game-day link
    still under its old key."""
    journal = open_journal()
    try:
        journal.append(run_id, ev.RUN_STARTED, actor="alice",
                       data={"runbook": "/rb/restart.yaml", "name": "restart", "title": "Restart checkout",
                             "digest": "sha256:0", "inputs": {"deployment": "checkout"}, "gameday": "gd-1"})
        journal.append(run_id, ev.STEP_STARTED, step_id="scale", actor="alice", data={"action": "kubernetes.scale"})
        journal.append(run_id, ev.STEP_SUCCEEDED, step_id="scale", actor="alice",
                       data={"summary": "scaled to 3", "result": {}, "duration_s": 0.5})
        journal.append(run_id, ev.RUN_FINISHED, data={"status": "succeeded", "message": ""}, durable=True)
    finally:
        journal.close()


def test_an_old_journal_lists_and_shows(cli: Any) -> None:
    _old_run("run-old-1")
    listed = cli("runs", "list", "--json")
    assert listed.code == 0, listed.err
    assert [(r["run_id"], r["runbook"], r["status"]) for r in json.loads(listed.out)] == [
        ("run-old-1", "restart", "succeeded")
    ]
    shown = cli("runs", "show", "run-old-1")
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    assert lines[0] == "run run-old-1: Restart checkout (/rb/restart.yaml)"
    assert lines[1].endswith('inputs: {"deployment": "checkout"}')
    # A step.started without `mutating` is taken as a change (what resume assumes too).
    assert "kubernetes.scale (mutating)" in lines[2]
    assert lines[3].endswith("scaled to 3 (0.500s)")
    assert lines[4].rstrip().endswith("succeeded")


def test_runs_show_describes_what_the_engine_recorded(cli: Any, tmp_path: Path) -> None:
    runbook = write(tmp_path / "rb.yaml", """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: two-steps, title: Two steps}
steps:
  - id: check
    action: control.assert
    with: {that: "{{ true }}"}
  - id: skip-me
    action: control.assert
    when: "{{ false }}"
    with: {that: "{{ true }}"}
""")
    ran = cli("run", str(runbook))
    assert ran.code == 0, ran.err
    run_id = json.loads(cli("runs", "list", "--json").out)[0]["run_id"]
    shown = cli("runs", "show", run_id)
    assert shown.code == 0, shown.err
    described = [line.split(None, 3)[-1] for line in shown.out.splitlines()[2:]]
    assert [d.split()[0] for d in described] == [
        "step.started", "step.succeeded", "step.transition", "step.skipped", "step.transition", "run.finished"
    ]
    assert described[0].endswith("control.assert")  # a read: not marked as a change
    assert described[2].endswith("-> skip-me (order)")
    assert described[4].endswith("-> end of run (end)")
    assert described[5].rstrip().endswith("succeeded")
