"""The incident timeline: every event of the incident and of its linked runs, in order, with full dates (an
incident that spans midnight and three calendar days reads correctly), UTC by default or in a named zone with
its offset (which changes within the incident when daylight saving time starts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runner.errors import UsageError
from runner.gameday import events as gev
from runner.incident import events as iev
from runner.incident import timeline as tl
from runner.incident.lifecycle import Declaration, declare, reach
from runner.incident.model import Milestone, Severity
from runner.incident.view import fold
from runner.journal import events as ev
from runner.journal.events import Event
from runner.journal.store import open_journal

INC = "INC-2026-007"
RUN = "20260328-235810-abc123"


def _stream(run_id: str, *items: tuple[str, str, dict[str, Any], str | None, str | None]) -> list[Event]:
    """Events (ts, type, data, step, actor) as a journal would return them."""
    return [
        Event(run_id, seq, ts, float(seq), type_, step, actor, data)
        for seq, (ts, type_, data, step, actor) in enumerate(items, 1)
    ]


def _incident_events() -> list[Event]:
    # Declared at 23:50 on Saturday 28 March 2026, impact from 23:40; mitigated just after midnight by a run;
    # a correction on Sunday; resolved on Monday 30 March.
    return _stream(
        INC,
        ("2026-03-28T23:50:00.000000Z", iev.DECLARED,
         {"title": "Checkout down", "severity": "SEV2", "type": "availability", "systems": ["checkout"],
          "impact": "orders fail", "started_at": "2026-03-28T23:40:00.000000Z", "policy": ""}, None, "lead"),
        ("2026-03-28T23:50:00.100000Z", iev.MILESTONE,
         {"name": "started", "at": "2026-03-28T23:40:00.000000Z", "source": "command"}, None, "lead"),
        ("2026-03-28T23:50:00.200000Z", iev.MILESTONE,
         {"name": "detected", "at": "2026-03-28T23:50:00.000000Z", "source": "command"}, None, "lead"),
        ("2026-03-28T23:52:00.000000Z", iev.UPDATE,
         {"status": "investigating", "summary": "checkout fails", "shape": "initial",
          "message": "**Status**: Investigating\n**Impact**: orders fail", "channels": ["incidents"],
          "next_update_at": "2026-03-29T00:22:00.000000Z"}, None, "comms"),
        ("2026-03-28T23:58:10.500000Z", iev.LINKED,
         {"run_id": RUN, "kind": "runbook", "name": "restart-checkout"}, None, "alice"),
        ("2026-03-29T00:00:06.100000Z", iev.MILESTONE,  # written a moment later than the step it marks
         {"name": "mitigated", "at": "2026-03-29T00:00:05.200000Z", "source": f"run {RUN} step restart"}, None,
         "alice"),
        ("2026-03-29T00:10:00.000000Z", iev.NOTE,
         {"text": "pool \x1b[31mexhausted\x1b[0m by a leak", "kind": "root-cause"}, None, "bob"),
        ("2026-03-29T00:30:00.000000Z", iev.CORRECTED,
         {"milestone": "started", "old": "2026-03-28T23:40:00.000000Z", "new": "2026-03-28T23:35:00.000000Z",
          "reason": "graphs show errors from 23:35"}, None, "lead"),
        ("2026-03-30T09:00:00.000000Z", "incident.future_kind", {"anything": 1}, None, "lead"),
        ("2026-03-30T09:15:00.000000Z", iev.MILESTONE,
         {"name": "resolved", "at": "2026-03-30T09:15:00.000000Z", "source": "command"}, None, "lead"),
        ("2026-03-30T09:15:00.100000Z", iev.STATUS_CHANGED, {"old": "monitoring", "new": "resolved"}, None, "lead"),
    )  # fmt: skip


def _run_events() -> list[Event]:
    return _stream(
        RUN,
        ("2026-03-28T23:58:10.000000Z", ev.RUN_STARTED,
         {"runbook": "/rb/restart.yaml", "name": "restart-checkout", "title": "Restart checkout", "digest": "d",
          "inputs": {"token": "***"}, "initiator": "alice", "incident": INC}, None, "alice"),
        ("2026-03-28T23:58:11.000000Z", ev.STEP_STARTED, {"action": "shell.run", "mutating": False}, "look", "alice"),
        ("2026-03-28T23:58:11.500000Z", ev.STEP_SUCCEEDED,
         {"summary": "exit 0", "outputs": {"pool": "100%"}, "duration_s": 0.5}, "look", "alice"),
        ("2026-03-28T23:58:11.600000Z", ev.STEP_TRANSITION, {"to": "restart", "why": "order"}, "look", None),
        ("2026-03-28T23:59:50.000000Z", ev.STEP_APPROVED, {"reason": "restart it", "via": "prompt"}, "restart",
         "alice"),
        ("2026-03-28T23:59:59.000000Z", ev.STEP_STARTED, {"action": "shell.run", "mutating": True}, "restart",
         "alice"),
        ("2026-03-29T00:00:05.200000Z", ev.STEP_SUCCEEDED,
         {"summary": "exit 0", "outputs": {"password": "***"}, "duration_s": 6.2}, "restart", "alice"),
        ("2026-03-29T00:00:06.000000Z", ev.RUN_FINISHED, {"status": "succeeded"}, None, None),
    )  # fmt: skip


def _timeline(zone: str | None = None) -> tl.Timeline:
    own = _incident_events()
    incident = fold(own)
    return tl.build(incident, own, [(tl.Stream(RUN, "runbook", "restart-checkout"), _run_events())], tl.zone(zone))


def _index(lines: Sequence[str], part: str) -> int:
    found = [i for i, line in enumerate(lines) if part in line]
    assert len(found) == 1, (part, found)
    return found[0]


def test_an_incident_across_midnight_and_three_days_reads_in_order_with_full_dates() -> None:
    text = tl.markdown(_timeline())
    lines = text.splitlines()
    assert "times in UTC" in text
    # A heading for each calendar day; every event line carries its full date.
    days = [line for line in lines if line.startswith("## ")]
    assert days == ["## 2026-03-28 (Saturday)", "## 2026-03-29 (Sunday)", "## 2026-03-30 (Monday)"]
    events = [line for line in lines if line.startswith("- ")]
    assert all(line[2:22].startswith("2026-03-") and line[21] == "Z" for line in events), events
    assert [line[2:22] for line in events] == sorted(line[2:22] for line in events)
    order = [
        "2026-03-28 23:40:00Z · incident · milestone started",  # placed at the time it marks, recorded later
        "2026-03-28 23:50:00Z · incident · declared SEV2 availability incident \"Checkout down\" by lead",
        "2026-03-28 23:50:00Z · incident · milestone detected",
        "2026-03-28 23:52:00Z · incident · status update (initial) by comms: investigating: checkout fails",
        f"2026-03-28 23:58:10Z · run {RUN} · run of Restart checkout started by alice; inputs {{\"token\": \"***\"}}",
        f"2026-03-28 23:58:10Z · incident · linked run {RUN} (restart-checkout) by alice",
        f"2026-03-28 23:58:11Z · run {RUN} · look: succeeded in 500ms: exit 0; outputs {{\"pool\": \"100%\"}}",
        f"2026-03-28 23:59:50Z · run {RUN} · restart: approved by alice via prompt: restart it",
        f"2026-03-28 23:59:59Z · run {RUN} · restart: change started (shell.run)",
        f"2026-03-29 00:00:05Z · run {RUN} · restart: succeeded in 6.2s: exit 0; outputs {{\"password\": \"***\"}}",
        f"2026-03-29 00:00:05Z · incident · milestone mitigated (by run {RUN} step restart) by alice",
        f"2026-03-29 00:00:06Z · run {RUN} · run succeeded",
        "2026-03-29 00:10:00Z · incident · note (root-cause) by bob: pool exhausted by a leak",
        "2026-03-29 00:30:00Z · incident · correction: started 2026-03-28 23:40:00Z -> 2026-03-28 23:35:00Z by lead",
        "2026-03-30 09:00:00Z · incident · incident.future_kind by lead",
        "2026-03-30 09:15:00Z · incident · milestone resolved",
        "2026-03-30 09:15:00Z · incident · status monitoring -> resolved by lead",
    ]
    positions = [_index(lines, part) for part in order]
    assert positions == sorted(positions)
    started = lines[positions[0]]
    assert "recorded 2026-03-28 23:50:00Z" in started and "later corrected to 2026-03-28 23:35:00Z" in started
    # The status update as it was sent, under its line; the read-only step's start and the engine's
    # bookkeeping (transitions) are left out; escape sequences people typed never reach the terminal.
    sent = lines[positions[3] + 1 : positions[3] + 3]
    assert sent == ["  > **Status**: Investigating", "  > **Impact**: orders fail"]
    assert "look: change started" not in text and "transition" not in text
    assert "\x1b" not in text


def test_a_zone_shows_local_times_with_their_offsets_across_a_dst_change() -> None:
    # Europe/Paris moves from +01:00 to +02:00 at 01:00 UTC on 29 March 2026, during this incident.
    text = tl.markdown(_timeline("Europe/Paris"))
    lines = text.splitlines()
    assert "times in Europe/Paris" in text
    assert [line for line in lines if line.startswith("## ")] == ["## 2026-03-29 (Sunday)", "## 2026-03-30 (Monday)"]
    assert _index(lines, "declared SEV2") == _index(lines, "2026-03-29 00:50:00+01:00 · incident · declared")
    assert "2026-03-29 01:00:05+01:00 · incident · milestone mitigated" in text
    assert "2026-03-30 11:15:00+02:00 · incident · milestone resolved" in text
    # Times inside a line are in the same zone.
    assert "correction: started 2026-03-29 00:40:00+01:00 -> 2026-03-29 00:35:00+01:00" in text


def test_json_gives_utc_and_local_times_and_the_stored_data() -> None:
    data = tl.as_json(_timeline("America/New_York"))
    assert data["timezone"] == "America/New_York" and data["incident"] == INC
    entries = data["entries"]
    assert (entries[0]["type"], entries[0]["data"]["name"]) == (iev.MILESTONE, "started")  # impact start first
    assert entries[-1]["type"] == iev.STATUS_CHANGED
    mitigated = next(e for e in entries if e["type"] == iev.MILESTONE and e["data"]["name"] == "mitigated")
    assert mitigated["at"] == "2026-03-29T00:00:05.200000Z"
    assert mitigated["local"] == "2026-03-28T20:00:05.200000-04:00"
    restart = next(e for e in entries if e["type"] == ev.STEP_SUCCEEDED and e["step_id"] == "restart")
    assert restart["source"] == "runbook" and restart["stream"] == RUN and restart["name"] == "restart-checkout"
    assert restart["data"]["outputs"] == {"password": "***"}  # as stored: redacted when it was written


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "", "x" * 300, "Europe/Paris\x00"])
def test_an_unknown_zone_is_a_usage_error(name: str) -> None:
    with pytest.raises(UsageError, match="unknown time zone"):
        tl.zone(name)


def test_the_command_refuses_an_unknown_zone_and_reads_the_store(cli: Any) -> None:
    journal = open_journal()
    incident_id = declare(journal, Declaration("Checkout down", Severity.SEV3), "lead")
    journal.close()
    refused = cli("incident", "timeline", incident_id, "--tz", "Mars/Olympus")
    assert refused.code == 2 and "unknown time zone 'Mars/Olympus'" in refused.err
    shown = cli("incident", "timeline", incident_id.lower(), "--tz", "Asia/Kolkata")
    assert shown.code == 0, shown.err
    assert "+05:30 · incident · declared SEV3 availability incident \"Checkout down\" by lead" in shown.out
    as_json = cli("incident", "timeline", incident_id, "--format", "json")
    assert as_json.code == 0 and as_json.json()["timezone"] == "UTC"
    assert iev.DECLARED in [e["type"] for e in as_json.json()["entries"]]
    missing = cli("incident", "timeline", "INC-2026-999")
    assert missing.code in (1, 2) and "no incident 'INC-2026-999'" in missing.err


def test_a_linked_game_days_events_are_on_the_timeline() -> None:
    gd = "gd-20260328-1"
    own = _incident_events()
    gameday = _stream(
        gd,
        ("2026-03-28T23:41:00.000000Z", gev.GAMEDAY_STARTED, {"scenario": "checkout-db", "title": "Checkout drill"},
         None, "sre"),
        ("2026-03-28T23:41:01.000000Z", gev.FAULT_INJECTING, {"action": "postgres.hold_connections"}, "exhaust",
         None),
        ("2026-03-28T23:41:02.000000Z", gev.FAULT_INJECTED, {"action": "postgres.hold_connections"}, "exhaust", None),
        ("2026-03-28T23:41:30.000000Z", gev.STEADY_STATE_VIOLATED, {"probe": "checkout-ok"}, None, None),
        ("2026-03-28T23:42:00.000000Z", gev.ACKNOWLEDGED, {"via": "ack"}, None, "alice"),
        ("2026-03-29T00:05:00.000000Z", gev.FAULT_REVERTED, {"ok": True, "summary": "released 95"}, "exhaust", None),
    )  # fmt: skip
    linked = [(tl.Stream(gd, "gameday", "checkout-db"), gameday)]
    text = tl.markdown(tl.build(fold(own), own, linked, tl.zone(None)))
    lines = text.splitlines()
    order = [
        f"2026-03-28 23:41:00Z · game day {gd} · game day Checkout drill started by sre",
        f"2026-03-28 23:41:02Z · game day {gd} · fault exhaust injected (postgres.hold_connections)",
        f"2026-03-28 23:41:30Z · game day {gd} · steady state violated (checkout-ok)",
        f"2026-03-28 23:42:00Z · game day {gd} · game day acknowledged by alice via ack",
        "2026-03-28 23:50:00Z · incident · declared",
        f"2026-03-29 00:05:00Z · game day {gd} · fault exhaust reverted: released 95",
    ]
    positions = [_index(lines, part) for part in order]
    assert positions == sorted(positions)
    assert gev.FAULT_INJECTING not in text  # bookkeeping stays in the game day's own report


def test_a_game_days_drill_shows_the_game_day_and_its_response_run(tmp_path: Path, cli: Any) -> None:
    """A real game day (a flag switched off in a flagd file, an automated response runbook): its drill
    incident's timeline holds the game day's events and the response run's steps, in order."""
    from tests.gameday.flagfile import flags_text, scenario_text, with_response

    flags = tmp_path / "flags.json"
    flags.write_text(flags_text(), encoding="utf-8")
    response = with_response(tmp_path, tmp_path / "responded")
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(scenario_text(duration="1s", interval="100ms", settle="300ms", response=response))
    ran = cli("gameday", "run", str(scenario), "-i", f"flag_file={flags}", "--report", "none")
    assert ran.code == 0, ran.out + ran.err
    [declared] = open_journal().first_events(iev.DECLARED, 10)
    shown = cli("incident", "timeline", declared.run_id)
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    [game_day] = [link for link in fold(open_journal().events(declared.run_id)).links if link.kind == "gameday"]
    order = [
        f"game day {game_day.run_id} · game day",  # started
        "injected (flags.set)",
        "steady state violated",
        "response run",
        "succeeded",  # the response run's steps
        "run succeeded",
        "reverted",
        "game day finished: passed",
    ]
    positions = [next(i for i, line in enumerate(lines) if part in line) for part in order]
    assert positions == sorted(positions), shown.out
    # The drill is declared right after the injection; a fast probe may detect the fault before that is written.
    declared_at = next(i for i, line in enumerate(lines) if "incident · declared SEV" in line)
    assert positions[1] < declared_at < positions[-1], shown.out
    # The drill's milestones are written a moment after the game day's events they mark: each is placed at
    # its time, so the times shown never go backwards.
    stamps = [line[2:22] for line in lines if line.startswith("- ")]
    assert stamps == sorted(stamps), shown.out


