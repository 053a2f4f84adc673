"""`fireline validate` on game-day scenarios: every independent mistake reported at once, each at its
file:line:col with the path in the document and a hint; the shipped scenarios are valid."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, Cli, write

CliRunner = Callable[..., Cli]

# Seven independent mistakes; the line numbers below are the lines of this text.
SEVEN_MISTAKES = """\
apiVersion: fireline/v1
kind: GameDay
metadata:
  name: seven-mistakes
  titel: Seven independent mistakes
connections:
  db: {type: postgres, dsn: "postgresql://app@127.0.0.1/app"}
  host: {type: ssh, hosts: [127.0.0.1], user: drill}
steady_state:
  interval: 5 seconds
  probes:
    - id: health
      probe: http.gett
      with: {url: "http://127.0.0.1:8080/health"}
faults:
  - id: leak
    action: postgres.hold_connections
    with: {connection: db, count: many}
  - id: burn-cpu
    action: ssh.run
    with: {connection: host, argv: [stress, --cpu, "2"]}
    # no revert: the mistake
detection:
  - alert: {connection: alertmanager, name: PostgresTooManyConnections}
response:
  mode: runbook
  runbook: ../runbooks/does-not-exist.yaml
"""

EXPECTED = [  # (line, col, path in the document, what is said)
    (5, 3, "metadata.titel", "unknown field 'titel' (hint: did you mean 'title'?)"),
    (10, 13, "steady_state.interval", "expected a duration such as 60s or 5m, got '5 seconds' (hint: a number"),
    (13, 14, "steady_state.probes[health].probe", "'http.gett' is not one of: http.get,"),
    (18, 35, "faults[leak].with.count", "expected an integer, got 'many'"),
    (19, 5, "faults[burn-cpu]", "an ssh.run fault needs a revert command (hint: add revert:"),
    (24, 25, "detection[0].alert.connection", "unknown connection 'alertmanager'"),
    (27, 12, "response.runbook", "response runbook ../runbooks/does-not-exist.yaml does not exist "
                                 "(hint: paths are relative to the scenario file)"),
]


def test_every_mistake_with_its_position(tmp_path: Path, cli: CliRunner) -> None:
    path = write(tmp_path / "drills" / "bad.yaml", SEVEN_MISTAKES)
    result = cli("validate", str(path))
    assert result.code == 1
    lines = [line for line in result.out.splitlines() if line.startswith(f"{path}:")]
    assert len(lines) == len(EXPECTED), result.out
    for line, (lineno, col, where, text) in zip(lines, EXPECTED, strict=True):
        assert line.startswith(f"{path}:{lineno}:{col}: {where}: "), line
        assert text in line, line
    assert "did you mean 'http.get'?" in lines[2]
    assert f"1 file(s) checked: 1 invalid, {len(EXPECTED)} error(s)" in result.out
    assert "Traceback" not in result.out + result.err


def test_each_mistake_alone_is_found_alone(tmp_path: Path, cli: CliRunner) -> None:
    """Independence: with every other mistake fixed, each one is still found, alone and at the same place."""
    fixes = {  # mistake's line → (line to change, the fix); no fix changes the number of lines
        5: (5, "  title: Seven independent mistakes"),
        10: (10, "  interval: 5s"),
        13: (13, "      probe: http.get"),
        18: (18, "    with: {connection: db, count: 5}"),
        19: (22, "    revert: {connection: host, argv: [pkill, stress]}"),
        24: (24, "  - steady_state_violated: true"),
        27: (27, "  runbook: ../runbook.yaml"),
    }
    assert sorted(fixes) == [line for line, *_ in EXPECTED]
    original = SEVEN_MISTAKES.splitlines()
    write(tmp_path / "runbook.yaml",
          (REPO / "runbooks" / "db-connection-exhaustion.yaml").read_text(encoding="utf-8"))

    def variant(name: str, keep: int | None) -> Path:
        lines = list(original)
        for mistake, (lineno, text) in fixes.items():
            if mistake != keep:
                lines[lineno - 1] = text
        return write(tmp_path / "drills" / name, "\n".join(lines) + "\n")

    fixed = variant("fixed.yaml", None)
    clean = cli("validate", str(fixed))
    assert clean.code == 0, clean.out
    for lineno, col, where, text in EXPECTED:
        one = variant(f"only-{lineno}.yaml", lineno)
        result = cli("validate", str(one))
        found = [line for line in result.out.splitlines() if line.startswith(f"{one}:")]
        assert result.code == 1 and len(found) == 1, result.out
        assert found[0].startswith(f"{one}:{lineno}:{col}: {where}: ") and text in found[0], found[0]


@pytest.mark.parametrize("scenario", sorted((REPO / "scenarios").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_validate(scenario: Path, cli: CliRunner) -> None:
    result = cli("validate", str(scenario))
    assert result.code == 0, result.out + result.err
    assert "all valid" in result.out


def test_shipped_scenarios_validate_as_a_directory(cli: CliRunner) -> None:
    result = cli("validate", str(REPO / "scenarios"))
    assert result.code == 0, result.out
    assert "3 file(s) checked: all valid" in result.out


REVERTS = """\
apiVersion: fireline/v1
kind: GameDay
metadata: {name: reverts}
connections:
  db: {type: postgres, dsn: "postgresql://app@127.0.0.1/app"}
  host: {type: ssh, hosts: [127.0.0.1], user: drill}
