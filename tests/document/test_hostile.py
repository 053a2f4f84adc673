"""Hostile input that validates (or used to): each is a clear user error — at validation with file:line:col
where it can be, else a failed step or a usage error — never an internal error (exit 4), a traceback or a
hang. Each test here failed before the limit it checks existed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import runner
from runner.document.limits import MAX_RETRIES
from runner.document.schemas import load_schema
from runner.document.yamlsource import MAX_DOCUMENT_BYTES
from runner.engine.policies import backoff_delays
from tests.conftest import REPO, write

HEADER = "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: hostile}\n"


def clean(result: Any) -> None:
    """What the user saw is a user error: no traceback, no "internal error", no exit 4."""
    assert result.code in (0, 1, 2, 3), (result.code, result.out, result.err)
    assert "Traceback" not in result.out + result.err
    assert "internal error" not in result.out + result.err


def events(cli: Any, run_id: str) -> list[dict[str, Any]]:
    shown = cli("runs", "show", run_id, "--json")
    assert shown.code == 0, shown.err
    return list(shown.json()["events"])


# --- durations ---------------------------------------------------------------------------------------


def test_a_duration_past_ten_years_is_a_validation_error_at_its_position(tmp_path: Path, cli) -> None:
    path = write(
        tmp_path / "rb.yaml",
        HEADER
        + """\
steps:
  - id: wait
    action: control.sleep
    with: {duration: 99999999999h}
    timeout: 99999999999h
  - id: cmd
    action: shell.run
    with: {argv: ["true"], timeout: 99999999999h}
    retries: {count: 1, delay: 99999999999h}
""",
    )
    result = cli("validate", str(path))
    clean(result)
    assert result.code == 1
    for where in ("7:22: steps[wait].with.duration", "8:14: steps[wait].timeout", "11:37: steps[cmd].with.timeout"):
        assert f"{path}:{where}: duration '99999999999h' is too long: at most 87600h (10 years)" in result.out
    assert f"{path}:12:32: steps[cmd].retries.delay: duration" in result.out
    # The run refuses it too, before anything runs.
    ran = cli("run", str(path))
    clean(ran)
    assert ran.code == 1 and "at most 87600h" in ran.err


def test_a_duration_input_past_the_limit_names_the_input(tmp_path: Path, cli) -> None:
    path = write(
        tmp_path / "rb.yaml",
        HEADER
        + """\
inputs:
  pause: {type: duration, default: 1ms}
steps:
  - id: wait
    action: control.sleep
    with: {duration: "{{ inputs.pause }}"}
""",
    )
    result = cli("run", str(path), "-i", "pause=99999999999h")
    clean(result)
    assert result.code == 2
    assert "input 'pause': duration '99999999999h' is too long: at most 87600h (10 years)" in result.err
    assert "no runs" in cli("runs", "list").out  # refused before a run was recorded


def test_a_default_past_the_limit_is_a_validation_error(tmp_path: Path, cli) -> None:
    path = write(
        tmp_path / "rb.yaml",
        HEADER + "inputs:\n  pause: {type: duration, default: 99999999999h}\nsteps:\n"
        '  - {id: wait, action: control.sleep, with: {duration: "{{ inputs.pause }}"}}\n',
    )
    result = cli("validate", str(path))
    clean(result)
    assert result.code == 1 and f"{path}:5:" in result.out and "at most 87600h" in result.out


def test_a_rendered_duration_past_the_limit_fails_the_step_and_the_journal_says_so(tmp_path: Path, cli) -> None:
    path = write(
        tmp_path / "rb.yaml",
        HEADER
        + """\
steps:
  - id: wait
    action: control.sleep
    with: {duration: "{{ '9' * 11 ~ 'h' }}"}
