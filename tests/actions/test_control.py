"""control.*: a manual step fails closed without a person, and goes on once it is confirmed."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import write

HEADER = "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: t}\n"


def test_manual_step_fails_closed_then_is_confirmed(tmp_path: Path, cli, fireline_home) -> None:
    path = write(
        tmp_path / "rb.yaml",
        HEADER
        + """\
steps:
  - id: call-vendor
    action: control.manual
    with: {instructions: "Call the payment provider and ask for their status page."}
  - id: after
    action: control.sleep
    with: {duration: 1ms}
""",
    )
    first = cli("run", str(path), "--output", "json")
    assert first.code == 3
    run_id = first.json()["run_id"]
    assert cli("approve", run_id, "call-vendor", "--as", "alice", "--reason", "called, they are degraded").code == 0
    resumed = cli("resume", run_id, "--output", "json")
    assert resumed.code == 0
    assert [s["status"] for s in resumed.json()["steps"]] == ["ok", "ok"]


# --- control.branch and control.set: a decision tree run through the real CLI ------------------------------

TREE = """\
inputs:
  load: {{type: integer, default: 10}}
steps:
  - id: measure
    action: control.set
    with: {{values: {{percent: "{{{{ inputs.load * 10 }}}}", label: "load-{{{{ inputs.load }}}}"}}}}
  - id: decide
    action: control.branch
    with:
      choices:
        - when: "{{{{ steps.measure.outputs.percent > 500 }}}}"
          goto: scale-up
        - when: "{{{{ steps.measure.outputs.percent > 150 }}}}"
          goto: restart
      default: watch
  - id: scale-up
    action: shell.run
    approval: {{required: false}}
    with: {{command: "echo scale-up >> {log}"}}
    end: true
  - id: restart
    action: shell.run
    approval: {{required: false}}
    with: {{command: "echo restart >> {log}"}}
    next: report
  - id: watch
    action: shell.run
    read_only: true
    with: {{command: "echo watch >> {log}"}}
  - id: report
    action: shell.run
    read_only: true
    with: {{command: "echo report {{{{ steps.measure.outputs.label }}}} >> {log}"}}
"""


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "log"
    return write(tmp_path / "tree.yaml", HEADER + TREE.format(log=log)), log


def _events(cli, run_id: str, kind: str) -> list[dict]:
    return [e for e in cli("runs", "show", run_id, "--json").json()["events"] if e["type"] == kind]


def test_branch_first_true_choice_wins_and_the_journal_says_why(tmp_path: Path, cli, fireline_home) -> None:
    path, log = _tree(tmp_path)
    run = cli("run", str(path), "-i", "load=80", "--output", "json")
    assert run.code == 0, run.out + run.err
    # Both choices are true: the first one decides; end: true finishes the run there, successfully.
    assert log.read_text().split() == ["scale-up"]
    run_id = run.json()["run_id"]
    decided = next(e for e in _events(cli, run_id, "step.succeeded") if e["step_id"] == "decide")["data"]
    assert decided["result"]["choice"] == 1 and decided["result"]["goto"] == "scale-up"
    assert decided["result"]["checked"] == [{"when": "{{ steps.measure.outputs.percent > 500 }}", "value": True}]
    moves = [(e["step_id"], e["data"]["to"], e["data"]["why"]) for e in _events(cli, run_id, "step.transition")]
    assert moves == [("measure", "decide", "order"), ("decide", "scale-up", "branch"), ("scale-up", None, "end")]
    shown = cli("runs", "show", run_id)
    assert "choice 1 (steps.measure.outputs.percent > 500) is true: go to scale-up" in shown.out
    assert "-> scale-up (branch)" in shown.out


def test_branch_second_choice_then_next(tmp_path: Path, cli, fireline_home) -> None:
    path, log = _tree(tmp_path)
    run = cli("run", str(path), "-i", "load=20", "--output", "plain")
    assert run.code == 0, run.out + run.err
    assert log.read_text().splitlines() == ["restart", "report load-20"]  # next: skipped `watch`
    assert "choice 2 (steps.measure.outputs.percent > 150) is true: go to restart" in run.out
    run_id = run.out.splitlines()[0].rsplit(" id ", 1)[1]
    moves = [(e["step_id"], e["data"]["why"]) for e in _events(cli, run_id, "step.transition")]
    assert ("restart", "next") in moves


def test_branch_default_when_no_choice_is_true(tmp_path: Path, cli, fireline_home) -> None:
    path, log = _tree(tmp_path)
    run = cli("run", str(path), "-i", "load=1", "--output", "json")
    assert run.code == 0, run.out + run.err
    assert log.read_text().splitlines() == ["watch", "report load-1"]
    steps = {s["id"]: s for s in run.json()["steps"]}
    assert steps["decide"]["summary"] == (
        "default: no choice is true (steps.measure.outputs.percent > 500 is false; "
        "steps.measure.outputs.percent > 150 is false): go to watch"
    )
    assert steps["measure"]["outputs"] == {"percent": 10, "label": "load-1"}
    decided = next(e for e in _events(cli, run.json()["run_id"], "step.succeeded") if e["step_id"] == "decide")
    assert decided["data"]["result"]["choice"] is None and decided["data"]["result"]["default"] is True
    assert [c["value"] for c in decided["data"]["result"]["checked"]] == [False, False]


def test_branch_evaluates_choices_in_order_and_only_until_one_holds(tmp_path: Path, cli, fireline_home) -> None:
    # The second choice names an output of a skipped step: never evaluated while the first holds. When it
    # is reached, the step fails naming the choice.
    path = write(
        tmp_path / "rb.yaml",
        HEADER
        + """\
inputs:
  first: {type: boolean, default: true}
steps:
  - id: probe
    action: shell.run
    read_only: true
    when: "{{ 1 > 2 }}"
    with: {command: "echo probed"}
    outputs: {value: "{{ result.stdout }}"}
  - id: decide
    action: control.branch
    with:
      choices:
        - when: "{{ inputs.first }}"
          goto: done
        - when: "{{ steps.probe.outputs.value == 'x' }}"
          goto: done
      default: done
  - id: done
    action: control.sleep
    with: {duration: 1ms}
""",
    )
    assert cli("run", str(path), "--output", "json").code == 0
    failed = cli("run", str(path), "-i", "first=false", "--output", "json")
    assert failed.code == 1
    summary = {s["id"]: s for s in failed.json()["steps"]}["decide"]["summary"]
    assert summary.startswith("choice 2 (steps.probe.outputs.value == 'x'): ") and "value" in summary


def test_control_set_outputs_are_checked_like_declared_outputs(tmp_path: Path, cli) -> None:
    path = write(
        tmp_path / "rb.yaml",
        HEADER
        + """\
steps:
  - id: facts
    action: control.set
    with: {values: {recent_deploy: "{{ 1 > 0 }}"}}
  - id: use
    action: control.assert
    with: {that: "{{ steps.facts.outputs.recent_deploi }}"}
""",
    )
    checked = cli("validate", str(path))
    assert checked.code == 1
    assert "step 'facts' has no output 'recent_deploi'" in checked.out and "recent_deploy" in checked.out
