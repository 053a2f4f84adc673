"""`fireline demo`: a game day on a throwaway lab, from a fresh clone, in one command."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

SCENARIOS = Path(__file__).resolve().parent.parent.parent / "scenarios"


@click.command()
@click.option(
    "--scenario",
    type=click.Path(exists=True, dir_okay=False),
    default=str(SCENARIOS / "checkout-db-exhaustion.yaml"),
    show_default=True,
)
def demo(scenario: str) -> int:
    """Start a throwaway lab (emulated cluster, PostgreSQL, the checkout service), run a game day whose
    response is an automated runbook, revert, print the measured response and the report, stop everything."""
    from runner.cli.gameday import write_report
    from runner.cli.render import PlainReporter
    from runner.document.gameday import load_gameday
    from runner.engine.session import current_actor
    from runner.gameday.output import metric_lines
    from runner.gameday.session import run_gameday
    from runner.journal.store import open_journal
    from runner.lab.environment import DemoEnvironment

    click.echo("starting the lab: PostgreSQL, the emulated Kubernetes cluster and the checkout service ...")
    with DemoEnvironment() as lab:
        os.environ.update(lab.environment())
        click.echo(f"  checkout service {lab.service_url}  (health depends on PostgreSQL and the cluster)")
        click.echo(f"  kubectl --kubeconfig {lab.kubeconfig} get deploy -n demo\n")
        journal = open_journal()
        result = run_gameday(
            Path(scenario), {"service_url": lab.service_url}, current_actor(None), journal, sys.stdout,
            reporter=PlainReporter,
        )
        report = write_report(journal, result.gameday_id, "html")
    click.echo(
        f"\ngame day {result.gameday_id}: {result.status.upper()}" + (f" ({result.message})" if result.message else "")
    )
    for line in metric_lines(result.metrics, load_gameday(Path(scenario)).interval):
        click.echo(line)
    click.echo(f"\nHTML report: {report}")
    click.echo(f"timeline:    fireline gameday report {result.gameday_id}")
    if result.incident:
        click.echo(f"incident:    {result.incident} (drill): fireline incident show {result.incident}")
    click.echo("the lab was stopped and removed.")
    return result.exit_code