""",
    )
    result = cli("run", str(path), "--output", "json")
    clean(result)
    assert result.code == 1
    run_id = result.json()["run_id"]
    timeline = events(cli, run_id)
    failed = [e for e in timeline if e["type"] == "step.failed"]
    assert len(failed) == 1 and "at most 87600h" in failed[0]["data"]["error"]
    assert timeline[-1]["type"] == "run.finished" and timeline[-1]["data"]["status"] == "failed"


def test_a_game_day_duration_past_the_limit_is_a_validation_error(tmp_path: Path, cli) -> None:
    source = (REPO / "scenarios").glob("*.yaml")
    scenario = next(p for p in sorted(source) if "duration:" in p.read_text(encoding="utf-8"))
    text = scenario.read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.strip().startswith("duration:"))
    bad = write(tmp_path / "scenarios" / scenario.name, text.replace(line, line.split(":")[0] + ": 99999999999h", 1))
    for runbook in (REPO / "runbooks").glob("*.yaml"):
        write(tmp_path / "runbooks" / runbook.name, runbook.read_text(encoding="utf-8"))
    result = cli("validate", str(bad))
    clean(result)
    assert result.code == 1 and "duration '99999999999h' is too long" in result.out


# --- retries -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [400, 1_000_000_000])
def test_a_retry_count_past_the_maximum_is_refused_at_once(tmp_path: Path, cli, count: int) -> None:
    path = write(
        tmp_path / "rb.yaml",
        HEADER + f'steps:\n  - id: s\n    action: shell.run\n    with: {{argv: ["false"]}}\n'
        f"    retries: {{count: {count}, backoff: 10, delay: 1s}}\n",
    )
    started = time.monotonic()
    result = cli("run", str(path))
    clean(result)
    assert (
        result.code == 1 and f"{path}:8:22: steps[s].retries.count: {count} is out of range (maximum 100)" in result.err
    )
    assert time.monotonic() - started < 10


def test_retries_that_would_wait_for_ages_are_refused(tmp_path: Path, cli) -> None:
    path = write(
        tmp_path / "rb.yaml",
        HEADER + 'steps:\n  - id: s\n    action: shell.run\n    with: {argv: ["false"]}\n'
        "    retries: {count: 100, backoff: 10, delay: 1s}\n",
    )
    result = cli("validate", str(path))
    clean(result)
    assert result.code == 1
    assert f"{path}:8:14: steps[s].retries: these retries would wait more than 87600h (10 years)" in result.out


def test_the_schema_maximum_is_the_one_the_checks_use() -> None:
    retries = load_schema("runbook.schema.json")["$defs"]["retries"]["properties"]
    assert retries["count"]["maximum"] == MAX_RETRIES


def test_backoff_delays_are_computed_lazily_and_capped() -> None:
    started = time.monotonic()
    delays = backoff_delays(1_000_000_000, 1.0, 10.0)  # used to build a list: memory exhausted after 13 s
    assert len(delays) == 1_000_000_000
    assert [delays[0], delays[1], delays[2]] == [1.0, 10.0, 100.0]
    assert delays[399] == delays[-1] == 10 * 365 * 24 * 3600.0  # delay × 10^399 overflowed a float
    assert time.monotonic() - started < 1


# --- numbers on the command line ----------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["99999999999999999999", "0", "-1"])
def test_runs_list_limit_out_of_range_is_a_usage_error(cli, limit: str) -> None:
    result = cli("runs", "list", "--limit", limit)
    clean(result)
    assert result.code == 2 and "--limit" in result.err and "range" in result.err


# --- inputs files -----------------------------------------------------------------------------------

INPUT_RUNBOOK = (
    HEADER
    + """\
inputs:
  name: {type: string, default: x}
steps:
  - id: echo
    action: shell.run
    with: {argv: [echo, "{{ inputs.name }}"]}
