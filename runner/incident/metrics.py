"""Incident metrics: how long detection, acknowledgement, mitigation and resolution took, and how long each
service ran between failures — computed from recorded milestones, never from times typed into a report.

Definitions (also printed with every report, and in the README):

- every interval starts at `started`, the impact start: TTD = detected − started, TTA = acknowledged −
  started, TTM = mitigated − started, TTR = resolved − started;
- a milestone's time is its first recorded one unless `incident correct` changed it: the correction counts,
  and the report lists every corrected time it used;
- an incident that is not resolved (still open, or reopened) contributes no TTR: it is not counted as
  resolved, and no interval of it grows with the clock;
- an interval that ends before `started` is not counted, and the report names it so it can be corrected;
- MTBF per service: the time from the end of one outage of the service to the start of the next one, where
  an outage runs from an incident's `started` to its `resolved` and overlapping incidents are one outage; an
  outage not resolved yet has no end, so nothing after it is counted;
- median: the middle value (the mean of the two middle ones for an even count); p90: the nearest-rank 90th
  percentile (the smallest value that at least 90% of the values are at or below);
- an incident belongs to the window (`--since`, `--until`) and the period in which it started; drills (type
  drill, opened by game days) are left out unless asked for.

Pure functions over `Facts` (what the metrics need of one incident), so every number can be tested exactly;
`facts_of_row` and `facts_of` make them from the store's incident index and from the incident view.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from runner.errors import UsageError
from runner.incident.model import FINISHED, IncidentType, Milestone, Severity
from runner.incident.view import Incident, MilestoneTime, parse_utc
from runner.journal.incidents import IncidentRow


class Interval(StrEnum):
    TTD = "ttd"
    TTA = "tta"
    TTM = "ttm"
    TTR = "ttr"

    @property
    def end(self) -> Milestone:
        return _ENDS[self]

    @property
    def long_name(self) -> str:
        return _TITLES[self]


_ENDS = {
    Interval.TTD: Milestone.DETECTED,
    Interval.TTA: Milestone.ACKNOWLEDGED,
    Interval.TTM: Milestone.MITIGATED,
    Interval.TTR: Milestone.RESOLVED,
}
_TITLES = {
    Interval.TTD: "time to detect",
    Interval.TTA: "time to acknowledge",
    Interval.TTM: "time to mitigate",
    Interval.TTR: "time to resolve",
}

DEFINITIONS: Mapping[str, str] = {
    "ttd": "time to detect = detected - started",
    "tta": "time to acknowledge = acknowledged - started",
    "ttm": "time to mitigate = mitigated - started",
    "ttr": "time to resolve = resolved - started (resolved incidents only; an open one has no TTR)",
    "started": "impact start, as declared (--started-at) or corrected",
    "corrections": "a milestone corrected with `incident correct` counts at its corrected time",
    "mtbf": "per service: from the end of one outage (resolved) to the start of the next (started); "
    "overlapping incidents are one outage",
    "median": "the middle value (mean of the two middle ones for an even count)",
    "p90": "nearest-rank 90th percentile",
    "window": "an incident counts in the window and period in which it started (UTC)",
}


class Period(StrEnum):
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"


# -- what the metrics need of one incident -------------------------------------------------------------------------
@dataclass(frozen=True)
class Corrected:
    """A milestone time the report used that came from a correction."""

    incident: str
    milestone: Milestone
    recorded: datetime | None  # the time recorded before (None: it had not been)
    corrected: datetime


class Facts(NamedTuple):
    """What the metrics need of one incident, its intervals worked out once. A named tuple rather than a
    dataclass: a report makes one per incident in the store's history, tens of thousands, and a tuple is
    built several times faster. Made by `make_facts`, `facts_of_row` or `facts_of`."""

    id: str
    severity: Severity
    type: IncidentType
    systems: tuple[str, ...]
    resolved: bool  # resolved or closed: it has (at most) a TTR and an outage end
    started: datetime | None
    resolved_at: datetime | None  # None while it is not resolved (reopened included)
    seconds: tuple[float | None, ...]  # TTD, TTA, TTM, TTR in Interval order; None: not known
    corrections: tuple[Corrected, ...] = ()

    @property
    def is_drill(self) -> bool:
        return self.type is IncidentType.DRILL

    def interval(self, which: Interval) -> float | None:
        """Seconds from `started` to the interval's end milestone; None when either is not known (or, for TTR,
        when the incident is not resolved)."""
        return self.seconds[_POSITION[which]]


_POSITION = {which: index for index, which in enumerate(Interval)}


def make_facts(
    incident_id: str,
    severity: Severity,
    type_: IncidentType,
    systems: tuple[str, ...],
    resolved: bool,
    times: Mapping[Milestone, datetime],
    corrections: tuple[Corrected, ...] = (),
) -> Facts:
    """Facts from each milestone's time in effect (`times`)."""
    return _facts(incident_id, severity, type_, systems, resolved, [times.get(m) for m in Milestone], corrections)


