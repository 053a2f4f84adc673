"""`fireline gameday run|ack|note|recover|report|history|schedule`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from runner.cli.identity import key_option, policy_option
from runner.errors import UsageError
from runner.journal.store import open_journal


def _known(journal: Any, gameday_id: str) -> str:
    from runner.gameday.response import resolve

    return resolve(journal, gameday_id)


@click.group()
def gameday() -> None:
    """Chaos game days: inject faults, measure the response, always revert."""


@gameday.command("run")
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False))
@click.option("-i", "--input", "input_pairs", multiple=True, metavar="KEY=VALUE")
@click.option("--as", "actor", metavar="NAME")
@click.option(
    "--report",
    "report_format",
    type=click.Choice(["html", "md", "json", "none"]),
    default="html",
    show_default=True,
    help="Write a report into $FIRELINE_HOME/reports when done.",
)
def run(scenario: str, input_pairs: tuple[str, ...], actor: str | None, report_format: str) -> int:
    """Run SCENARIO: check the steady state, inject the faults, watch, respond, recover, revert, report."""
    from runner.gameday.session import new_gameday_id
    from runner.gameday.signals import Terminated, terminate_raises

    journal = open_journal()
    gameday_id = new_gameday_id()
    # SIGTERM raises like Ctrl-C for the whole command: the game day itself reverts and records on either, and
    # before or after it (loading the scenario, writing the report) the command still says where it stood.
    with terminate_raises():
        try:
            return _run_and_report(Path(scenario), input_pairs, actor, report_format, journal, gameday_id)
        except (KeyboardInterrupt, Terminated) as exc:
            click.echo(_where_it_stood(journal, gameday_id, "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"),
                       err=True)
            return 130


def _run_and_report(
    scenario: Path, input_pairs: tuple[str, ...], actor: str | None, report_format: str, journal: Any, gameday_id: str
) -> int:
    from runner.cli.render import PlainReporter
    from runner.document.gameday import load_gameday
    from runner.engine.inputs import parse_assignments
    from runner.engine.session import current_actor
    from runner.gameday.output import metric_lines
    from runner.gameday.session import run_gameday

    inputs = parse_assignments(input_pairs)
    result = run_gameday(
        scenario, inputs, current_actor(actor), journal, sys.stdout, gameday_id=gameday_id, reporter=PlainReporter
    )
    interval = load_gameday(scenario).interval
    click.echo(
        f"\ngame day {result.gameday_id}: {result.status.upper()}" + (f" ({result.message})" if result.message else "")
    )
    for line in metric_lines(result.metrics, interval):
        click.echo(line)
    if result.incident:
        click.echo(f"drill incident: {result.incident} (fireline incident show {result.incident})")
    if report_format != "none":
        path = write_report(journal, result.gameday_id, report_format)
        click.echo(f"report: {path}")
    if result.trace:
        _report_bug(result.message, result.trace)
    return result.exit_code


def _where_it_stood(journal: Any, gameday_id: str, what: str) -> str:
    """What an interruption outside the game day proper left behind, from the journal."""
    from runner.gameday import events as gev

    events = journal.events(gameday_id, (gev.GAMEDAY_STARTED, gev.FINISHED))
    finished = [e for e in events if e.type == gev.FINISHED]
    if not events:
        return f"interrupted ({what}) before the game day started: nothing was injected or recorded"
    if finished:
        status = gev.GameDayFinished.of(finished[0]).status
        return (
            f"interrupted ({what}) after game day {gameday_id} finished ({status}): "
            f"see `fireline gameday report {gameday_id}`"
        )
    return f"interrupted ({what}): faults may still be injected; run `fireline gameday recover {gameday_id}`"


def _report_bug(message: str, trace: str) -> None:
    """A bug stopped the game day (its faults were reverted all the same): said as the bug it is, exit 4."""
    if os.environ.get("FIRELINE_DEBUG"):
        click.echo(trace.rstrip(), err=True)
    click.echo(f"internal error (this is a bug in fireline or a plugin, not a finding of the game day): {message}",
               err=True)
    if not os.environ.get("FIRELINE_DEBUG"):
        click.echo("  set FIRELINE_DEBUG=1 to see the traceback", err=True)


def write_report(journal: Any, gameday_id: str, fmt: str) -> Path:
    from runner.journal.store import fireline_home
    from runner.report import render

    out = fireline_home() / "reports" / f"{gameday_id}.{fmt}"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(journal.events(gameday_id), fmt), encoding="utf-8")
    return out


@gameday.command()
@click.argument("gameday_id")
@click.option("--as", "actor", metavar="NAME", help="Who acknowledges (needed unless identities are verified by key).")
@key_option
@policy_option
def ack(gameday_id: str, actor: str | None, key: str | None, policy: str | None) -> int:
    """Acknowledge a running game day's incident (starts the time-to-acknowledge clock's stop). With an
    allowed-signers file the acknowledgement is signed with your SSH key."""
    from runner.gameday import events as gev

    journal = open_journal()
    full = _known(journal, gameday_id)
    who = _acknowledger(journal, full, actor, key, policy)
    journal.append(full, gev.ACKNOWLEDGED, actor=who, data=gev.GameDayAcknowledged("ack").to_data(), durable=True)
    click.echo(f"acknowledged game day {full} as {who}")
    return 0


def _acknowledger(journal: Any, gameday_id: str, actor: str | None, key: str | None, policy: str | None) -> str:
    """Who acknowledges: a typed name, or the principal a signed acknowledgement verifies to (recorded)."""
    from runner.cli.identity import signing
    from runner.engine.identities import record_signed, sign_act
    from runner.engine.session import current_actor
    from runner.gameday import events as gev
    from runner.identity.statement import Act

    trust, key_path = signing(actor, key, policy)
    if trust is None or key_path is None:
        if actor is None:
            raise UsageError("--as NAME is needed: who acknowledges", hint="or sign it: see README, Signed approvals")
        return current_actor(actor)
    started = journal.events(gameday_id, (gev.GAMEDAY_STARTED,))
    digest = gev.GameDayStarted.of(started[0]).digest if started else ""
    signed = sign_act(trust, key_path, Act.ACKNOWLEDGE, gameday_id, digest, "", "gameday ack")
    record_signed(journal, gameday_id, Act.ACKNOWLEDGE, signed)
    return signed.principal


@gameday.command()
@click.argument("gameday_id")
@click.argument("text")
@click.option("--as", "actor", metavar="NAME")
def note(gameday_id: str, text: str, actor: str | None) -> int:
    """Record an observation in a game day's timeline (the game day's secrets are masked)."""
    from runner.engine.session import current_actor
    from runner.gameday.session import add_note

    journal = open_journal()
    full = _known(journal, gameday_id)
    add_note(full, text, current_actor(actor), journal)
    click.echo(f"noted in game day {full}")
    return 0


@gameday.command()
@click.argument("gameday_id")
@click.option("--as", "actor", metavar="NAME")
def recover(gameday_id: str, actor: str | None) -> int:
    """Revert whatever the journal says is still injected (after the game day process died). Refuses while
    the game day's process still runs: it reverts its faults itself."""
    from runner.engine.session import current_actor
    from runner.gameday.session import recover as do_recover
    from runner.journal.lease import hold

    journal = open_journal()
    full, who = _known(journal, gameday_id), current_actor(actor)
    hint = (
        "stop it with Ctrl-C or SIGTERM (kill PID): it reverts its faults itself; `recover` is for a game day "
        "whose process died"
    )
    with hold(journal, full, who, what="game day", busy_hint=hint):
        do_recover(full, who, journal, sys.stdout)
    return 0