def test_a_year_one_time_an_older_version_stored_is_shown_in_any_zone(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New input before 1970 is refused, but a journal written before that may hold year 1 as the impact start
    and a milestone: every view still shows it (in UTC when the zone cannot, as a year-1 time would fall
    before year 1 there) and exits 0."""
    monkeypatch.chdir(tmp_path)  # the post-mortem draft is written under the current directory
    year_one = datetime(1, 1, 1, tzinfo=UTC)
    journal = open_journal()
    incident_id = declare(journal, Declaration("Checkout down", Severity.SEV3, started_at=year_one), "lead")
    reach(journal, incident_id, Milestone.MITIGATED, year_one, "command", "lead")
    journal.close()
    for name in ("Pacific/Kiritimati", "America/Los_Angeles"):
        shown = cli("incident", "timeline", incident_id, "--tz", name)
        assert shown.code == 0, shown.err
        assert "## 0001-01-01 (Monday)" in shown.out
        assert "- 0001-01-01 00:00:00Z · incident · milestone started by lead" in shown.out
        assert "impact started 0001-01-01 00:00:00Z" in shown.out
        as_json = cli("incident", "timeline", incident_id, "--tz", name, "--format", "json")
        assert as_json.code == 0, as_json.err
        assert as_json.json()["entries"][0]["local"] == "0001-01-01T00:00:00.000000+00:00"
    for args in (["show", incident_id], ["list"], ["report", incident_id], ["show", incident_id, "--format", "json"]):
        viewed = cli("incident", *args)
        assert viewed.code == 0 and incident_id in viewed.out, (args, viewed.err)
    drafted = cli("postmortem", "draft", incident_id)
    assert drafted.code == 0, drafted.err
