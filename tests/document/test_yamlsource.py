"""Where a problem is (runner/document/yamlsource.py): paths name list items by their id, and a problem
inside a multi-line value points at the line of the offending text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import write

RUNBOOK = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: paths}
steps:
  - id: pause
    action: control.sleep
    with: {duration: 1s}
  - id: restart-api
    action: control.sleep
    with: {duration: 1s}
    timeout: 5 minutes
  - id: twin
    action: control.sleep
    with: {duration: 1s}
  - id: twin
    action: control.sleep
    with: {duration: 1s}
    retries: {count: 500}
"""


def test_paths_name_steps_by_id(tmp_path: Path, cli: Any) -> None:
    path = write(tmp_path / "rb.yaml", RUNBOOK)
    result = cli("validate", str(path))
    assert result.code == 1
    assert f"{path}:11:14: steps[restart-api].timeout: expected a duration such as 60s or 5m" in result.out
    # Two steps with the same id are told apart by position.
    assert f"{path}:15:9: steps[3].id: duplicate step id 'twin' (first used at line 12)" in result.out
    assert f"{path}:18:22: steps[3].retries.count: 500 is out of range" in result.out


SCENARIO = """\
apiVersion: fireline/v1
kind: GameDay
metadata: {name: paths}
connections:
  db: {type: postgres, dsn: "postgresql://app@127.0.0.1/app"}
steady_state:
  interval: 1s
  probes:
    - id: checkout-ok
      probe: http.get
      with: {url: "http://127.0.0.1:9/health", timeout: 60}
faults:
  - id: exhaust
    action: postgres.hold_connections
    with: {connection: db, count: many}
detection:
  - steady_state_violated: true
response: {mode: manual}
"""


def test_game_day_paths_name_probes_and_faults_by_id(tmp_path: Path, cli: Any) -> None:
    path = write(tmp_path / "gd.yaml", SCENARIO)
    result = cli("validate", str(path))
    assert result.code == 1
    assert "steady_state.probes[checkout-ok].with.timeout: expected a duration such as 60s or 5m, got 60" in result.out
    assert f"{path}:15:35: faults[exhaust].with.count: expected an integer, got 'many'" in result.out


BLOCKS = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: blocks}
inputs:
  service: {type: string, default: api}
steps:
  - id: look
    action: shell.run
    with: {argv: [echo, hi]}
    read_only: true
    when: >-
      {{ inputs.service == 'api'
         and inputs.servce != '' }}
    outputs:
      summary: |
        first line
        {{ result.stdot }}
      broken: |
        fine
        {{ result.stdout + }}
"""


def test_a_problem_inside_a_block_scalar_points_at_its_line_not_the_indicator(tmp_path: Path, cli: Any) -> None:
    path = write(tmp_path / "rb.yaml", BLOCKS)
    result = cli("validate", str(path))
    assert result.code == 1
    lines = [line.removeprefix(f"{path}:") for line in result.out.splitlines() if line.startswith(str(path))]
    assert lines == [
        "13:21: steps[look].when: inputs.servce is not declared (hint: did you mean 'service'?)",
        "17:19: steps[look].outputs.summary: the result of shell.run has no field 'stdot' "
        "(hint: did you mean 'stdout'?)",
        "20:9: steps[look].outputs.broken: template syntax error: unexpected 'end of print statement' "
        "(hint: templates look like {{ inputs.name }})",
    ]
