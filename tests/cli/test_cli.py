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


HEAVY = ("kubernetes", "psycopg", "fabric", "paramiko", "rich", "aiohttp", "fpdf", "aiosmtpd", "jsonschema")


def test_starting_the_cli_imports_no_heavy_client() -> None:
    """The intake's HTTP server, the PDF writer and the SMTP library load only for the command that uses them."""
    code = (
        "import sys; from runner.cli import main\n"
        "for args in (['--help'], ['validate', '--help'], ['incident', '--help'], ['incident', 'intake', '--help'],"
        " ['incident', 'update', '--help'], ['incident', 'report', '--help'], ['postmortem', 'render', '--help'],"
        " ['actions', '--help'], ['runbook', 'new', '--help']):\n"
        "    main(args)\n"
        f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_validate_says_it_checks_policies_and_post_mortems_too(cli) -> None:
    for shown in (cli("--help").out, cli("validate", "--help").out):
        line = " ".join(shown.split())
        assert "policies" in line and "post-mortems" in line, shown


def test_unknown_command_is_a_usage_error(cli) -> None:
    assert cli("frobnicate").code == 2


def test_commands_run_in_process_close_the_journals_they_opened(cli, pg_db: str, monkeypatch) -> None:
    """An embedding process (a test, a tool that calls runner.cli.main) keeps no server connection per call."""
    import psycopg

    monkeypatch.setenv("FIRELINE_STORE", pg_db)

    def fireline_connections() -> int:
        with psycopg.connect(pg_db, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert row is not None
        return int(row[0])

    cli("runs", "list")
    before = fireline_connections()
    for _ in range(5):
        assert cli("runs", "list").code == 0
        assert cli("incident", "list").code == 0
    assert fireline_connections() == before