steady_state:
  interval: 5s
  probes:
    - {id: db, probe: postgres.query, with: {connection: db, sql: "SELECT 1"}}
faults:
  - id: kill
    action: postgres.terminate_backends
    with: {connection: db}
    revert: {connection: db}
  - id: burn-cpu
    action: ssh.run
    with: {connection: host, argv: [stress, --cpu, "2"]}
    revert: {argv: 42}
detection:
  - steady_state_violated: true
response: {mode: manual}
"""


def test_only_a_fault_that_declares_its_revert_takes_revert(tmp_path: Path, cli: CliRunner) -> None:
    """A fault that undoes itself refuses `revert:`; the revert of one that needs it is checked as that
    action's parameters, at the revert."""
    path = write(tmp_path / "reverts.yaml", REVERTS)
    result = cli("validate", str(path))
    assert result.code == 1, result.out
    lines = [line for line in result.out.splitlines() if line.startswith(f"{path}:")]
    assert len(lines) == 2, result.out
    assert "faults[kill].revert: postgres.terminate_backends knows its own revert (hint: remove revert:)" in lines[0]
    assert "faults[burn-cpu].revert.argv" in lines[1], lines[1]
    assert "Traceback" not in result.out + result.err


SHELL_FAULT = """\
apiVersion: fireline/v1
kind: GameDay
metadata: {name: shell-fault}
inputs:
  marker: {type: string, required: true}
steady_state:
  probes:
    - {id: up, probe: shell.run, with: {argv: ["true"]}}
faults:
  - id: no-revert
    action: shell.run
    with: {argv: [touch, "{{ inputs.marker }}"]}
  - id: bad-revert
    action: shell.run
    with: {command: "touch {{ inputs.marker }}"}
    revert: {command: "rm '{{ inputs.marker }}' {{ inputs.nope }}"}
  - id: good
    action: shell.run
    with: {command: "touch {{ inputs.marker }}", timeout: 5s}
    revert: {argv: [rm, -f, "{{ inputs.marker }}"]}
detection:
  - steady_state_violated: true
response: {mode: manual}
"""


def test_a_shell_fault_needs_a_revert_checked_like_its_command(tmp_path: Path, cli: CliRunner) -> None:
    """shell.run as a fault: a revert is required, and it is rendered like `with`, so its templates are
    checked the same way (known names, plain shell words); an argv revert replaces a command fault's line."""
    path = write(tmp_path / "shell.yaml", SHELL_FAULT)
    result = cli("validate", str(path))
    assert result.code == 1, result.out
    lines = [line for line in result.out.splitlines() if line.startswith(f"{path}:")]
    assert len(lines) == 3, result.out
    assert "faults[no-revert]: an shell.run fault needs a revert command" in lines[0]
    assert "faults[bad-revert].revert.command" in lines[1] and "quote" in lines[1], lines[1]
    assert "faults[bad-revert].revert.command" in lines[2] and "nope" in lines[2], lines[2]
    assert "faults[good]" not in result.out


def test_a_probe_named_by_a_list_is_a_validation_error_not_a_crash(tmp_path: Path, cli: CliRunner) -> None:
    path = write(
        tmp_path / "drills" / "list-probe.yaml",
        SEVEN_MISTAKES.replace("probe: http.gett", "probe: [http.get, http.post]"),
    )
    result = cli("validate", str(path))
    assert result.code == 1, result.err
    assert "steady_state.probes[health].probe" in result.out + result.err
    assert "Traceback" not in result.err
