"""`fireline incident metrics`: time to detect, acknowledge, mitigate and resolve, and MTBF per service, from
the journal's incident index; `--explain ID` shows which event set each milestone of one incident.

Thin: parse, call runner.incident.metrics, render, exit code. The `incident` group adds this command.
"""

from __future__ import annotations

import json
import re
import textwrap
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from runner.errors import UsageError

if TYPE_CHECKING:
    from runner.incident.metrics import Facts, PeriodRow, Selection, Stats, Summary
    from runner.incident.view import Incident, MilestoneTime

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@click.command("metrics")
@click.option("--since", metavar="TIME", help="Incidents that started at or after: 2026-11-01 (UTC) or RFC 3339.")
@click.option("--until", metavar="TIME", help="Incidents that started before: 2026-12-01 (UTC) or RFC 3339.")
@click.option("--period", type=click.Choice(["week", "month", "quarter"]), help="One row per period (UTC).")
@click.option("--service", metavar="NAME", help="Only incidents that affected this system.")
@click.option("--severity", metavar="SEVn", help="Only incidents of this severity (as it is now).")
@click.option("--include-drills", is_flag=True, help="Count drill incidents (game days) too.")
@click.option("--explain", "explain_id", metavar="ID", help="Which event set each milestone of one incident.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def metrics(
    since: str | None,
    until: str | None,
    period: str | None,
    service: str | None,
    severity: str | None,
    include_drills: bool,
    explain_id: str | None,
    fmt: str,
) -> int:
    """Count, severities, and TTD/TTA/TTM/TTR (mean, median, p90) over the incidents that started in the
    window, plus MTBF per service. Every interval starts at `started` (impact start): TTD = detected −
    started, TTA = acknowledged − started, TTM = mitigated − started, TTR = resolved − started; corrected
    milestones count at their corrected time, and the report lists them."""
    if explain_id is not None:
        given = [n for n, v in (("--since", since), ("--until", until), ("--period", period), ("--service", service),
                                ("--severity", severity)) if v is not None]  # fmt: skip
        if given or include_drills:
            raise UsageError(f"--explain shows one incident: leave out {', '.join(given) or '--include-drills'}")
        return _explain(explain_id, fmt)
    from runner.incident import metrics as m
    from runner.incident.model import Severity, parse_enum
    from runner.journal.store import open_journal

    selection = m.Selection(
        since=_bound(since, "--since"),
        until=_bound(until, "--until"),
        service=_service(service),
        severity=parse_enum(Severity, severity, "severity") if severity is not None else None,
        include_drills=include_drills,
    )
    if selection.since and selection.until and selection.until <= selection.since:
        raise UsageError(f"--until ({m.iso(selection.until)}) is not after --since ({m.iso(selection.since)})")
    journal = open_journal()
    try:
        rows_read = journal.incidents()
    finally:
        journal.close()
    chosen = m.select((m.facts_of_row(row) for row in rows_read), selection)
    total = m.summarize(chosen, selection.service)
    rows = m.by_period(chosen, m.Period(period), selection) if period else None
    if fmt == "json":
        _echo_json(_report_json(selection, total, rows))
    else:
        _print_report(journal.location, selection, total, rows)
    return 0


def _bound(text: str | None, what: str) -> datetime | None:
    """A window bound: a date (midnight UTC) or an RFC 3339 time with a zone."""
    if text is None:
        return None
    cleaned = text.strip()
    if _DATE.match(cleaned):
        try:
            return datetime.fromisoformat(cleaned).replace(tzinfo=UTC)
        except ValueError:
            raise UsageError(f"{what}: {cleaned!r} is not a date") from None
    from runner.templatetime import parse_time

    try:
        return parse_time(cleaned).moment.astimezone(UTC)
    except (ValueError, TypeError) as exc:
        raise UsageError(
            f"{what}: {str(exc).removeprefix('parse_time(): ')}",
            hint="write a date such as 2026-11-01 (midnight UTC) or a time such as 2026-11-01T09:00:00Z",
        ) from None


def _service(text: str | None) -> str | None:
    if text is None:
        return None
    cleaned = text.strip()
    if not cleaned or len(cleaned) > 100 or any(ord(c) < 32 for c in cleaned):
        raise UsageError(f"--service {cleaned[:40]!r} is not a system name (one line, at most 100 characters)")
    return cleaned


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


