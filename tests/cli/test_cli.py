from __future__ import annotations

import subprocess
import sys

from runner import __version__


def test_version_and_help(cli) -> None:
    assert cli("--version").out.strip().endswith(__version__)
    result = cli("--help")
    assert result.code == 0
    for command in ("validate", "plan", "run", "approve", "resume", "runs", "lab"):
        assert command in result.out
    assert "Exit codes" in result.out


def test_starting_the_cli_imports_no_heavy_client() -> None:
    code = (
        "import sys; from runner.cli import main; main(['--help']); main(['validate', '--help']);"
        "heavy = [m for m in ('kubernetes', 'psycopg', 'fabric', 'paramiko', 'rich') if m in sys.modules];"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_unknown_command_is_a_usage_error(cli) -> None:
    assert cli("frobnicate").code == 2