def _facts(
    incident_id: str,
    severity: Severity,
    type_: IncidentType,
    systems: tuple[str, ...],
    resolved: bool,
    times: list[datetime | None],  # in Milestone order: started, detected, acknowledged, mitigated, resolved
    corrections: tuple[Corrected, ...],
) -> Facts:
    started, resolved_at = times[0], times[4] if resolved else None
    seconds = tuple(
        None if started is None or end is None else (end - started).total_seconds()
        for end in (times[1], times[2], times[3], resolved_at)
    )
    return Facts(incident_id, severity, type_, systems, resolved, started, resolved_at, seconds, corrections)


def facts_of_row(row: IncidentRow) -> Facts:
    """Facts from the store's incident index (runner.journal.incidents), read as the view reads events."""
    times = [_utc(fixed or first) for first, fixed in zip(row.reached, row.corrected, strict=True)]
    corrections = () if not any(row.corrected) else tuple(
        Corrected(row.id, milestone, _utc(first), moment)
        for milestone, first, fixed, moment in zip(Milestone, row.reached, row.corrected, times, strict=True)
        if fixed and moment is not None
    )  # fmt: skip
    return _facts(
        row.id,
        _SEVERITIES.get(row.severity, Severity.SEV1),
        _TYPES.get(row.type, IncidentType.AVAILABILITY),
        row.systems,
        row.status in _FINISHED,
        times,
        corrections,
    )


def facts_of(incident: Incident) -> Facts:
    """Facts from the incident view (one incident folded from its events)."""
    corrections = tuple(
        Corrected(incident.id, name, _replaced(reached), reached.at)
        for name, reached in sorted(incident.milestones.items(), key=lambda item: _ORDER[item[0]])
        if reached.correction is not None
    )
    times = {name: reached.at for name, reached in incident.milestones.items()}
    return make_facts(
        incident.id, incident.severity, incident.type, incident.systems, incident.finished, times, corrections
    )


def _replaced(reached: MilestoneTime) -> datetime | None:
    """The time a correction replaced: None when the milestone had not been recorded before it."""
    fix = reached.correction
    if fix is None or fix.seq == reached.seq:
        return None
    return parse_utc(fix.old or "")


