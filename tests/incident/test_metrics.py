"""`fireline incident metrics`: exact intervals through the real CLI for incidents with known (`--started-at`,
corrected) times, the statistics on known sets, periods, drills left out, MTBF per service, `--explain`, and
hostile input — on the SQLite and the PostgreSQL store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.incident import metrics as m
from runner.incident.lifecycle import Declaration, change_severity, change_status, correct, declare, reach
from runner.incident.model import IncidentType, Milestone, Severity, Status
from runner.incident.store import load
from runner.journal.store import Journal, open_journal

DAY = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday; every incident here is in the past


def _at(day: int, hour: int, minute: int = 0) -> str:
    return (DAY + timedelta(days=day, hours=hour, minutes=minute)).isoformat().replace("+00:00", "Z")


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    location = request.getfixturevalue("pg_db") if request.param == "postgres" else str(tmp_path / "journal.db")
    monkeypatch.setenv("FIRELINE_STORE", location)
    return location


def _ok(result: Any) -> Any:
    assert result.code == 0, result.err
    return result


def incident(
    cli: Any, day: int, *, detect: int, ack: int | None = None, mitigate: int | None = None,
    resolve: int | None = None, sev: str = "SEV2", systems: str = "checkout", kind: str = "availability",
) -> str:  # fmt: skip
    """An incident that started on `day` at 09:00 and reached each milestone that many minutes later. The
    commands record acknowledged, mitigated and resolved at the time they run; each is then corrected to its
    known time, as a responder does who records them late."""
    start = DAY + timedelta(days=day, hours=9)
    shift = {n: (start + timedelta(minutes=v)).isoformat().replace("+00:00", "Z") for n, v in
             (("detected", detect), ("acknowledged", ack), ("mitigated", mitigate), ("resolved", resolve))
             if v is not None}  # fmt: skip
    incident_id = _ok(cli("incident", "declare", "--title", f"Outage on day {day}", "--sev", sev, "--systems",
                          systems, "--type", kind, "--started-at", _at(day, 9), "--detected-at",
                          shift["detected"])).out.strip()  # fmt: skip
    for name, command in (("acknowledged", "ack"), ("mitigated", "mitigated"), ("resolved", "resolve")):
        if name in shift:
            _ok(cli("incident", command, incident_id))
            _ok(cli("incident", "correct", incident_id, name, shift[name], "--reason", "recorded late"))
    return str(incident_id)


def metrics(cli: Any, *args: str) -> Any:
    return _ok(cli("incident", "metrics", *args, "--format", "json")).json()


@pytest.fixture
def journal(store: str) -> Iterator[Journal]:
    opened = open_journal()
    yield opened
    opened.close()


def seed(
    journal: Journal, day: int, *, detect: int, ack: int | None = None, mitigate: int | None = None,
    resolve: int | None = None, sev: str = "SEV2", systems: str = "checkout", kind: str = "availability",
) -> str:  # fmt: skip
    """The same incident as `incident`, recorded through the functions the commands call (one journal
    connection for all, where each in-process command opens its own)."""
    start = DAY + timedelta(days=day, hours=9)
    declared = Declaration(title=f"Outage on day {day}", severity=Severity(sev), type=IncidentType(kind),
                           systems=tuple(systems.split(",")), started_at=start,
                           detected_at=start + timedelta(minutes=detect))  # fmt: skip
    incident_id = declare(journal, declared, "responder")
    for name, minutes in (
        (Milestone.ACKNOWLEDGED, ack),
        (Milestone.MITIGATED, mitigate),
        (Milestone.RESOLVED, resolve),
    ):
        if minutes is not None:
            reach(journal, incident_id, name, start + timedelta(minutes=minutes), "command", "responder")
    if resolve is not None:
        change_status(journal, load(journal, incident_id), Status.RESOLVED, "responder")
    return incident_id


def test_exact_intervals_from_known_and_corrected_times(cli: Any, store: str) -> None:
    first = incident(cli, 0, detect=4, ack=10, mitigate=30, resolve=60)
    second = incident(cli, 1, detect=2, ack=8, mitigate=50, resolve=180)
    # A wrong impact start, corrected earlier: every interval of that incident grows by the 5 minutes.
    _ok(cli("incident", "correct", second, "started", _at(1, 8, 55), "--reason", "errors began at 08:55"))
    report = metrics(cli)
    assert report["count"] == 2 and report["open"] == 0
    assert report["severity"] == {"SEV1": 0, "SEV2": 2, "SEV3": 0, "SEV4": 0}
    assert report["ttd"] == {"count": 2, "mean": (240 + 420) / 2, "median": (240 + 420) / 2, "p90": 420.0}
    assert report["tta"] == {"count": 2, "mean": (600 + 780) / 2, "median": 690.0, "p90": 780.0}
    assert report["ttm"] == {"count": 2, "mean": (1800 + 3300) / 2, "median": 2550.0, "p90": 3300.0}
    assert report["ttr"] == {"count": 2, "mean": (3600 + 11100) / 2, "median": 7350.0, "p90": 11100.0}
    # The report says which corrected times it used, and what had been recorded.
    corrected = {(c["incident"], c["milestone"]): c for c in report["corrections"]}
    assert set(corrected) == {(first, "acknowledged"), (first, "mitigated"), (first, "resolved"),
                              (second, "started"), (second, "acknowledged"), (second, "mitigated"),
                              (second, "resolved")}  # fmt: skip
    assert corrected[(second, "started")] == {
        "incident": second, "milestone": "started", "recorded": _at(1, 9), "corrected": _at(1, 8, 55)
    }  # fmt: skip
    assert report["definitions"]["ttd"] == "time to detect = detected - started"
    assert report["not_counted"] == []
    # The table says the same, with the definitions and the corrections.
    table = _ok(cli("incident", "metrics")).out
    assert "2 incidents (0 not resolved)" in table and "SEV2 2" in table
    assert "time to resolve" in table and "2h02m" in table  # mean TTR 7350 s
    assert "TTD = detected - started" in table and "TTR = resolved - started" in " ".join(table.split())
    assert f"{second} started: {_at(1, 8, 55)} (recorded {_at(1, 9)})" in table


def test_an_open_or_reopened_incident_has_no_ttr(cli: Any, journal: Journal) -> None:
    seed(journal, 0, detect=5, ack=10, mitigate=20, resolve=40)
    seed(journal, 1, detect=5, ack=10)  # still open
    reopened = seed(journal, 2, detect=5, ack=10, mitigate=20, resolve=40)
    change_status(journal, load(journal, reopened), Status.INVESTIGATING, "responder")
    report = metrics(cli)
    assert report["count"] == 3 and report["open"] == 2
    assert report["tta"]["count"] == 3 and report["ttm"]["count"] == 2
    assert report["ttr"] == {"count": 1, "mean": 2400.0, "median": 2400.0, "p90": 2400.0}
    # The same report a day later: nothing grows while incidents stay open.
    assert metrics(cli) == report


def test_drills_are_left_out_unless_asked_for(cli: Any, journal: Journal) -> None:
    seed(journal, 0, detect=5, ack=10, mitigate=20, resolve=40)
    seed(journal, 1, detect=1, ack=2, mitigate=3, resolve=4, kind="drill", systems="checkout")
    real = metrics(cli)
    assert real["count"] == 1 and real["ttr"]["mean"] == 2400.0 and real["filters"]["include_drills"] is False
    both = metrics(cli, "--include-drills")
    assert both["count"] == 2 and both["ttr"]["mean"] == (2400 + 240) / 2
    assert "drills left out" in _ok(cli("incident", "metrics")).out


def test_window_service_and_severity(cli: Any, journal: Journal) -> None:
    seed(journal, 0, detect=5, sev="SEV1", systems="checkout,db")
    seed(journal, 3, detect=6, sev="SEV3", systems="search")
    seed(journal, 6, detect=7, sev="SEV3", systems="db")
    assert metrics(cli, "--since", "2025-03-04")["count"] == 2  # a date: midnight UTC
    assert metrics(cli, "--until", _at(3, 9))["count"] == 1  # started before: the one at 09:00 is out
    window = metrics(cli, "--since", _at(3, 9), "--until", "2025-03-10")
    assert window["count"] == 2 and window["window"] == {"since": _at(3, 9), "until": _at(7, 0)}
    assert [metrics(cli, "--service", s)["ttd"]["mean"] for s in ("db", "search")] == [360.0, 360.0]
    assert metrics(cli, "--service", "payments")["count"] == 0
    by_severity = metrics(cli, "--severity", "sev3")
    assert by_severity["count"] == 2 and by_severity["severity"]["SEV3"] == 2
    assert metrics(cli, "--severity", "SEV1", "--service", "db")["ttd"]["p90"] == 300.0


def test_severity_counts_as_it_is_now(cli: Any, journal: Journal) -> None:
    raised = seed(journal, 0, detect=5)
    change_severity(journal, load(journal, raised), Severity.SEV1, "all regions", "responder")
    report = metrics(cli)
    assert report["severity"]["SEV1"] == 1 and report["severity"]["SEV2"] == 0


def test_one_row_per_period_empty_ones_included(cli: Any, journal: Journal) -> None:
    seed(journal, 0, detect=4, ack=10, mitigate=20, resolve=30)  # 2025-03-03, week 10
    seed(journal, 1, detect=6, ack=10, mitigate=20, resolve=30)
    seed(journal, 16, detect=10)  # 2025-03-19, week 12
    seed(journal, 31, detect=8, ack=12, mitigate=20, resolve=60)  # 2025-04-03
    weeks = metrics(cli, "--period", "week")["periods"]
    assert [w["period"] for w in weeks[:3]] == ["2025-W10", "2025-W11", "2025-W12"]
    assert [w["count"] for w in weeks] == [2, 0, 1, 0, 1]
    assert weeks[0]["start"] == "2025-03-03T00:00:00Z" and weeks[0]["end"] == "2025-03-10T00:00:00Z"
    assert weeks[0]["ttd"] == {"count": 2, "mean": 300.0, "median": 300.0, "p90": 360.0}
    assert weeks[2]["open"] == 1 and weeks[2]["ttr"]["count"] == 0
    months = metrics(cli, "--period", "month", "--since", "2025-02-01", "--until", "2025-06-01")["periods"]
    assert [(p["period"], p["count"]) for p in months] == [("2025-02", 0), ("2025-03", 3), ("2025-04", 1),
                                                           ("2025-05", 0)]  # fmt: skip
    assert months[2]["ttr"]["mean"] == 3600.0
    quarters = metrics(cli, "--period", "quarter")
    assert [(p["period"], p["count"]) for p in quarters["periods"]] == [("2025-Q1", 3), ("2025-Q2", 1)]
    assert quarters["count"] == 4  # the whole window too
    table = _ok(cli("incident", "metrics", "--period", "month")).out
    assert "2025-03" in table and "2025-04" in table and "mean (median, p90)" in table


def test_mtbf_per_service_from_resolution_to_next_start(cli: Any, journal: Journal) -> None:
    seed(journal, 0, detect=5, ack=6, mitigate=7, resolve=60, systems="checkout,db")  # 09:00-10:00
    seed(journal, 2, detect=5, ack=6, mitigate=7, resolve=120, systems="checkout")  # day 2 09:00-11:00
    seed(journal, 3, detect=5, ack=6, mitigate=7, resolve=30, systems="db")  # day 3 09:00-09:30
    report = metrics(cli)
    day = 86400.0
    assert report["mtbf"]["checkout"] == {"count": 1, "mean": 2 * day - 3600, "median": 2 * day - 3600,
                                          "p90": 2 * day - 3600}  # fmt: skip
    assert report["mtbf"]["db"]["mean"] == 3 * day - 3600
    # Asked about one service: its MTBF alone (the incidents of db name checkout too, and miss the others).
    assert metrics(cli, "--service", "db")["mtbf"] == {"db": report["mtbf"]["db"]}
    assert metrics(cli, "--service", "db", "--period", "month")["periods"][0]["mtbf"] == {"db": report["mtbf"]["db"]}
    assert "MTBF per service" in _ok(cli("incident", "metrics")).out


def test_explain_names_the_event_behind_each_milestone(cli: Any, journal: Journal) -> None:
    incident_id = seed(journal, 0, detect=4, ack=12)
    correct(
        journal, incident_id, Milestone.ACKNOWLEDGED, DAY + timedelta(hours=9, minutes=10), "recorded late", "responder"
    )
    explained = _ok(cli("incident", "metrics", "--explain", incident_id, "--format", "json")).json()
    milestones = explained["milestones"]
    assert set(milestones) == {"started", "detected", "acknowledged"}
    assert milestones["detected"]["at"] == _at(0, 9, 4)
    assert milestones["detected"]["set_by"]["type"] == "incident.milestone"
    assert milestones["detected"]["set_by"]["source"] == "command" and milestones["detected"]["correction"] is None
    fixed = milestones["acknowledged"]["correction"]
    assert fixed["reason"] == "recorded late" and fixed["by"] == "responder"
    assert fixed["new"] == "2025-03-03T09:10:00.000000Z" and fixed["seq"] > milestones["acknowledged"]["set_by"]["seq"]
    assert explained["intervals"] == {"ttd": 240.0, "tta": 600.0, "ttm": None, "ttr": None}
    text = _ok(cli("incident", "metrics", "--explain", incident_id)).out
    assert f"set by event #{milestones['detected']['set_by']['seq']} (incident.milestone, source: command)" in text
    assert f"corrected by event #{fixed['seq']} (incident.corrected) by responder" in text
    assert "reason: recorded late" in text and "TTA = acknowledged - started = 10m00s" in text
    assert "TTR = resolved - started = - (not resolved: no TTR)" in text
    assert "not reached: mitigated, resolved" in text


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--since", "last tuesday"], 2, "--since: 'last tuesday' is not a time"),
        (["--since", "2025-02-30"], 2, "--since: '2025-02-30' is not a date"),
        (["--until", "2025-03-04T10:00:00"], 2, "has no time zone"),
        (["--since", "2025-03-05", "--until", "2025-03-05"], 2, "--until (2025-03-05T00:00:00Z) is not after --since"),
        (["--severity", "SEV9"], 2, "'SEV9' is not a severity"),
        (["--period", "year"], 2, "Invalid value for '--period'"),
        (["--service", "a\nb"], 2, "is not a system name"),
        (["--explain", "INC-2025-001", "--since", "2025-03-01"], 2, "--explain shows one incident"),
        (["--explain", "INC-2025-999"], 2, "no incident 'INC-2025-999'"),
        (["--since", "1900-01-01", "--period", "week", "--until", "2100-01-01"], 2, "at most 1000 rows are shown"),
    ],
)
def test_hostile_input_is_a_clear_error(cli: Any, tmp_path: Path, args: list[str], code: int, says: str) -> None:
    result = cli("incident", "metrics", *args)
    assert result.code == code, result.err
    assert says in result.err and "Traceback" not in result.err


def test_the_table_lists_ten_corrections_and_json_all(cli: Any, journal: Journal) -> None:
    for day in range(12):
        incident_id = seed(journal, day, detect=10)
        correct(journal, incident_id, Milestone.DETECTED, DAY + timedelta(days=day, hours=9, minutes=5), "x", "me")
    assert len(metrics(cli)["corrections"]) == 12
    table = _ok(cli("incident", "metrics")).out
    assert "Corrected milestones used (12):" in table and "… and 2 more (--format json lists them all)" in table
    assert table.count(" detected: ") == 10


def test_periods_at_the_end_of_the_calendar(cli: Any, tmp_path: Path) -> None:
    report = metrics(cli, "--since", "9999-10-01", "--period", "month", "--until", "9999-12-31T23:59:59Z")
    assert [p["period"] for p in report["periods"]] == ["9999-10", "9999-11", "9999-12"]
    assert report["periods"][-1]["end"] == "9999-12-31T23:59:59Z"
    assert metrics(cli, "--until", "0001-01-01", "--period", "month")["periods"] == []


def test_an_empty_store(cli: Any, journal: Journal) -> None:
    report = metrics(cli, "--period", "month")
    assert report["count"] == 0 and report["ttd"] == {"count": 0, "mean": None, "median": None, "p90": None}
    assert report["periods"] == [] and report["mtbf"] == {}
    assert "none in the journal" in _ok(cli("incident", "metrics")).out


# -- the pure functions, on sets whose answers are known -----------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "median", "p90"),
    [
        ([7.0], 7.0, 7.0),
        ([3.0, 1.0], 2.0, 3.0),
        ([float(v) for v in range(1, 11)], 5.5, 9.0),  # nearest rank: ceil(0.9 * 10) = 9th
        ([float(v) for v in range(1, 12)], 6.0, 10.0),  # ceil(9.9) = 10th
        ([float(v) for v in range(20, 0, -1)], 10.5, 18.0),
        ([5.0] * 9 + [1000.0], 5.0, 5.0),  # one outlier moves the mean, not the p90
    ],
)
def test_median_and_p90(values: list[float], median: float, p90: float) -> None:
    s = m.stats(values)
    assert (s.count, s.median, s.p90) == (len(values), median, p90)
    assert s.mean == pytest.approx(sum(values) / len(values))


def facts(
    name: str, start: str | None, end: str | None = None, *, resolved: bool = True, systems: tuple[str, ...] = ("a",)
) -> m.Facts:  # fmt: skip
    times = {Milestone.STARTED: _time(start)} if start else {}
    if end:
        times[Milestone.RESOLVED] = _time(end)
    return m.make_facts(name, Severity.SEV3, IncidentType.AVAILABILITY, systems, resolved, times)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(f"2025-03-{text}:00+00:00")


def test_mtbf_merges_overlapping_outages_and_stops_at_an_unresolved_one() -> None:
    found = m.uptimes([
        facts("A", "01T09:00", "01T10:00"),
        facts("B", "01T09:30", "01T11:00"),  # overlaps A: one outage 09:00-11:00
        facts("C", "01T12:00", "01T12:30"),  # 1 h after it
        facts("D", "01T12:10", "01T12:20"),  # inside C
        facts("E", "02T12:30", "02T13:00"),  # 24 h after C
        facts("F", "03T00:00", None, resolved=False),  # 11 h after E; open: this outage has no end
        facts("G", "04T00:00", "04T01:00"),  # nothing after F counts
        facts("H", None, systems=("a", "b")),  # no known start: not placed
    ])  # fmt: skip
    assert found == {"a": [3600.0, 86400.0, 39600.0]}
    # A resolved milestone of an incident reopened since is no end either.
    assert m.uptimes([facts("A", "01T09:00", "01T10:00", resolved=False), facts("B", "02T09:00", "02T10:00")]) == {
        "a": []
    }


def test_an_interval_that_ends_before_the_start_is_not_counted_but_named() -> None:
    wrong = facts("INC-1", "01T10:00", "01T09:00")
    summary = m.summarize([wrong, facts("INC-2", "01T10:00", "01T10:30")])
    assert summary.intervals[m.Interval.TTR] == m.Stats(1, 1800.0, 1800.0, 1800.0)
    assert summary.anomalies == (m.Anomaly("INC-1", m.Interval.TTR, -3600.0),)


@pytest.mark.parametrize(
    ("moment", "period", "start", "label", "following"),
    [
        ("2025-03-09T23:59:59+00:00", m.Period.WEEK, "2025-03-03", "2025-W10", "2025-03-10"),
        ("2024-12-30T08:00:00+00:00", m.Period.WEEK, "2024-12-30", "2025-W01", "2025-01-06"),  # ISO week year
        ("2025-12-31T23:00:00+00:00", m.Period.MONTH, "2025-12-01", "2025-12", "2026-01-01"),
        ("2025-03-31T23:30:00-01:00", m.Period.MONTH, "2025-04-01", "2025-04", "2025-05-01"),  # UTC decides
        ("2025-11-15T12:00:00+00:00", m.Period.QUARTER, "2025-10-01", "2025-Q4", "2026-01-01"),
        ("2025-02-01T00:00:00+00:00", m.Period.QUARTER, "2025-01-01", "2025-Q1", "2025-04-01"),
    ],
)
def test_periods_are_utc_weeks_months_and_quarters(
    moment: str, period: m.Period, start: str, label: str, following: str
) -> None:
    begins = m.period_start(datetime.fromisoformat(moment), period)
    assert begins == datetime.fromisoformat(f"{start}T00:00:00+00:00")
    assert m.period_label(begins, period) == label
    assert m.next_period(begins, period) == datetime.fromisoformat(f"{following}T00:00:00+00:00")
