"""Patterns written by people run in linear time: a pattern that would backtrack forever cannot hang a run."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path
from typing import Any

from runner.patterns import finds, pattern_problem
from tests.command import FIRELINE

# With Python's backtracking engine this pattern takes 2**n steps on n a's followed by a mismatch.
CATASTROPHIC = "^(a+)+$"


def test_a_catastrophic_pattern_is_answered_at_once() -> None:
    assert finds(CATASTROPHIC, "a" * 30) is True
    assert finds(CATASTROPHIC, "a" * 100_000 + "!") is False


def test_backtracking_features_are_refused_with_the_reason() -> None:
    problem = pattern_problem(r"(a)\1")
    assert problem is not None and "not a usable regular expression" in problem
    assert pattern_problem(r"^[a-z0-9-]{1,63}$") is None


def _runbook(tmp_path: Path, pattern: str) -> Path:
    path = tmp_path / "rb.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            apiVersion: fireline/v1
            kind: Runbook
            metadata: {{name: pattern-input}}
            inputs:
              name: {{type: string, pattern: '{pattern}'}}
            steps:
              - id: say
                action: control.assert
                with: {{that: "{{{{ inputs.name != '' }}}}"}}
            """
        )
    )
    return path


def test_an_input_against_a_catastrophic_pattern_is_refused_without_hanging(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("FIRELINE_HOME", str(tmp_path / "home"))
    runbook = _runbook(tmp_path, CATASTROPHIC)
    # Under a backtracking engine this input would keep the process busy for longer than the universe's age.
    hostile = "a" * 5000 + "!"
    done = subprocess.run(
        [*FIRELINE, "run", str(runbook), "-i", f"name={hostile}"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert "does not match" in done.stderr
    assert "Traceback" not in done.stderr


def test_validate_names_a_pattern_that_needs_backtracking(cli: Any, tmp_path: Path) -> None:
    runbook = _runbook(tmp_path, r"(a)\1")
    result = cli("validate", str(runbook))
    assert result.code == 1
    assert "not a usable regular expression" in result.out + result.err
    assert "re2.cc" not in result.out + result.err  # the library's own log line never reaches the user