def _utc(text: str | None) -> datetime | None:
    """A time from the index, which keeps them in one UTC shape: read directly (metrics read tens of thousands
    of them), by the view's reader for anything else."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return parse_utc(text)
    return moment if moment.tzinfo is UTC else parse_utc(text)


# Lookups by value: the same members as the enums' own, without an enum call per value.
_SEVERITIES = {s.value: s for s in Severity}
_TYPES = {t.value: t for t in IncidentType}
_FINISHED = frozenset(str(s) for s in FINISHED)
_ORDER = {m: index for index, m in enumerate(Milestone)}


# -- selecting incidents ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Selection:
    since: datetime | None = None  # started at or after
    until: datetime | None = None  # started before
    service: str | None = None  # among the incident's systems
    severity: Severity | None = None  # its severity now (after any change)
    include_drills: bool = False


def select(facts: Iterable[Facts], selection: Selection) -> list[Facts]:
    """The incidents the report is about, ordered by start (those without a known start last, by id)."""
    chosen = [f for f in facts if _chosen(f, selection)]
    return sorted(chosen, key=lambda f: (f.started is None, f.started or _EPOCH, f.id))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST = datetime.min.replace(tzinfo=UTC)  # nothing starts before it: a window ending there holds nothing


def _chosen(f: Facts, selection: Selection) -> bool:
    if f.is_drill and not selection.include_drills:
        return False
    if selection.service is not None and selection.service not in f.systems:
        return False
    if selection.severity is not None and f.severity is not selection.severity:
        return False
    if selection.since is None and selection.until is None:
        return True
    start = f.started
    if start is None:  # a window asks about starts: one that is not known is in none
        return False
    return (selection.since is None or start >= selection.since) and (
        selection.until is None or start < selection.until
    )


# -- statistics ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stats:
    count: int
    mean: float | None
    median: float | None
    p90: float | None


def stats(values: Sequence[float]) -> Stats:
    if not values:
        return Stats(0, None, None, None)
    ordered = sorted(values)
    rank = math.ceil(0.9 * len(ordered))  # nearest rank: at least 90% of the values are at or below it
    return Stats(len(ordered), statistics.fmean(ordered), statistics.median(ordered), ordered[rank - 1])


@dataclass(frozen=True)
class Anomaly:
    """An interval that ends before the incident started: left out of the numbers, named for correction."""

    incident: str
    interval: Interval
    seconds: float


@dataclass(frozen=True)
class Summary:
    count: int
    open: int
    severities: Mapping[Severity, int]
    intervals: Mapping[Interval, Stats]
    mtbf: Mapping[str, Stats]  # per service, services in name order
    corrections: tuple[Corrected, ...]
    anomalies: tuple[Anomaly, ...]


def summarize(facts: Sequence[Facts], service: str | None = None) -> Summary:
    """The report over `facts` (already selected); `service`: the one service whose MTBF is asked for (the
    incidents of one service name others too, whose MTBF over those incidents alone would mislead)."""
    intervals = list(Interval)
    values: list[list[float]] = [[] for _ in intervals]
    anomalies: list[Anomaly] = []
    severities = {s: 0 for s in Severity}
    for f in facts:
        severities[f.severity] += 1
        for index, seconds in enumerate(f.seconds):
            if seconds is None:
                continue
            if seconds < 0:
                anomalies.append(Anomaly(f.id, intervals[index], seconds))
            else:
                values[index].append(seconds)
    return Summary(
        count=len(facts),
        open=sum(1 for f in facts if not f.resolved),
        severities=severities,
        intervals={which: stats(v) for which, v in zip(intervals, values, strict=True)},
        mtbf={name: stats(gaps) for name, gaps in sorted(uptimes(facts).items()) if service in (None, name)},
        corrections=tuple(c for f in facts for c in f.corrections),
        anomalies=tuple(anomalies),
    )


def uptimes(facts: Iterable[Facts]) -> dict[str, list[float]]:
    """Per service, the seconds between one outage's end and the next outage's start (see MTBF above)."""
    by_service: dict[str, list[Facts]] = {}
    for f in facts:
        if f.started is not None:
            for service in dict.fromkeys(f.systems):
                by_service.setdefault(service, []).append(f)
    return {service: _gaps(incidents) for service, incidents in by_service.items()}


def _gaps(incidents: list[Facts]) -> list[float]:
    gaps: list[float] = []
    ordered = sorted(incidents, key=lambda f: (f.started or _EPOCH, f.id))
    outage_end = ordered[0].resolved_at
    for f in ordered[1:]:
        start = f.started or _EPOCH
        if outage_end is None:  # the outage before has not ended: nothing after it is a time between failures
            break
        if start > outage_end:
            gaps.append((start - outage_end).total_seconds())
            outage_end = f.resolved_at
        elif f.resolved_at is None:  # overlaps the outage and is not resolved: the outage goes on
            outage_end = None
        else:
            outage_end = max(outage_end, f.resolved_at)
    return gaps


# -- periods ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PeriodRow:
    label: str  # 2026-W49, 2026-11, 2026-Q4
    start: datetime
    end: datetime
    summary: Summary


def period_start(moment: datetime, period: Period) -> datetime:
    """The start (UTC midnight) of the week (Monday), month or quarter that holds `moment`."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period is Period.MONTH:
        return day.replace(day=1)
    return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)