# -- the report --------------------------------------------------------------------------------------------------
def _report_json(selection: Selection, total: Summary, rows: list[PeriodRow] | None) -> dict[str, Any]:
    from runner.incident import metrics as m

    report: dict[str, Any] = {
        "definitions": dict(m.DEFINITIONS),
        "window": {"since": m.iso(selection.since), "until": m.iso(selection.until)},
        "filters": {
            "service": selection.service,
            "severity": str(selection.severity) if selection.severity else None,
            "include_drills": selection.include_drills,
        },
        **m.summary_json(total),
    }
    if rows is not None:
        report["periods"] = [
            {"period": r.label, "start": m.iso(r.start), "end": m.iso(r.end), **m.summary_json(r.summary)} for r in rows
        ]
    return report


def _print_report(location: str, selection: Selection, total: Summary, rows: list[PeriodRow] | None) -> None:
    from runner.incident import metrics as m

    click.echo(f"Incidents {_window(selection)}{_filters(selection)}")
    if total.count == 0:
        click.echo(f"  none in the journal at {location}")
    else:
        severities = "  ".join(f"{s} {n}" for s, n in total.severities.items())
        counted = f"{total.count} incident{'s' if total.count > 1 else ''}"
        click.echo(f"  {counted} ({total.open} not resolved)   {severities}")
        click.echo("")
        click.echo(f"  {'':<22}{'count':>6}  {'mean':>9}  {'median':>9}  {'p90':>9}")
        for which, s in total.intervals.items():
            _print_stats(which.long_name, s)
        if total.mtbf:
            click.echo("")
            click.echo("  MTBF per service (from one outage's resolution to the next one's start)")
            for service, s in total.mtbf.items():
                _print_stats(service, s)
    if rows is not None:
        _print_periods(rows)
    _print_corrections(total)
    click.echo("")
    definitions = (
        "Every interval starts at started (impact start): TTD = detected - started, TTA = acknowledged - "
        "started, TTM = mitigated - started, TTR = resolved - started (resolved incidents only). "
        f"p90: nearest rank. MTBF {m.DEFINITIONS['mtbf']}."
    )
    click.echo(textwrap.fill(definitions, width=110))


def _print_stats(label: str, s: Stats) -> None:
    click.echo(f"  {label:<22}{s.count:>6}  {_s(s.mean):>9}  {_s(s.median):>9}  {_s(s.p90):>9}")


def _print_periods(rows: list[PeriodRow]) -> None:
    click.echo("")
    click.echo(f"  {'period':<9}{'count':>6}{'open':>5}  {'SEV1/2/3/4':<11}  each: mean (median, p90)")
    for row in rows:
        s = row.summary
        spread = "/".join(str(n) for n in s.severities.values())
        cells = "  ".join(f"{which.name} {_cell(st)}" for which, st in s.intervals.items())
        click.echo(f"  {row.label:<9}{s.count:>6}{s.open:>5}  {spread:<11}  {cells}")


_SHOWN = 10  # corrections and uncounted intervals listed in the table (JSON lists them all)


def _print_corrections(total: Summary) -> None:
    from runner.incident import metrics as m

    if total.corrections:
        click.echo("")
        click.echo(f"  Corrected milestones used ({len(total.corrections)}):")
        for c in total.corrections[:_SHOWN]:
            was = f"recorded {m.iso(c.recorded)}" if c.recorded else "not recorded"
            click.echo(f"    {c.incident} {c.milestone}: {m.iso(c.corrected)} ({was})")
        _more(len(total.corrections))
    if total.anomalies:
        click.echo("")
        click.echo(f"  Not counted: {len(total.anomalies)} interval(s) ending before the incident started:")
        for a in total.anomalies[:_SHOWN]:
            click.echo(f"    {a.incident} {a.interval.name} = -{_s(-a.seconds)} (see `fireline incident metrics "
                       f"--explain {a.incident}`, then `fireline incident correct`)")  # fmt: skip
        _more(len(total.anomalies))


def _more(count: int) -> None:
    if count > _SHOWN:
        click.echo(f"    … and {count - _SHOWN} more (--format json lists them all)")


