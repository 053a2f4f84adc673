"""`fireline validate` checks what templates read from an action's result against the shape the action
declares (runner/document/results.py): a typo is found before the flag is flipped, not after."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import write

HEADER = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: results}
connections:
  flags: {type: flagd, path: flags.json}
  db: {type: postgres, dsn: "postgresql://app@127.0.0.1/app"}
  box: {type: ssh, hosts: [127.0.0.1]}
  prom: {type: prometheus, url: "http://127.0.0.1:9090"}
steps:
"""


def errors(cli: Any, tmp_path: Path, steps: str) -> tuple[int, list[str]]:
    path = write(tmp_path / "rb.yaml", HEADER + steps)
    result = cli("validate", str(path))
    assert "Traceback" not in result.out + result.err
    lines = [line.removeprefix(f"{path}:") for line in result.out.splitlines() if line.startswith(str(path))]
    return result.code, lines


def test_a_result_typo_on_a_flag_flip_is_a_validation_error_with_a_did_you_mean(tmp_path: Path, cli: Any) -> None:
    code, lines = errors(
        cli,
        tmp_path,
        """\
  - id: flip
    action: flags.set
    with: {connection: flags, flag: checkout, enabled: false}
    outputs:
      was: "{{ result.previus }}"
""",
    )
    assert code == 1
    assert lines == [
        "14:23: steps[flip].outputs.was: the result of flags.set has no field 'previus' "
        "(hint: did you mean 'previous'?)"
    ]


def test_fields_inside_the_result_are_checked_too(tmp_path: Path, cli: Any) -> None:
    code, lines = errors(
        cli,
        tmp_path,
        """\
  - id: flip
    action: flags.set
    with: {connection: flags, flag: checkout, enabled: false}
    outputs:
      was: "{{ result.previous.enabld }}"
  - id: fleet
    action: ssh.run
    with: {connection: box, argv: [uptime]}
    read_only: true
    outputs:
      first: "{{ result.hosts[0].stdot }}"
      later: "{{ steps.flip.result.current.enabld }}"
""",
    )
    assert code == 1
    assert any("steps[flip].outputs.was: result.previous (of flags.set) has no field 'enabld'" in x for x in lines)
    assert any("steps[fleet].outputs.first: result.hosts[0] (of ssh.run) has no field 'stdot'" in x for x in lines)
    assert any("steps[fleet].outputs.later: result.current (of flags.set) has no field 'enabld'" in x for x in lines)
    assert len(lines) == 3, lines


def test_every_place_that_reads_the_result_is_checked(tmp_path: Path, cli: Any) -> None:
    """retries.until and verify read the step's result; a verify's own retries.until reads the verify's;
    a deferred expectation (expect.that) reads its own action's answer."""
    code, lines = errors(
        cli,
        tmp_path,
        """\
  - id: count
    action: postgres.query
    with: {connection: db, sql: "SELECT 1 AS one"}
    retries: {count: 2, until: "{{ result.row_cont > 0 }}"}
    verify:
      action: shell.run
      with: {argv: [echo, "{{ result.colums }}"]}
      retries: {count: 1, until: "{{ result.exit_cod == 0 }}"}
  - id: rate
    action: prometheus.wait
    with: {connection: prom, query: up, expect: {that: "{{ result.seres | length > 0 }}"}}
""",
    )
    assert code == 1
    wanted = [
        ("steps[count].retries.until", "the result of postgres.query has no field 'row_cont'", "row_count"),
        ("steps[count].verify.with.argv[1]", "the result of postgres.query has no field 'colums'", "columns"),
        ("steps[count].verify.retries.until", "the result of shell.run has no field 'exit_cod'", "exit_code"),
        ("steps[rate].with.expect.that", "the result of prometheus.wait has no field 'seres'", "series"),
    ]
    for where, message, meant in wanted:
        assert any(f" {where}: {message} (hint: did you mean '{meant}'?)" in x for x in lines), (where, lines)
    assert len(lines) == len(wanted), lines


def test_what_the_shape_leaves_open_is_not_judged(tmp_path: Path, cli: Any) -> None:
    """Rows of a query have the query's columns; kubernetes.get has the fields the step asks for; a string's
    methods are not fields; a mapping may be read with get()."""
    code, lines = errors(
        cli,
        tmp_path,
        """\
  - id: count
    action: postgres.query
    with: {connection: db, sql: "SELECT 1 AS one"}
    outputs:
      one: "{{ result.rows[0].one }}"
      n: "{{ result.rows | length }}"
  - id: run
    action: shell.run
    with: {argv: [hostname]}
    read_only: true
    outputs:
      name: "{{ result.stdout.strip() }}"
      code: "{{ result.get('exit_code') }}"
""",
    )
    assert (code, lines) == (0, [])


SCENARIO = """\
apiVersion: fireline/v1
kind: GameDay
metadata: {name: probes}
connections:
  prom: {type: prometheus, url: "http://127.0.0.1:9090"}
steady_state:
  interval: 1s
  probes:
    - id: rate
      probe: prometheus.query
      with: {connection: prom, query: up}
      expect: {that: "{{ result.seres | length > 0 and value > 0 }}"}
faults:
  - {id: nap, action: shell.run, with: {argv: [sleep, "1"]}, revert: {argv: ["true"]}}
detection:
  - steady_state_violated: true
response: {mode: manual}
"""


def test_a_game_day_probe_expectation_is_checked_against_its_result(tmp_path: Path, cli: Any) -> None:
    path = write(tmp_path / "gd.yaml", SCENARIO)
    result = cli("validate", str(path))
    assert result.code == 1
    assert result.out.splitlines()[0] == (
        f"{path}:12:33: steady_state.probes[rate].expect.that: the result of prometheus.query has no field 'seres' "
        "(hint: did you mean 'series'?)"
    )
    fixed = cli("validate", str(write(tmp_path / "ok.yaml", SCENARIO.replace("seres", "series"))))
    assert fixed.code == 0, fixed.out
