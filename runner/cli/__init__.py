"""The `fireline` command. Thin: parse, call, render, exit code.

Subcommands are imported only when invoked, so `fireline --help` stays fast and never imports kubernetes,
psycopg or fabric.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import sys
import threading
from typing import Any

import click

from runner import __version__
from runner.outcome import Interrupted, guarded, sigterm_interrupts

# name → (module, attribute, one-line help); the help is here so --help needs no imports.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "validate": ("runner.cli.validate", "validate", "Check runbooks, scenarios, policies, post-mortems."),
    "plan": ("runner.cli.run", "plan", "Dry-run a runbook: what each step would do. Changes nothing."),
    "run": ("runner.cli.run", "run", "Run a runbook step by step, with approval gates."),
    "approve": ("runner.cli.run", "approve", "Approve a paused run's step (from any terminal)."),
    "resume": ("runner.cli.run", "resume", "Continue a paused or interrupted run."),
    "runs": ("runner.cli.runs", "runs", "List runs and show their timelines."),
    "audit": ("runner.cli.audit", "audit", "Verify that the journal is as it was written; list approvals."),
    "gameday": ("runner.cli.gameday", "gameday", "Chaos game days: inject, measure the response, revert."),
    "incident": ("runner.cli.incident", "incident", "Incidents: declare, acknowledge, update, resolve."),
    "postmortem": ("runner.cli.postmortem", "postmortem", "Post-mortems: draft from the journal, check, render."),
    "actions": ("runner.cli.actions", "actions", "Action items from incidents: add, list, update, sync."),
    "lab": ("runner.cli.lab", "lab", "The local practice lab: an emulated Kubernetes cluster."),
    "demo": ("runner.cli.demo", "demo", "Run the demo on a throwaway lab and PostgreSQL."),
    "import": ("runner.cli.importing", "importing", "Turn Chaos Toolkit experiments into game-day scenarios."),
    "runbook": ("runner.cli.runbook", "runbook", "Start a new runbook from a skeleton for a kind of incident."),
}

# Set by the console-script entry point: this process exists only for one fireline command.
OWN_PROCESS = threading.Event()
# Commands that say themselves what an interruption left behind (a run recorded or not): when one of them
# is interrupted without saying so, it had not recorded anything yet.
EXPLAINS_INTERRUPTIONS = frozenset({"run", "plan"})



EXIT_CODES = """\b
Exit codes:
  0  success (valid / run succeeded / plan done)
  1  invalid runbook, or the run failed
  2  usage error (bad arguments or inputs)
  3  paused: waiting for an approval or a decision
  4  internal error (a bug in fireline)
  130 interrupted (Ctrl-C)"""


class LazyGroup(click.Group):
    # The command being run (None until the command line names one), for the message on an interruption.
    resolved: str | None = None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        self.resolved = name
        module, attr, _ = COMMANDS[name]
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_) for name, (_, _, help_) in COMMANDS.items()])


@click.group(cls=LazyGroup, epilog=EXIT_CODES, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fireline")
def cli() -> None:
    """fireline runs incident runbooks and chaos game days: validated YAML steps, dry-run, approval gates
    and a durable journal."""


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (testable without a subprocess)."""
    if OWN_PROCESS.is_set():  # the process ends with the command, and its journals with it
        return _main(argv)
    opened_before = _open_journals()
    try:
        return _main(argv)
    finally:
        for journal in _open_journals() - opened_before:
            with contextlib.suppress(Exception):
                journal.close()


def _open_journals() -> frozenset[Any]:
    """The journals open in this process (none when the journal was never imported: --help stays light)."""
    store = sys.modules.get("runner.journal.store")
    return store.open_journals() if store is not None else frozenset()


def _main(argv: list[str] | None) -> int:
    cli.resolved = None
    return guarded(lambda: _click_main(argv), _interrupted, click.echo)


def _click_main(argv: list[str] | None) -> int:
    try:
        result = cli.main(args=argv, prog_name="fireline", standalone_mode=False)
        return int(result or 0)
    except click.exceptions.Abort as exc:
        if not isinstance(exc.__cause__, Interrupted):
            click.echo(_interrupted(), err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return 2
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)


def _interrupted() -> str:
    if cli.resolved is None or cli.resolved in EXPLAINS_INTERRUPTIONS:
        return "interrupted before anything was started: nothing was recorded, nothing was changed"
    return "interrupted"


def run_main() -> Any:
    # First of all: SIGTERM (a cancelled CI job, a stopped pod) stops fireline the way Ctrl-C does, with the
    # same cleanup and the same account of what was left behind, from the first instruction on.
    signal.signal(signal.SIGTERM, sigterm_interrupts)
    OWN_PROCESS.set()
    sys.exit(main())
