"""`fireline runbook new`: runbook skeletons."""

from __future__ import annotations

from pathlib import Path

import click

from runner.scaffold.new import Kind  # light: the kinds are the templates' names


@click.group()
def runbook() -> None:
    """Runbooks: start a new one from a skeleton."""


@runbook.command()
@click.argument("name")
@click.option("--type", "kind", type=click.Choice([k.value for k in Kind]), required=True,
              help="The kind of incident the runbook answers.")
@click.option("-o", "--output", type=click.Path(path_type=Path), metavar="FILE",
              help="Where to write it (default runbooks/NAME.yaml).")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def new(name: str, kind: str, output: Path | None, force: bool) -> int:
    """Write a runbook skeleton NAME for a kind of incident: symptoms, investigation steps that only read,
    quick fixes behind approvals, status updates and prevention notes. It validates as it is and plans once
    given its inputs (-i NAME=VALUE, as its header says); make it yours, then `fireline validate` and
    `fireline plan` it."""
    from runner.scaffold.new import check_name, default_path, write

    path = output or default_path(check_name(name))
    replaced = write(Kind(kind), name, path, force)
    click.echo(f"{'replaced' if replaced else 'wrote'} {path}: a runbook skeleton for {kind} incidents")
    click.echo(f"next: fill in the TODOs, then  fireline validate {path}  and  fireline plan {path} -i ...")
    return 0
