"""`fireline run/plan RUNBOOK --incident ID`: the run is linked both ways, its steps are on the incident's
timeline in order, and a runbook that says `metadata.mitigates: true` sets `mitigated` exactly once."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from runner.incident import events as iev
from runner.incident import store
from runner.incident.lifecycle import Declaration, declare
from runner.incident.model import Milestone, Severity
from runner.journal import events as ev
from runner.journal.store import open_journal
from tests.command import FIRELINE
from tests.conftest import write

MITIGATING = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: restart-checkout, title: Restart checkout, mitigates: {mitigates}}}
steps:
  - id: look
    action: shell.run
    read_only: true
    with: {{argv: [echo, looking]}}
  - id: announce
    action: notify.status_update
    with: {{status: identified, summary: restarting checkout}}
  - id: restart
    action: shell.run
    with: {{argv: [touch, "{marker}"]}}
  - id: confirm
    action: shell.run
    with: {{argv: [echo, confirmed]}}
"""


def _incident(title: str = "Checkout down") -> str:
    journal = open_journal()
    try:
        return declare(journal, Declaration(title, Severity.SEV2, systems=("checkout",)), "lead")
    finally:
        journal.close()


def _runbook(tmp_path: Path, mitigates: bool = True) -> tuple[Path, Path]:
    marker = tmp_path / "restarted"
    text = MITIGATING.format(marker=marker, mitigates="true" if mitigates else "false")
    return write(tmp_path / "restart.yaml", text), marker


def _fireline(fireline_home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"FIRELINE_HOME": str(fireline_home), "FIRELINE_ACTOR": "responder", "PATH": "/usr/bin:/bin"}
    return subprocess.run([*FIRELINE, *args], env=env, capture_output=True, text=True, timeout=120)


def _mitigated(incident_id: str) -> list[iev.IncidentMilestone]:
    events = open_journal().events(incident_id, (iev.MILESTONE,))
    return [m for m in map(iev.IncidentMilestone.of, events) if m.name == Milestone.MITIGATED]


def test_a_linked_run_is_on_the_timeline_in_order_and_mitigates_once(
    tmp_path: Path, fireline_home: Path, cli: Any
) -> None:
    incident_id = _incident()
    runbook, marker = _runbook(tmp_path)
    first = _fireline(fireline_home, "run", str(runbook), "--incident", incident_id.lower(), "--approve-all",
                      "--reason", "restart it", "--output", "plain")  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert marker.exists()
    assert f"linked to incident {incident_id}" in first.stdout
    assert f"incident {incident_id} mitigated by step restart" in first.stdout

    journal = open_journal()
    [link] = store.load(journal, incident_id).links
    assert (link.kind, link.name) == ("runbook", "restart-checkout")
    [started] = journal.events(link.run_id, (ev.RUN_STARTED,))
    assert ev.RunStarted.of(started).incident == incident_id  # the run names its incident itself
    shown_run = cli("runs", "show", link.run_id)
    assert f"responds to incident {incident_id}" in shown_run.out
    # The first production change (not the read, not the status update) set it, at the step's end.
    [mitigated] = _mitigated(incident_id)
    assert mitigated.source == f"run {link.run_id} step restart"
    [restart_done] = [e for e in journal.events(link.run_id, (ev.STEP_SUCCEEDED,)) if e.step_id == "restart"]
    assert mitigated.at == restart_done.ts_wall

    second = _fireline(fireline_home, "run", str(runbook), "--incident", incident_id, "--approve-all",
                       "--reason", "again", "--output", "plain")  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert "already mitigated" in second.stdout
    assert len(_mitigated(incident_id)) == 1  # exactly once: the second run left it as it was

    shown = cli("incident", "timeline", incident_id)
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    run_lines = [line for line in lines if f"run {link.run_id}" in line]
    order = ["run of Restart checkout started", "look: succeeded", "announce: change started",
             "announce: succeeded", "restart: approved by responder", "restart: change started",
             "restart: succeeded", "confirm: succeeded", "run succeeded"]  # fmt: skip
    positions = [next(i for i, line in enumerate(run_lines) if part in line) for part in order]
    assert positions == sorted(positions), run_lines
    mitigated_line = next(i for i, line in enumerate(lines) if "milestone mitigated" in line)
    restart_line = next(i for i, line in enumerate(lines) if "restart: succeeded" in line)
    confirm_line = next(i for i, line in enumerate(lines) if "confirm: succeeded" in line)
    assert restart_line <= mitigated_line < confirm_line  # at the time the change succeeded


