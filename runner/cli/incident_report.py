"""`fireline incident report ID`: the incident response analysis of one incident (the `incident` group in
runner/cli/incident.py adds this command). Thin: parse, build the report, render, write."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from runner.cli.identity import policy_option
from runner.errors import FirelineError, UsageError

FORMATS = ("text", "md", "html", "json", "pdf")


@click.command("report")
@click.argument("incident_id", metavar="ID")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text (80 columns), md, html (self-contained), json, or pdf (-o FILE or a pipe).")  # fmt: skip
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write the report to FILE (replaced atomically) instead of printing it.")  # fmt: skip
@policy_option
def report(incident_id: str, fmt: str, output: Path | None, policy: str | None) -> int:
    """\b
    The incident response analysis of incident ID, from the journal:
    severity with the criteria that put it there, type, start, resolution and
    duration; summary; timeline; technical investigation (primary cause,
    contributing factors, five whys: the post-mortem file and root-cause
    notes); impact; the communication log (each status update and its
    delivery per channel, or "recorded only"); remediation (runbook steps that
    changed production, then action items due within a week of the end, then
    later ones); post-mortem analysis; action items; metrics (this incident's
    TTD/TTA/TTM/TTR, and over the last 30 days MTTD/MTTA/MTTR, MTBF of its
    systems, count and severity distribution, drills left out).

    \b
    An incident that is not resolved is reported as ONGOING: its durations run
    up to now and say "so far". The post-mortem is read from the path the
    journal last recorded for it, else postmortems/ID.yaml.

    \b
    JSON keys (stable; "schema" is fireline/incident-report/v1): schema, id,
    title, type, status, ongoing, generated_at, drill_of, severity {level,
    title, definition, response_target, update_cadence, assessed, why,
    criteria, changes}, started_at, resolved_at (null while ongoing),
    duration_s (up to generated_at while ongoing), roles, participants,
    summary {title, impact, systems, root_cause, resolution}, timeline [{at,
    source, text, detail}], investigation {primary_cause,
    contributing_factors, five_whys [{why, because}], root_cause_notes},
    impact {user_impact, systems, duration_s, ongoing, criteria,
    users_affected, revenue, tickets, reported}, communications [{at, by,
    shape, status, summary, channels [{channel, delivered (null: recorded
    only), recorded_only, kind, attempts, tries, detail, at}]}], remediation
    {immediate, short_term, long_term}, postmortem (null: none) {path,
    status, problem, went_well, could_be_improved, lessons, renderings},
    action_items [{id, title, owner, due, priority, type, status, overdue}],
    noted_actions, metrics {incident {ttd, tta, ttm, ttr: {seconds,
    so_far_s}}, window {since, until, days, drills_excluded, systems, count,
    open, severity, ttd, tta, ttm, ttr: {count, mean, median, p90}, mtbf,
    corrections, not_counted}, definitions}.
    Times are UTC ISO 8601 with Z; durations are seconds.

    \b
    Exit codes: 0 written; 2 unknown incident, bad arguments or an output
    file that cannot be written.
    """
    from runner.incident.report import build_report
    from runner.incident.report_formats import Format, render
    from runner.journal.store import open_journal
    from runner.policy import policy_in_force

    chosen = Format(fmt)
    if chosen.binary and output is None and sys.stdout.isatty():
        raise UsageError("a PDF is not for a terminal", hint=f"write it to a file: -o {incident_id.strip()}.pdf")
    levels = policy_in_force(policy).severities
    journal = open_journal()
    try:
        built = build_report(journal, incident_id, levels)
    finally:
        journal.close()
    content = render(built, chosen)
    if output is None:
        _print(content, chosen.binary)
        return 0
    _write(output, content)
    click.echo(f"{built.id}: {fmt} report written to {output}")
    return 0


def _print(content: bytes, binary: bool) -> None:
    if binary:
        sys.stdout.flush()
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
    else:
        click.echo(content.decode("utf-8"), nl=False)


def _write(path: Path, content: bytes) -> None:
    from runner.postmortem.document import write_bytes

    if path.is_dir():
        raise UsageError(f"-o {path}: is a directory", hint="give a file name, e.g. -o report.html")
    try:
        write_bytes(path, content)
    except OSError as exc:
        raise FirelineError(f"cannot write {path}: {exc.strerror or exc}") from None