@gameday.command()
@click.argument("gameday_id")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "json"]), default="md", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to a file instead of stdout.")
def report(gameday_id: str, fmt: str, output: str | None) -> int:
    """The report of one game day: metrics against objectives and the timeline."""
    from runner.report import render

    journal = open_journal()
    text = render(journal.events(_known(journal, gameday_id)), fmt)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text)
    return 0


@gameday.command()
@click.option("--scenario", help="Only this scenario (metadata.name).")
def history(scenario: str | None) -> int:
    """Past game days with their metrics, and whether each got better or worse than the run before."""
    from runner.gameday.history import history as rows
    from runner.gameday.history import render_history

    click.echo(render_history(rows(open_journal(), scenario)))
    return 0


@gameday.command()
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False))
@click.option("--emit", type=click.Choice(["cronjob"]), default="cronjob", show_default=True)
@click.option("--image", default="ghcr.io/fireline/fireline:latest", show_default=True)
@click.option("--namespace", default="default", show_default=True)
@click.option("--service-account", default="fireline", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the manifest here (default stdout).")
def schedule(scenario: str, emit: str, image: str, namespace: str, service_account: str, output: str | None) -> int:
    """Emit a Kubernetes CronJob that runs SCENARIO on metadata.schedule (concurrencyPolicy: Forbid)."""
    from runner.document.gameday import load_gameday
    from runner.gameday.schedule import cronjob_manifest, to_yaml

    gd = load_gameday(Path(scenario))
    cron = gd.metadata.get("schedule")
    if not cron:
        raise UsageError(f"{scenario} has no metadata.schedule", hint='add e.g. schedule: "0 14 * * 3"')
    manifest = cronjob_manifest(
        Path(scenario),
        name=gd.name,
        schedule=str(cron),
        image=image,
        namespace=namespace,
        service_account=service_account,
    )
    text = to_yaml(manifest)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)
    return 0
