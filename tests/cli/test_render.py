"""What the responder sees (runner/cli/render.py), read from fireline's real output: plain lines, the live
view on a terminal, and the plan."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from runner.journal import events as ev
from runner.journal.store import open_journal
from tests.conftest import write
from tests.terminal import drain, plain_lines, read_until, terminal

TWO_STEPS = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: view}
steps:
  - id: first
    action: shell.run
    with: {argv: [sh, -c, "echo first-log"]}
    read_only: true
    outputs:
      enabled: "{{ true }}"
      count: "{{ 3 }}"
      word: "{{ result.stdout | trim }}"
      nothing: "{{ none }}"
  - id: second
    action: shell.run
    with: {argv: [sh, -c, "echo second-log"]}
    approval: {required: false}
"""


def _values(lines: list[str]) -> set[str]:
    return {line.strip() for line in lines if re.match(r"^\s+\w+ = ", line)}


def test_plan_and_run_print_output_values_the_same_way(tmp_path: Path, cli, fireline_home) -> None:
    path = write(tmp_path / "rb.yaml", TWO_STEPS)
    ran = cli("run", str(path), "--output", "plain")
    planned = cli("plan", str(path), "--output", "plain")
    assert ran.code == 0 and planned.code == 0, ran.out + planned.out
    expected = {"enabled = true", "count = 3", "word = first-log", "nothing = null"}
    assert _values(ran.out.splitlines()) == expected, ran.out
    assert _values(planned.out.splitlines()) == expected, planned.out


def _block_of(lines: list[str], text: str, headers: re.Pattern[str]) -> str:
    """The header line `text` is printed under: the nearest line above it that `headers` matches."""
    index = next(i for i, line in enumerate(lines) if text in line)
    return next(line for line in reversed(lines[:index]) if headers.search(line))


def test_a_plan_prints_a_read_steps_output_under_its_own_header(tmp_path: Path, cli, fireline_home) -> None:
    path = write(tmp_path / "rb.yaml", TWO_STEPS.replace("second-log", "second-log; echo more"))
    planned = cli("plan", str(path), "--output", "plain")
    lines = planned.out.splitlines()
    headers = re.compile(r"^\[\d/2\]")
    assert " first" in _block_of(lines, "first-log", headers), planned.out


def test_the_live_view_prints_each_steps_output_under_its_own_step(tmp_path: Path, fireline_home: Path) -> None:
    path = write(tmp_path / "rb.yaml", TWO_STEPS)
    with terminal(["run", str(path)], fireline_home) as (proc, master):
        screen = drain(master, proc)
        assert proc.wait(timeout=30) == 0, screen
    # The live table (one row per step, redrawn in place) aside, what scrolls by is the run's record.
    table_row = re.compile(r"^\S\s+(first|second) shell\.run")
    lines = [line for line in plain_lines(screen) if line.strip() and not table_row.match(line)]
    headers = re.compile(r"(first|second)\b")
    for step in ("first", "second"):
        owner = _block_of(lines, f"{step}-log", re.compile(r"^\S+ (first|second)\b"))
        assert headers.search(owner) and step in owner, "\n".join(lines)
    # The outputs stay with the step that computed them.
    assert "first" in _block_of(lines, "enabled = true", re.compile(r"^\S+ (first|second)\b")), "\n".join(lines)


def test_a_steps_duration_is_its_own_time_not_the_wait_for_approval(tmp_path: Path, fireline_home: Path) -> None:
    marker = tmp_path / "changed"
    path = write(tmp_path / "rb.yaml", f"""\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: duration}}
steps:
  - id: change
    action: shell.run
    with: {{argv: [touch, "{marker}"]}}
""")
    waited = 2.0
    with terminal(["run", str(path), "--output", "plain"], fireline_home) as (proc, master):
        screen = read_until(master, "Type 'change'")
        time.sleep(waited)  # the responder reads the change before approving
        os.write(master, b"change\n")
        screen += read_until(master, "Reason")
        os.write(master, b"INC-1 checked\n")
        screen += drain(master, proc)
        assert proc.wait(timeout=30) == 0, screen
    printed = re.search(r"change ok in (\d+)ms", screen)
    assert printed, screen  # under a second: the step itself only touched a file
    run_id = re.search(r"fireline run: .* id (\S+)", screen)
    assert run_id, screen
    events = open_journal().events(run_id.group(1))
    started = next(e for e in events if e.type == ev.STEP_STARTED)
    done = next(e for e in events if e.type == ev.STEP_SUCCEEDED)
    recorded = ev.StepSucceeded.of(done).duration_s
    assert recorded is not None and recorded < waited
    # What was printed and recorded is what the journal's own timestamps say (within scheduling noise on a
    # loaded machine; the wait for the approval was 2 s).
    assert abs(recorded - (done.ts_mono - started.ts_mono)) < 0.25
    assert abs(int(printed.group(1)) / 1000 - recorded) < 0.002
