"""Schema errors in the user's terms (runner/document/schemas.py): what is expected, said as a runbook author
would write it, and a parameter written beside `action:` is sent under `with:`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import write

RUNBOOK = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: types}
connections:
  db: {type: postgres, dsn: "postgresql://app@127.0.0.1/app"}
  cluster: {type: kubernetes, context: lab}
steps:
  - id: trim
    action: postgres.execute
    with: {connection: db, sql: "DELETE FROM sessions WHERE expired", idempotent: "yes"}
    max_rows: 100
    timeout: 60
  - id: scale
    action: kubernetes.scale
    with: {connection: cluster, deployment: api, replicas: "3", wait: "true"}
    retries: {count: 2, delay: 5 seconds}
    on_failure: retry
"""


def test_type_errors_say_what_to_write(tmp_path: Path, cli: Any) -> None:
    path = write(tmp_path / "rb.yaml", RUNBOOK)
    result = cli("validate", str(path))
    assert result.code == 1
    lines = [line.removeprefix(f"{path}:") for line in result.out.splitlines() if line.startswith(str(path))]
    assert lines == [
        "10:83: steps[trim].with.idempotent: expected true or false, got 'yes' "
        "(hint: write true or false, without quotes)",
        "11:5: steps[trim].max_rows: 'max_rows' is a parameter of postgres.execute: put it under 'with:'",
        "12:14: steps[trim].timeout: expected a duration such as 60s or 5m, got 60 "
        "(hint: say which unit: 60s for seconds, 60m for minutes)",
        "15:60: steps[scale].with.replicas: expected an integer, got '3' (hint: write the number without quotes)",
        "15:71: steps[scale].with.wait: expected true or false, got 'true' (hint: write true or false, without quotes)",
        "16:32: steps[scale].retries.delay: expected a duration such as 60s or 5m, got '5 seconds' "
        "(hint: a number and a unit (ms, s, m, h), e.g. 500ms, 30s, 5m, 1h or 1h30m)",
        "17:17: steps[scale].on_failure: 'retry' is not a failure policy "
        "(hint: use abort, continue, rollback or goto:<step id>)",
    ]


def test_an_unknown_step_field_that_is_no_parameter_still_gets_a_did_you_mean(tmp_path: Path, cli: Any) -> None:
    path = write(
        tmp_path / "rb.yaml",
        RUNBOOK.split("  - id: scale")[0].replace("    max_rows: 100\n", "    timout: 5m\n").replace("60", "1m"),
    )
    result = cli("validate", str(path))
    assert result.code == 1
    assert "steps[trim].timout: unknown field 'timout' (hint: did you mean 'timeout'?)" in result.out


# --- parameter schemas are looked up by action name: a name that is no family's file name is no action ---

ODD_FAULT = """\
apiVersion: fireline/v1
kind: GameDay
metadata: {name: odd-fault, title: Odd fault, hypothesis: Nothing breaks}
steady_state:
  interval: 1s
  probes:
    - {id: up, probe: shell.run, with: {argv: ["true"]}}
faults:
  - {id: odd, action: "ACTION", with: {}, duration: 1m}
detection:
  - steady_state_violated: true
response: {mode: manual, timeout: 1m}
"""


def test_a_name_that_is_no_file_name_has_no_schema(tmp_path: Path) -> None:
    from runner.document.schemas import action_schema

    elsewhere = write(tmp_path / "elsewhere.json", '{"$defs": {"y": {"type": "object"}}}')
    for action in ("x" * 300 + ".y", f"{elsewhere.with_suffix('')}.y", "a/b.c"):
        assert action_schema(action) is None, action


def test_a_game_day_fault_with_a_huge_name_is_a_validation_error(tmp_path: Path, cli: Any) -> None:
    path = write(tmp_path / "odd.yaml", ODD_FAULT.replace("ACTION", "x" * 300 + ".y"))
    result = cli("validate", str(path))
    assert result.code == 1, result.out + result.err
    assert "faults[odd].action" in result.out and "internal error" not in result.out + result.err


SHORTHANDS = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: shorthands}
inputs:
  keep: {type: integer, default: 1, minimum: "0"}
steps:
  - id: wait
    action: control.sleep
    with: {duration: 1s}
    approval: yes
    retries: 3
    when: true
"""


def test_a_mapping_or_an_expression_written_as_a_plain_value_says_what_it_takes(tmp_path: Path, cli: Any) -> None:
    path = write(tmp_path / "rb.yaml", SHORTHANDS)
    result = cli("validate", str(path))
    assert result.code == 1, result.err  # a bound written as text is reported, not an internal error
    lines = [line.removeprefix(f"{path}:") for line in result.out.splitlines() if line.startswith(str(path))]
    assert len(lines) == 4, lines
    assert lines[0] == "5:46: inputs.keep.minimum: expected a number, got '0' (hint: write the number without quotes)"
    assert lines[1].startswith(
        "10:15: steps[wait].approval: expected a mapping, got true (hint: write a mapping with its fields (required, "
    )
    assert lines[2] == (
        "11:14: steps[wait].retries: expected a mapping, got 3 "
        "(hint: write a mapping with its fields (count, delay, backoff, until), e.g. {count: ...})"
    )
    assert lines[3] == "12:11: steps[wait].when: expected an expression such as {{ steps.check.outputs.ok }}, got true"