"""
)


def test_a_nul_in_an_inputs_file_value_names_the_input(tmp_path: Path, cli) -> None:
    runbook = write(tmp_path / "rb.yaml", INPUT_RUNBOOK)
    inputs = write(tmp_path / "in.yaml", 'name: "a\\0b"\n')
    result = cli("run", str(runbook), "--inputs-file", str(inputs))
    clean(result)
    assert result.code == 2 and "input 'name': contains a NUL character" in result.err
    assert "no runs" in cli("runs", "list").out  # nothing started: no step left "started"


def test_an_alias_bomb_in_an_inputs_file_is_refused_quickly(tmp_path: Path, cli) -> None:
    runbook = write(tmp_path / "rb.yaml", INPUT_RUNBOOK)
    lines = ['a0: &a0 ["lol"]'] + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    inputs = write(tmp_path / "in.yaml", "\n".join(lines) + "\nname: *a9\n")
    started = time.monotonic()
    result = cli("run", str(runbook), "--inputs-file", str(inputs))
    clean(result)
    assert result.code == 2
    assert f"{inputs}:1:1: document expands to more than 100000 values through aliases" in result.err
    assert time.monotonic() - started < 10


def test_a_yaml_error_in_an_inputs_file_has_its_position(tmp_path: Path, cli) -> None:
    runbook = write(tmp_path / "rb.yaml", INPUT_RUNBOOK)
    inputs = write(tmp_path / "in.yaml", "name: [x\n")
    result = cli("run", str(runbook), "--inputs-file", str(inputs))
    clean(result)
    assert result.code == 2 and f"{inputs}:2:1: YAML syntax error" in result.err


def test_a_date_in_an_inputs_file_is_a_clear_type_error(tmp_path: Path, cli) -> None:
    runbook = write(tmp_path / "rb.yaml", INPUT_RUNBOOK)
    inputs = write(tmp_path / "in.yaml", "name: 2024-01-01\n")
    result = cli("run", str(runbook), "--inputs-file", str(inputs))
    clean(result)
    assert result.code == 2 and "input 'name': expected string, got datetime.date(2024, 1, 1)" in result.err


# --- files that are not files --------------------------------------------------------------------------


def fireline(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A separate process with a deadline: should the FIFO block again, the test fails instead of hanging."""
    source = str(Path(runner.__file__).resolve().parent.parent)  # the fireline under test, wherever it is
    env = {**os.environ, "FIRELINE_ACTOR": "responder", "PYTHONPATH": source}
    return subprocess.run(
        [sys.executable, "-m", "runner", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("command", [["validate"], ["run"], ["plan"], ["gameday", "run"]])
def test_a_fifo_is_refused_instead_of_blocking_forever(tmp_path: Path, command: list[str]) -> None:
    fifo = tmp_path / "rb.yaml"
    os.mkfifo(fifo)
    result = fireline(*command, str(fifo), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert f"{fifo}:1:1: cannot read file: it is a named pipe (FIFO)" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_a_fifo_as_inputs_file_is_refused(tmp_path: Path) -> None:
    runbook = write(tmp_path / "rb.yaml", INPUT_RUNBOOK)
    fifo = tmp_path / "in.yaml"
    os.mkfifo(fifo)
    result = fireline("run", str(runbook), "--inputs-file", str(fifo), cwd=tmp_path)
    assert result.returncode == 2 and "named pipe (FIFO)" in result.stderr, result.stderr


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_is_refused(cli, device: str) -> None:
    result = cli("validate", device)
    clean(result)
    assert result.code == 1 and f"{device}:1:1: cannot read file: it is a character device" in result.out


def test_a_file_past_the_size_limit_is_refused_without_reading_it_all(tmp_path: Path, cli) -> None:
    path = tmp_path / "big.yaml"
    with path.open("w", encoding="utf-8") as fh:
        fh.write(HEADER + "notes: |\n")
        line = "  " + "x" * 1000 + "\n"
        for _ in range(MAX_DOCUMENT_BYTES // len(line) + 1):
            fh.write(line)
    result = cli("validate", str(path))
    clean(result)
    assert result.code == 1 and "file is larger than 10 MiB (the limit for every runbook" in result.out


# --- YAML ---------------------------------------------------------------------------------------------


def test_unknown_tags_are_errors_on_sequences_mappings_and_scalars(tmp_path: Path, cli) -> None:
    path = write(
        tmp_path / "rb.yaml",
        HEADER
        + """\
steps:
  - id: a
    action: shell.run
    with: {argv: !!python/object/apply:os.system ["echo pwned"]}
  - id: b
    action: control.assert
    with: !mine {that: "{{ true }}"}
  - id: c
    action: control.assert
    with: {that: !!binary dHJ1ZQ==}
  - id: d
    action: control.assert
    with: {that: !!set {x}}
""",
    )
    result = cli("validate", str(path))
    clean(result)
    assert result.code == 1
    assert f"{path}:7:18: steps[a].with.argv: unsupported tag !!python/object/apply:os.system" in result.out
    assert f"{path}:10:11: steps[b].with: unsupported tag !mine" in result.out
    assert f"{path}:13:18: steps[c].with.that: unsupported tag !!binary" in result.out
    assert f"{path}:16:18: steps[d].with.that: unsupported tag !!set" in result.out
    assert "all valid" not in result.out


def test_a_value_that_is_not_what_its_tag_says_is_an_error(tmp_path: Path, cli) -> None:
    path = write(tmp_path / "rb.yaml", HEADER + "x: !!int abc\ny: 2024-02-30\nsteps: []\n")
    result = cli("validate", str(path))
    clean(result)
    assert f"{path}:4:4: x: 'abc' is not a valid !!int" in result.out
    assert f"{path}:5:4: y: '2024-02-30' is not a valid !!timestamp" in result.out


def test_a_million_plain_values_are_not_called_an_alias_bomb(tmp_path: Path, cli) -> None:
    path = write(tmp_path / "rb.yaml", HEADER + "steps: [" + ", ".join(["1"] * 1_000_000) + "]\n")
    started = time.monotonic()
    result = cli("validate", str(path))
    clean(result)
    assert f"{path}:1:1: document has more than 100000 values (the limit for every runbook" in result.out
    assert "alias" not in result.out
    assert time.monotonic() - started < 10


def test_deep_nesting_and_a_self_referencing_alias_are_refused(tmp_path: Path, cli) -> None:
    deep = write(tmp_path / "deep.yaml", HEADER + "x: " + "[" * 900 + "]" * 900 + "\n")
    loop = write(tmp_path / "loop.yaml", HEADER + "x: &a [*a]\n")
    result = cli("validate", str(deep), str(loop))
    clean(result)
    assert result.code == 1
    assert f"{deep}:4:" in result.out and f"{loop}:4:" in result.out
    assert result.out.count("values nest more than 64 levels deep") == 2
