"""`fireline incident timeline ID` and `fireline incident brief ID`: read-only views of an incident (the
`incident` group in runner/cli/incident.py adds them)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from runner.cli.identity import policy_option


@click.command()
@click.argument("incident_id", metavar="ID")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@click.option("--tz", "tz_name", metavar="ZONE", help="Show times in this IANA zone (e.g. Europe/Paris); default UTC.")
def timeline(incident_id: str, fmt: str, tz_name: str | None) -> int:
    """Everything that happened to incident ID, in order, with full dates: its own events (declaration,
    milestones and corrections, status updates as sent, notes, roles) and those of the runs, plans and game
    days linked to it (steps, approvals with who, outputs' summaries)."""
    from runner.incident.timeline import as_json, collect, markdown, zone
    from runner.journal.store import open_journal

    tz = zone(tz_name)  # an unknown zone is refused before the journal is opened
    found = collect(open_journal(), incident_id, tz)
    if fmt == "json":
        click.echo(json.dumps(as_json(found), indent=2, ensure_ascii=False, default=str))
    else:
        click.echo(markdown(found), nl=False)
    return 0


@click.command()
@click.argument("incident_id", metavar="ID")
@click.option(
    "--runbooks",
    "places",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    metavar="DIR",
    help="Where to look for runbooks (repeatable; default ./runbooks).",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@policy_option
def brief(incident_id: str, places: tuple[Path, ...], fmt: str, policy: str | None) -> int:
    """The responder's one-screen guide to incident ID: its severity as the policy defines it, immediate
    actions (done or still to do), investigation steps, the runbooks that match it with the command that runs
    each linked to the incident, and the communication plan (cadence, channels, next update due)."""
    from runner.incident import brief as guide
    from runner.incident.store import incident_events
    from runner.incident.view import fold
    from runner.journal.store import open_journal
    from runner.policy import policy_in_force

    levels = policy_in_force(policy).severities
    events = incident_events(open_journal(), incident_id.strip().upper())
    default = Path("runbooks")
    shelf = guide.find_runbooks(list(places) or ([default] if default.is_dir() else []))
    incident, notes = fold(events), guide.notes_of(events)
    result = guide.build(incident, notes, levels, shelf)
    if fmt == "json":
        every = guide.match(incident, notes, shelf)
        click.echo(json.dumps(guide.as_json(result, every), indent=2, ensure_ascii=False))
    else:
        click.echo(guide.text(result), nl=False)
    return 0