def test_a_runbook_that_does_not_mitigate_leaves_the_milestone_alone(
    tmp_path: Path, fireline_home: Path, cli: Any
) -> None:
    incident_id = _incident()
    runbook, marker = _runbook(tmp_path, mitigates=False)
    done = cli("run", str(runbook), "--incident", incident_id, "--approve-all", "--reason", "r", "--output", "plain")
    assert done.code == 0 and marker.exists()
    assert _mitigated(incident_id) == []
    assert len(store.load(open_journal(), incident_id).links) == 1


def test_unknown_or_closed_incidents_are_refused_before_anything_runs(
    tmp_path: Path, fireline_home: Path, cli: Any
) -> None:
    runbook, marker = _runbook(tmp_path)
    unknown = cli("run", str(runbook), "--incident", "INC-2026-999", "--approve-all", "--reason", "r")
    assert unknown.code == 2 and "no incident 'INC-2026-999'" in unknown.err
    assert "Traceback" not in unknown.err
    incident_id = _incident()
    journal = open_journal()
    store.append(journal, incident_id, iev.IncidentClosed("post-mortem done"), "lead")
    closed = cli("run", str(runbook), "--incident", incident_id, "--approve-all", "--reason", "r")
    assert closed.code == 2 and f"incident {incident_id} is closed" in closed.err
    planned = cli("plan", str(runbook), "--incident", incident_id)
    assert planned.code == 2
    assert not marker.exists()
    assert journal.first_events(ev.RUN_STARTED) == [] and journal.first_events(ev.PLAN_STARTED) == []


def test_a_plan_is_linked_as_a_plan_and_mitigates_nothing(tmp_path: Path, fireline_home: Path, cli: Any) -> None:
    incident_id = _incident()
    runbook, marker = _runbook(tmp_path)
    planned = _fireline(fireline_home, "plan", str(runbook), "--incident", incident_id, "--output", "plain")
    assert planned.returncode == 0, planned.stderr
    assert not marker.exists()
    [link] = store.load(open_journal(), incident_id).links
    assert link.kind == "plan"
    [started] = open_journal().events(link.run_id, (ev.PLAN_STARTED,))
    assert ev.PlanStarted.of(started).incident == incident_id
    assert _mitigated(incident_id) == []
    shown = cli("incident", "timeline", incident_id)
    assert f"plan {link.run_id} · plan (dry run) of Restart checkout started" in shown.out
    assert f"plan {link.run_id} · restart: would-change" in shown.out


def test_a_resumed_run_still_mitigates(tmp_path: Path, cli: Any) -> None:
    """Paused at the gate (no terminal, no pre-approval), approved elsewhere, resumed: the change made after
    the pause marks the incident mitigated, since the run keeps its incident."""
    incident_id = _incident()
    runbook, marker = _runbook(tmp_path)
    paused = cli("run", str(runbook), "--incident", incident_id, "--output", "json")
    assert paused.code == 3, paused.err
    run_id = paused.json()["run_id"]
    assert _mitigated(incident_id) == []
    assert cli("approve", run_id, "restart", "--reason", "go").code == 0
    resumed = cli("resume", run_id, "--approve", "confirm", "--reason", "go on", "--output", "plain")
    assert resumed.code == 0, resumed.err
    assert marker.exists()
    [mitigated] = _mitigated(incident_id)
    assert mitigated.source == f"run {run_id} step restart"


def test_an_incident_closed_while_the_run_was_paused_takes_no_milestone(tmp_path: Path, cli: Any) -> None:
    incident_id = _incident()
    runbook, marker = _runbook(tmp_path)
    paused = cli("run", str(runbook), "--incident", incident_id, "--output", "json")
    assert paused.code == 3, paused.err
    run_id = paused.json()["run_id"]
    store.append(open_journal(), incident_id, iev.IncidentClosed("handled by hand"), "lead")
    resumed = cli("resume", run_id, "--approve-all", "--reason", "finish it", "--output", "plain")
    assert resumed.code == 0, resumed.err
    assert marker.exists()
    assert f"incident {incident_id} is closed; not marked mitigated" in resumed.out
    assert _mitigated(incident_id) == []
