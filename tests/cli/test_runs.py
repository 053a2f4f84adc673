"""`fireline runs list` and `runs show` read the journal through the typed event payloads: a journal written by
an earlier version (keys missing, keys since renamed) still lists and shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runner.journal import events as ev
from runner.journal.store import open_journal
from tests.conftest import write
from tests.signers import signing_team


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


# -- who approved: verified principals with their keys, or "unverified" --------------------------------------

GATED = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: gated, title: Gated}}
steps:
  - id: change
    action: shell.run
    with: {{argv: [touch, "{marker}"]}}
"""


def _paused_run(cli: Any, tmp_path: Path, *args: str) -> tuple[str, Path]:
    marker = tmp_path / "changed"
    runbook = write(tmp_path / "gated.yaml", GATED.format(marker=marker))
    first = cli("run", str(runbook), "--output", "json", *args)
    assert first.code == 3, first.err
    return first.json()["run_id"], marker


def _approval_line(shown: str) -> str:
    return next(line for line in shown.splitlines() if "step.approved" in line)


def test_runs_show_says_an_approval_by_a_typed_name_is_unverified(cli: Any, tmp_path: Path) -> None:
    run_id, _ = _paused_run(cli, tmp_path, "--as", "lead")
    assert cli("approve", run_id, "change", "--as", "alice", "--reason", "INC-3").code == 0
    shown = cli("runs", "show", run_id)
    assert "by alice (unverified) via fireline approve: INC-3" in _approval_line(shown.out)
    identity = [e["identity"] for e in cli("runs", "show", run_id, "--json").json()["events"] if "identity" in e]
    assert identity == [{"verified": False, "signed": False}]


def test_runs_show_names_the_verified_principal_and_key(cli: Any, tmp_path: Path, monkeypatch) -> None:
    team = signing_team(tmp_path, monkeypatch)
    lead, alice = team.key("lead"), team.key("alice")
    run_id, _ = _paused_run(cli, tmp_path, "--key", str(lead))
    assert cli("approve", run_id, "change", "--reason", "INC-3", "--key", str(alice)).code == 0
    shown = cli("runs", "show", run_id)
    line = _approval_line(shown.out)
    assert f"by alice (verified, key {team.fingerprint(alice)}) via fireline approve: INC-3" in line
    assert f"start by lead (verified, key {team.fingerprint(lead)})" in shown.out
    events = cli("runs", "show", run_id, "--json").json()["events"]
    [approved] = [e["identity"] for e in events if e["type"] == "step.approved"]
    assert approved == {"verified": True, "signed": True, "principal": "alice",
                        "fingerprint": team.fingerprint(alice)}
    # The same journal read where the key is no longer allowed: not verified, and said so.
    team.allowed.write_text(team.allowed.read_text().replace("alice ", "someone-else "))
    line = _approval_line(cli("runs", "show", run_id).out)
    assert "by alice (NOT VERIFIED (the signature does not verify as alice's" in line


# -- cancelling a run, and what a finished or cancelled run refuses --------------------------------------------


def test_cancel_ends_a_paused_run_that_then_cannot_be_resumed_or_approved(cli: Any, tmp_path: Path) -> None:
    run_id, marker = _paused_run(cli, tmp_path, "--as", "lead")
    assert cli("runs", "cancel", run_id, "--reason", "  ").code == 2  # a reason is needed
    cancelled = cli("runs", "cancel", run_id, "--reason", "handled by hand", "--as", "lead")
    assert cancelled.code == 0, cancelled.err
    listed = cli("runs", "list", "--json").json()
    assert [(r["run_id"], r["status"]) for r in listed] == [(run_id, "cancelled")]
    assert "cancelled by lead: handled by hand" in cli("runs", "show", run_id).out
    before = len(open_journal().events(run_id))
    resumed = cli("resume", run_id)
    assert resumed.code == 2 and "was cancelled" in resumed.err
    approved = cli("approve", run_id, "change", "--as", "alice", "--reason", "late")
    assert approved.code == 2 and "was cancelled" in approved.err and "nothing was written" in approved.err
    again = cli("runs", "cancel", run_id, "--reason", "twice", "--as", "lead")
    assert again.code == 2 and "was cancelled" in again.err
    assert len(open_journal().events(run_id)) == before and not marker.exists()


def test_approve_on_a_finished_run_is_refused_and_writes_nothing(cli: Any, tmp_path: Path) -> None:
    run_id, marker = _paused_run(cli, tmp_path, "--as", "lead")
    assert cli("approve", run_id, "change", "--as", "alice", "--reason", "ok").code == 0
    assert cli("resume", run_id).code == 0 and marker.exists()
    before = len(open_journal().events(run_id))
    refused = cli("approve", run_id, "change", "--as", "bob", "--reason", "late")
    assert refused.code == 2 and "already finished (succeeded)" in refused.err
    assert len(open_journal().events(run_id)) == before


def test_cancel_is_refused_while_another_process_runs_the_run(cli: Any, tmp_path: Path) -> None:
    from runner.journal.lease import hold

    run_id, _ = _paused_run(cli, tmp_path, "--as", "lead")
    journal = open_journal()
    with hold(journal, run_id, "someone"):
        # A second holder in this process is refused the way another process would be.
        refused = cli("runs", "cancel", run_id, "--reason", "stop", "--as", "lead")
    assert refused.code != 0 and "someone" in refused.err
    assert cli("runs", "list", "--json").json()[0]["status"] == "paused"


def test_a_signed_cancel_names_the_verified_principal(cli: Any, tmp_path: Path, monkeypatch) -> None:
    team = signing_team(tmp_path, monkeypatch)
    lead = team.key("lead")
    run_id, _ = _paused_run(cli, tmp_path, "--key", str(lead))
    assert cli("runs", "cancel", run_id, "--reason", "stale", "--as", "lead").code == 2  # names are not typed
    done = cli("runs", "cancel", run_id, "--reason", "stale", "--key", str(lead))
    assert done.code == 0 and "signed by lead" in done.out
    shown = cli("runs", "show", run_id).out
    assert f"cancel by lead (verified, key {team.fingerprint(lead)})" in shown
    assert cli("runs", "list", "--json").json()[0]["status"] == "cancelled"


def test_cancel_ends_a_run_whose_process_was_killed_mid_step(cli: Any, tmp_path: Path, fireline_home: Path) -> None:
    import os
    import signal
    import subprocess

    from tests.command import FIRELINE
    from tests.conftest import wait_for

    runbook = write(tmp_path / "slow.yaml", """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: slow}
steps:
  - id: change
    action: shell.run
    with: {argv: [sleep, "60"]}
""")
    env = {**os.environ, "FIRELINE_HOME": str(fireline_home)}
    proc = subprocess.Popen([*FIRELINE, "run", str(runbook), "--approve-all", "--reason", "drill", "--as", "lead",
                             "--output", "plain"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        run_id = wait_for(lambda: next(iter(cli("runs", "list", "--json").json()), {}).get("run_id"), "the run", 60)
        wait_for(lambda: any(e.type == ev.STEP_STARTED for e in open_journal().events(run_id)), "the step", 60)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # kill -9, its sleep too: the step never ends
        proc.wait(timeout=20)
    cancelled = cli("runs", "cancel", run_id, "--reason", "the host is gone", "--as", "lead")
    assert cancelled.code == 0, cancelled.err
    assert "step change had started and never finished" in cancelled.out
    assert cli("runs", "list", "--json").json()[0]["status"] == "cancelled"
    assert cli("resume", run_id).code == 2
