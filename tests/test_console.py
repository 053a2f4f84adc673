"""The console script runs `fireline validate PATH... [--format F]` without click, and says exactly what the
click command says: the same bytes on stdout and stderr and the same exit code; every other command line
goes to click."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner.console import validate_request

from .command import FIRELINE

REPO = Path(__file__).resolve().parents[1]
VALID = REPO / "runbooks" / "db-connection-exhaustion.yaml"
INVALID = (
    "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: broken, title: Broken}\n"
    "steps:\n  - id: wait\n    action: control.sleep\n    with: {duration: soon}\n"
)
WITH_WARNING = (  # a loop only a failure can leave: valid, with a warning
    "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: loop, title: Loop}\n"
    "steps:\n"
    "  - id: a\n    action: control.assert\n    with: {that: true}\n    on_failure: goto:b\n"
    "  - id: b\n    action: control.assert\n    with: {that: true}\n    on_failure: goto:a\n"
)
# The click application, as the console script started it before it ran validate itself.
CLICK = [sys.executable, "-c", "import sys\nsys.argv[0] = 'fireline'\nfrom runner.cli import run_main\nrun_main()\n"]


def _files(tmp_path: Path) -> Path:
    (tmp_path / "bad.yaml").write_text(INVALID, encoding="utf-8")
    (tmp_path / "warn.yaml").write_text(WITH_WARNING, encoding="utf-8")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.yaml").write_text(INVALID, encoding="utf-8")
    (tmp_path / "docs" / "b.yml").write_text(VALID.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "none").mkdir()
    return tmp_path


def _run(command: list[str], tmp_path: Path, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / f"cache-{command is CLICK}"),
           "FIRELINE_HOME": str(tmp_path / "home")}
    done = subprocess.run([*command, *args], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("args", [
    ("validate", str(VALID)),
    ("validate", "bad.yaml"),
    ("validate", "warn.yaml"),
    ("validate", "warn.yaml", "--format", "json"),
    ("validate", "--format=junit", "bad.yaml", "warn.yaml"),
    ("validate", "docs", "bad.yaml", "--format", "text"),
    ("validate", "missing.yaml"),
    ("validate", "none"),
    ("validate", "none", "--format", "json"),
    ("validate", ""),
])  # fmt: skip
def test_validate_says_what_the_click_command_says(tmp_path: Path, args: tuple[str, ...]) -> None:
    _files(tmp_path)
    assert validate_request(list(args)) is not None  # this shape is run without click
    for _ in range(2):  # the second time from the result cache
        assert _run(FIRELINE, tmp_path, *args) == _run(CLICK, tmp_path, *args)


def test_validate_runs_without_click(tmp_path: Path) -> None:
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write('CLICK' if 'click' in sys.modules else 'NO CLICK'))\n"
        f"sys.argv = ['fireline', 'validate', {str(VALID)!r}]\n"
        "from runner.console import main\nmain()\n"
    )
    code, out, err = _run([sys.executable, "-c", probe], tmp_path)
    assert (code, err) == (0, "NO CLICK")
    assert "all valid" in out


@pytest.mark.parametrize("args", [
    (), ("--help",), ("validate",), ("validate", "--help"), ("validate", "-h", "x.yaml"), ("validate", "--", "x"),
    ("validate", "--format", "xml", "x.yaml"), ("validate", "x.yaml", "--format"),
    ("validate", "--format", "json", "--format", "text", "x.yaml"), ("validate", "--strict", "x.yaml"),
    ("run", "x.yaml"), ("validat", "x.yaml"),
])  # fmt: skip
def test_every_other_command_line_goes_to_click(args: tuple[str, ...]) -> None:
    assert validate_request(list(args)) is None


def test_any_other_command_line_is_answered_by_click(tmp_path: Path) -> None:
    code, out, err = _run(FIRELINE, tmp_path, "validate", "--format", "xml", "x.yaml")
    assert code == 2
    assert "Invalid value for '--format'" in err
    assert (code, out, err) == _run(CLICK, tmp_path, "validate", "--format", "xml", "x.yaml")
