"""`fireline incident rehearse ID`: draft a game-day scenario from an incident (the `incident` group in
runner/cli/incident.py adds it)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("incident_id", metavar="ID")
@click.option("-o", "--output", "output", type=click.Path(path_type=Path), metavar="FILE",
              help="Where to write the scenario (default scenarios/rehearse-ID.yaml).")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def rehearse(incident_id: str, output: Path | None, force: bool) -> int:
    """Draft a game-day scenario that practises incident ID again: the checks that would have seen it, a
    fault that reproduces what the mitigation undid (TODO where none matches), the response runbook that was
    used and objectives from the incident's measured times. Validate it, fill in the TODOs, then run it with
    `fireline gameday run FILE`."""
    from runner.incident import rehearse as rh
    from runner.journal.store import open_journal

    evidence = rh.gather(open_journal(), incident_id)
    path = output or rh.default_path(evidence.incident.id)
    written = rh.write(rh.draft(evidence, path), path, force)
    click.echo(f"{'replaced' if written.replaced else 'wrote'} {path}: a game day rehearsing {evidence.incident.id}")
    for todo in written.draft.todos:
        click.echo(f"  TODO: {todo}")
    for note in written.draft.notes:
        click.echo(f"  note: {note}")
    click.echo(f"next: fireline validate {path}  then  fireline gameday run {path}")
    return 0
