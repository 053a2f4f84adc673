"""`fireline plan` (runner/engine/plan.py) follows the run's path — in order, next:, end:, the branch the
reads decide — and never pretends: a step that uses what a predicted change would bring is reported as
depending on it, and a branch that depends on one shows each path it may take."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.lab.k8s import LabCluster, LabConfig
from tests.conftest import write

HEADER = "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: p}\n"


def _lines(out: str) -> list[str]:
    return [line.rstrip() for line in out.splitlines()]


def test_plan_follows_the_branch_the_reads_decide(tmp_path: Path, cli, fireline_home) -> None:
    path = write(
        tmp_path / "rb.yaml",
        HEADER
        + f"""\
steps:
  - id: look
    action: shell.run
    read_only: true
    with: {{command: "echo 3"}}
    outputs: {{n: "{{{{ result.stdout | trim | int }}}}"}}
  - id: decide
    action: control.branch
    with:
      choices:
        - {{when: "{{{{ steps.look.outputs.n > 5 }}}}", goto: scale-up}}
      default: restart
  - id: scale-up
    action: shell.run
    with: {{command: "touch {tmp_path}/scaled"}}
    end: true
  - id: restart
    action: shell.run
    with: {{command: "touch {tmp_path}/restarted"}}
""",
    )
    plan = cli("plan", str(path), "--output", "plain")
    assert plan.code == 0, plan.out + plan.err
    lines = _lines(plan.out)
    assert any("READ         decide (control.branch): ran (read-only): default: no choice is true" in x for x in lines)
    assert any(x.startswith("[4/4] WOULD-CHANGE restart (shell.run)") for x in lines)
    assert not any("scale-up (shell.run)" in x for x in lines)
    assert "      not on the run's path, so not planned: scale-up" in lines
    assert not (tmp_path / "scaled").exists() and not (tmp_path / "restarted").exists()
    # Without the reads, nothing decides: each path is shown, and nothing claims a change is the cause.
    blind = cli("plan", str(path), "--no-reads", "--output", "plain")
    assert blind.code == 0, blind.out + blind.err
    assert "CANNOT-CHECK decide (control.branch): cannot decide in a plan: choice 1" in blind.out
    assert "it may go to scale-up, restart" in blind.out and "depends on a planned change" not in blind.out
    assert "── path 1 of 2 after decide: go to scale-up" in blind.out
    assert "── path 2 of 2 after decide: go to restart" in blind.out


UNDECIDED = """\
steps:
  - id: restart
    action: shell.run
    with: {{command: "echo 2; touch {d}/restarted"}}
    outputs: {{errors: "{{{{ result.stdout | trim | int }}}}"}}
  - id: decide
    action: control.branch
    with:
      choices:
        - {{when: "{{{{ inputs.force }}}}", goto: rollback}}
        - {{when: "{{{{ steps.restart.outputs.errors > 0 }}}}", goto: rollback}}
      default: tell
  - id: rollback
    action: shell.run
    with: {{command: "touch {d}/rolled-back"}}
  - id: tell
    action: notify.status_update
    with:
      status: monitoring
      summary: "Mitigation applied: {{{{ steps.restart.outputs.errors }}}} errors left"
      to: {{file: "{d}/status.log"}}
  - id: settle
    action: shell.run
    read_only: true
    retries: {{count: 20, delay: 3s, until: "{{{{ result.stdout | trim == 'settled' }}}}"}}
    with: {{command: "echo waiting >> {d}/settle.log"}}
inputs:
  force: {{type: boolean, default: false}}
