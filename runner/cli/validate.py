"""`fireline validate PATH...`: the command line of runner/validating.py."""

from __future__ import annotations

import click

from runner.validating import FORMATS, report


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
def validate(paths: tuple[str, ...], fmt: str) -> int:
    """Check runbooks, game-day scenarios, incident policies and post-mortems (files or directories,
    *.yaml/*.yml recursively).

    Reports every problem at once as file:line:col: path: message (hint). Exit 0 when all are valid,
    1 when any is invalid, 2 on usage errors."""
    from runner.cli import OWN_PROCESS

    return report(paths, fmt, click.echo, own_process=OWN_PROCESS.is_set())