def _window(selection: Selection) -> str:
    from runner.incident import metrics as m

    if selection.since is None and selection.until is None:
        return "of all time"
    since = f"from {m.iso(selection.since)}" if selection.since else ""
    until = f"before {m.iso(selection.until)}" if selection.until else ""
    return f"started {' '.join(p for p in (since, until) if p)}"


def _filters(selection: Selection) -> str:
    parts = [f"service {selection.service}"] if selection.service else []
    parts += [str(selection.severity)] if selection.severity else []
    parts.append("drills included" if selection.include_drills else "drills left out")
    return f" ({', '.join(parts)})"


def _s(seconds: float | None) -> str:
    from runner.incident.times import span

    return "-" if seconds is None else span(seconds)


def _cell(s: Stats) -> str:
    return "-" if s.count == 0 else f"{_s(s.mean)} ({_s(s.median)}, {_s(s.p90)})"


# -- --explain ---------------------------------------------------------------------------------------------------
def _explain(incident_id: str, fmt: str) -> int:
    from runner.incident import metrics as m
    from runner.incident.model import Milestone
    from runner.incident.store import load
    from runner.incident.view import parse_utc
    from runner.journal.store import open_journal

    journal = open_journal()
    try:
        incident = load(journal, incident_id)
    finally:
        journal.close()
    facts = m.facts_of(incident)
    if fmt == "json":
        _echo_json(_explain_json(incident, facts))
        return 0
    click.echo(f"{incident.id}: {incident.title} ({incident.severity}, {incident.type}, {incident.status})")
    for name, reached in incident.milestones.items():
        click.echo(f"  {name:<13} {m.iso(reached.at)}  {_set_by(reached)}")
        fix = reached.correction
        if fix is not None:
            was = m.iso(parse_utc(fix.old or "")) or "not recorded"
            click.echo(f"  {'':<13} corrected by event #{fix.seq} (incident.corrected) by {fix.by or '?'}: "
                       f"{was} -> {m.iso(reached.at)}; reason: {fix.reason or '-'}")  # fmt: skip
    missing = [str(n) for n in Milestone if n not in incident.milestones]
    if missing:
        click.echo(f"  not reached: {', '.join(missing)}")
    for which in m.Interval:
        seconds = facts.interval(which)
        value = _s(seconds) if seconds is None or seconds >= 0 else f"-{_s(-seconds)} (not counted)"
        click.echo(f"  {which.name} = {which.end} - started = {value}{_why_none(facts, which, seconds)}")
    if facts.is_drill:
        click.echo("  a drill: counted only with --include-drills")
    return 0


def _set_by(reached: MilestoneTime) -> str:
    if reached.source == "correction":
        return f"set by event #{reached.seq} (incident.corrected), never recorded before"
    from runner.incident import metrics as m

    return (
        f"set by event #{reached.seq} (incident.milestone, source: {reached.source or '?'}) by "
        f"{reached.actor or '?'}, recorded {m.iso(reached.recorded)}"
    )


def _why_none(facts: Facts, which: Any, seconds: float | None) -> str:
    if seconds is not None:
        return ""
    from runner.incident.metrics import Interval

    if which is Interval.TTR and not facts.resolved:
        return " (not resolved: no TTR)"
    return " (milestone not reached)"


def _explain_json(incident: Incident, facts: Facts) -> dict[str, Any]:
    from runner.incident import events as iev
    from runner.incident import metrics as m

    milestones: dict[str, Any] = {}
    for name, reached in incident.milestones.items():
        fix = reached.correction
        milestones[str(name)] = {
            "at": m.iso(reached.at),
            "set_by": {
                "seq": reached.seq,
                "type": iev.CORRECTED if reached.source == "correction" else iev.MILESTONE,
                "source": reached.source,
                "actor": reached.actor,
                "recorded": m.iso(reached.recorded),
            },
            "correction": None
            if fix is None
            else {"seq": fix.seq, "old": fix.old, "new": fix.new, "reason": fix.reason, "by": fix.by},
        }
    return {
        "incident": incident.id,
        "title": incident.title,
        "severity": str(incident.severity),
        "type": str(incident.type),
        "status": str(incident.status),
        "drill": facts.is_drill,
        "milestones": milestones,
        "intervals": {str(i): facts.interval(i) for i in m.Interval},
        "definitions": dict(m.DEFINITIONS),
    }