def next_period(start: datetime, period: Period) -> datetime:
    try:
        if period is Period.WEEK:
            return start + timedelta(days=7)
        months = 1 if period is Period.MONTH else 3
        month = start.month - 1 + months
        return start.replace(year=start.year + month // 12, month=month % 12 + 1)
    except (OverflowError, ValueError):  # past the year 9999: the calendar's last period ends with it
        return datetime.max.replace(tzinfo=UTC)


def period_label(start: datetime, period: Period) -> str:
    if period is Period.WEEK:
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if period is Period.MONTH:
        return f"{start.year}-{start.month:02d}"
    return f"{start.year}-Q{(start.month - 1) // 3 + 1}"


MAX_PERIODS = 1000
_DAYS = {Period.WEEK: 7, Period.MONTH: 31, Period.QUARTER: 92}  # at least as long as one period, for counting


def by_period(facts: Sequence[Facts], period: Period, selection: Selection) -> list[PeriodRow]:
    """One row per period from the window's start (else the first incident's) to its end (else the last
    incident's), empty periods included so that a quiet month shows as one."""
    buckets: dict[datetime, list[Facts]] = {}
    for f in facts:
        if f.started is not None:
            buckets.setdefault(period_start(f.started, period), []).append(f)
    first = selection.since or (min(f.started for f in facts if f.started) if buckets else None)
    last = selection.until - timedelta(microseconds=1) if selection.until and selection.until > _FIRST else None
    last = last or (max(f.started for f in facts if f.started) if buckets else None)
    if first is None or last is None or last < first:
        return []
    count = (last - first).days // _DAYS[period] + 1
    if count > MAX_PERIODS:
        raise UsageError(
            f"the window holds about {count} {period}s: at most {MAX_PERIODS} rows are shown",
            hint="narrow it with --since and --until, or take a longer --period",
        )
    rows: list[PeriodRow] = []
    start = period_start(first, period)
    while start <= last:
        end = next_period(start, period)
        rows.append(
            PeriodRow(period_label(start, period), start, end, summarize(buckets.get(start, []), selection.service))
        )
        start = end
    return rows


# -- JSON ------------------------------------------------------------------------------------------------------------
def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def stats_json(s: Stats) -> dict[str, float | int | None]:
    return {"count": s.count, "mean": s.mean, "median": s.median, "p90": s.p90}


def summary_json(summary: Summary) -> dict[str, object]:
    return {
        "count": summary.count,
        "open": summary.open,
        "severity": {str(s): n for s, n in summary.severities.items()},
        **{str(i): stats_json(s) for i, s in summary.intervals.items()},
        "mtbf": {service: stats_json(s) for service, s in summary.mtbf.items()},
        "corrections": [
            {
                "incident": c.incident,
                "milestone": str(c.milestone),
                "recorded": iso(c.recorded),
                "corrected": iso(c.corrected),
            }
            for c in summary.corrections
        ],
        "not_counted": [
            {"incident": a.incident, "interval": str(a.interval), "seconds": a.seconds, "why": "ends before started"}
            for a in summary.anomalies
        ],
    }