"""


def test_a_branch_on_a_predicted_change_shows_each_path(tmp_path: Path, cli, fireline_home) -> None:
    path = write(tmp_path / "rb.yaml", HEADER + UNDECIDED.format(d=tmp_path))
    plan = cli("plan", str(path), "--output", "plain")
    assert plan.code == 0, plan.out + plan.err
    lines = _lines(plan.out)
    assert (
        "[2/5] DEPENDS      decide (control.branch): depends on a planned change: choice 2 "
        "(steps.restart.outputs.errors > 0) uses steps.restart.outputs.errors, which the plan only predicts; "
        "it may go to rollback, tell"
    ) in lines
    first, second = (
        lines.index("── path 1 of 2 after decide: go to rollback"),
        lines.index("── path 2 of 2 after decide: go to tell"),
    )
    on_first, on_second = lines[first + 1 : second], lines[second + 1 :]
    assert on_first[0].startswith("[3/5] WOULD-CHANGE rollback (shell.run)")
    # Every step after a predicted change that uses it says so: no empty render, no template error.
    depends_tell = (
        "[4/5] DEPENDS      tell (notify.status_update): depends on a planned change: uses "
        "steps.restart.outputs.errors, which the plan only predicts"
    )
    assert depends_tell in on_first and depends_tell in on_second
    settle = (
        "[5/5] DEPENDS      settle (shell.run): depends on a planned change: retries until "
        "{{ result.stdout | trim == 'settled' }} for the effect of restart"
    )
    assert any(x.startswith(settle + ", rollback, changes the plan only predicts") for x in on_first)
    assert any(x.startswith(settle + ", a change the plan only predicts") for x in on_second)
    assert "Mitigation applied" not in plan.out and "undefined" not in plan.out
    assert not any((tmp_path / name).exists() for name in ("restarted", "rolled-back", "status.log", "settle.log"))
    # A choice the plan can evaluate before the predicted one decides alone.
    forced = cli("plan", str(path), "-i", "force=true", "--output", "plain")
    assert "ran (read-only): choice 1 (inputs.force) is true: go to rollback" in forced.out
    assert "── path" not in forced.out
    # Machines see the paths too.
    doc = cli("plan", str(path), "--output", "json").json()
    on_paths = [(s["id"], s.get("path", ""), s["verdict"]) for s in doc["steps"]]
    assert ("tell", "path 1 of 2 after decide: go to rollback", "depends-on-change") in on_paths
    assert ("tell", "path 2 of 2 after decide: go to tell", "depends-on-change") in on_paths
    assert doc["message"] == "2 would-change, 5 depends-on-change"


# --- a wait for a change the plan only predicts: no time spent waiting --------------------------------------


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[LabCluster]:
    with LabCluster(LabConfig(state_dir=tmp_path / "lab", time_scale=0.02)) as cluster:
        cluster.wait_for_rollout("checkout", "demo", timeout=10)
        yield cluster


def test_a_plan_never_waits_for_a_predicted_change(tmp_path: Path, cli, fireline_home, lab: LabCluster) -> None:
    path = write(
        tmp_path / "rb.yaml",
        HEADER
        + f"""\
connections:
  lab: {{type: kubernetes, kubeconfig: "{lab.kubeconfig_path}", namespace: demo}}
steps:
  - id: ready-now
    action: kubernetes.wait
    with: {{connection: lab, deployment: checkout, condition: available, timeout: 60s}}
  - id: scale
    action: kubernetes.scale
    with: {{connection: lab, deployment: checkout, replicas: 7}}
  - id: seven-ready
    action: kubernetes.wait
    with: {{connection: lab, deployment: checkout, condition: ready, count: 7, timeout: 60s}}
  - id: rolled-out
    action: kubernetes.rollout_status
    with: {{connection: lab, deployment: checkout, timeout: 60s}}
  - id: only-when-asked
    action: kubernetes.rollout_status
    when: "{{{{ 1 > 2 }}}}"
    with: {{connection: lab, deployment: checkout, timeout: 60s}}
""",
    )
    started = time.monotonic()
    plan = cli("plan", str(path), "--output", "plain")
    took = time.monotonic() - started
    assert plan.code == 0, plan.out + plan.err
    lines = _lines(plan.out)
    assert any(x.startswith("[1/5] READ         ready-now (kubernetes.wait): ran (read-only)") for x in lines)
    assert any(x.startswith("[2/5] WOULD-CHANGE scale (kubernetes.scale)") for x in lines)
    # A condition the plan can evaluate still decides first.
    assert (
        "[5/5] NO-CHANGE    only-when-asked (kubernetes.rollout_status): would be skipped: {{ 1 > 2 }} is false"
        in lines
    )
    for line in ("[3/5] DEPENDS      seven-ready (kubernetes.wait)", "[4/5] DEPENDS      rolled-out"):
        assert any(
            x.startswith(line) and "depends on a planned change: waits for the effect of scale" in x for x in lines
        ), plan.out
    # Waiting for 7 ready replicas that were never asked for would take the whole 60 s timeout.
    assert took < 30, f"the plan took {took:.1f}s"
