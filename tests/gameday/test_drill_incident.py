"""Game days are drills: a game day that injects a fault opens one `drill` incident whose milestones are the
moments the game day measured, linked both ways (the game day's report names the incident, the incident names
the game day and its response run); a game day that injects nothing opens none; `recover` after a kill -9
keeps (or completes) the one drill and never opens a second.

Cheap real game days: a flags.set fault on a flagd file watched by a grep probe (tests/gameday/flagfile.py).
"""

from __future__ import annotations

import json
import re
import signal
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from runner.gameday import events as gev
from runner.incident import events as iev
from runner.incident.ids import allocate
from runner.incident.model import IncidentType, LinkKind, Milestone, Severity, Status
from runner.incident.store import load
from runner.incident.view import Incident
from runner.journal.events import Event
from runner.journal.store import Journal, open_journal
from runner.policy import policy_in_force
from tests.conftest import wait_for
from tests.gameday.conftest import CliRunner
from tests.gameday.flagfile import flags_text, gameday, scenario_text, with_response

INCIDENT_LINE = re.compile(r"drill incident: (INC-\d{4}-\d{3,})")
# The game-day metric each milestone's interval from `started` is.
METRIC_OF = {
    Milestone.DETECTED: "time_to_detect",
    Milestone.ACKNOWLEDGED: "time_to_acknowledge",
    Milestone.MITIGATED: "time_to_mitigate",
    Milestone.RESOLVED: "time_to_recover",
}


def write_scenario(tmp_path: Path, *, response: str, duration: str = "1s", metadata: str = "") -> tuple[Path, Path]:
    """(scenario, flags file): the fault switches the flag off for `duration`, then reverts it."""
    flags = tmp_path / "flags.json"
    flags.write_text(flags_text(), encoding="utf-8")
    text = scenario_text(duration=duration, interval="100ms", settle="300ms", response=response)
    if metadata:
        text = text.replace("  name: test-flagd-signals\n", f"  name: test-flagd-signals\n{metadata}", 1)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(text, encoding="utf-8")
    return scenario, flags


def drills(journal: Journal) -> list[Event]:
    """Every incident.declared in the store (the test stores hold only the game days' drills)."""
    return journal.first_events(iev.DECLARED, 1000)


def the_game_day(journal: Journal) -> str:
    started = journal.first_events(gev.GAMEDAY_STARTED, 10)
    assert len(started) == 1, started
    return started[0].run_id


def first(events: list[Event], type_: str) -> Event:
    return next(e for e in events if e.type == type_)


def wall(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def run_drill(tmp_path: Path, cli: CliRunner, metadata: str = "") -> tuple[str, str]:
    """A game day whose automated response runbook succeeds and whose fault reverts after 1s: (game day id,
    drill incident id), after checking that every milestone of the drill is the game day's own moment."""
    response = with_response(tmp_path, tmp_path / "responded")
    scenario, flags = write_scenario(tmp_path, response=response, metadata=metadata)
    result = cli("gameday", "run", str(scenario), "-i", f"flag_file={flags}", "--report", "none")
    assert result.code == 0, result.out + result.err
    assert "PASSED" in result.out
    match = INCIDENT_LINE.search(result.out)
    assert match, result.out
    incident_id = match.group(1)

    journal = open_journal()
    gd = the_game_day(journal)
    events = journal.events(gd)
    assert [gev.GameDayIncident.of(e).incident for e in events if e.type == gev.INCIDENT] == [incident_id]
    assert [e.run_id for e in drills(journal)] == [incident_id]
    drill = load(journal, incident_id)
    assert drill.status is Status.RESOLVED  # every fault reverted, the game day over
    # Each milestone is the game day's own moment, to the microsecond, and says the game day set it.
    recovered = first(events, gev.RECOVERED)
    since = gev.GameDayRecovered.of(recovered).since_mono
    assert since is not None
    expected = {
        Milestone.STARTED: wall(first(events, gev.FAULT_INJECTED).ts_wall),
        Milestone.DETECTED: wall(first(events, gev.DETECTED).ts_wall),
        Milestone.ACKNOWLEDGED: wall(first(events, gev.ACKNOWLEDGED).ts_wall),
        Milestone.MITIGATED: wall(first(events, gev.RESPONSE_FINISHED).ts_wall),
        # Recovery counts from the start of the window in which the steady state held again.
        Milestone.RESOLVED: wall(recovered.ts_wall) - timedelta(seconds=recovered.ts_mono - since),
    }
    assert {m: t.at for m, t in drill.milestones.items()} == expected
    assert {t.source for t in drill.milestones.values()} == {f"gameday {gd}"}
    # So every interval from `started` is the game day's measured time (wall and monotonic clocks agree to
    # well within a millisecond over a few seconds).
    metrics = {m.name: m.seconds for m in gev.GameDayFinished.of(first(events, gev.FINISHED)).metrics}
    for milestone, metric in METRIC_OF.items():
        interval = (drill.at(milestone) - drill.at(Milestone.STARTED)).total_seconds()  # type: ignore[operator]
        assert interval == pytest.approx(metrics[metric], abs=0.002), milestone
    return gd, incident_id


def test_a_game_day_opens_a_drill_whose_milestones_are_its_measured_moments(
    tmp_path: Path, fireline_home: Path, cli: CliRunner
) -> None:
    gd, incident_id = run_drill(tmp_path, cli, metadata="  severity: SEV2\n  systems: [checkout, flags]\n")
    journal = open_journal()
    events = journal.events(gd)
    drill = load(journal, incident_id)
    assert (drill.type, drill.severity, drill.systems) == (IncidentType.DRILL, Severity.SEV2, ("checkout", "flags"))
    assert drill.title == "The new-checkout flag is switched off for a while"
    assert drill.drill_of == gd
    assert drill.policy == policy_in_force().digest  # declared under the severity levels in force
    metrics = {m.name: m.seconds for m in gev.GameDayFinished.of(first(events, gev.FINISHED)).metrics}

    # Linked both ways: the incident names the game day and its response run (so the run's steps are on the
    # incident's timeline); the game day's report names the incident.
    response_run = gev.ResponseStarted.of(first(events, gev.RESPONSE_STARTED)).run_id
    assert {(link.run_id, link.kind, link.name) for link in drill.links} == {
        (gd, LinkKind.GAMEDAY, "test-flagd-signals"),
        (response_run, LinkKind.RUNBOOK, "respond-to-the-flag"),
    }
    report = cli("gameday", "report", gd, "--format", "json")
    assert report.code == 0, report.err
    doc = json.loads(report.out)
    assert doc["incident"] == incident_id
    assert f"Drill incident {incident_id} opened" in [e["label"] for e in doc["timeline"]]
    markdown = cli("gameday", "report", gd[:12])
    assert f"- Drill incident: `{incident_id}` (`fireline incident show {incident_id}`)" in markdown.out
    assert f"game day {gd} finished: passed" in _notes(journal, incident_id)
    shown = cli("incident", "show", incident_id)
    assert shown.code == 0, shown.err
    assert f"drill of game day {gd}" in shown.out and re.search(rf"{gd}\s+gameday\s+test-flagd-signals", shown.out)
    # Drills stay out of the incident metrics unless asked for; with them, the drill's times are the game day's.
    real = json.loads(cli("incident", "metrics", "--format", "json").out)
    assert real["count"] == 0
    with_drills = json.loads(cli("incident", "metrics", "--format", "json", "--include-drills").out)
    assert with_drills["count"] == 1 and with_drills["severity"]["SEV2"] == 1
    assert with_drills["ttd"]["mean"] == pytest.approx(metrics["time_to_detect"], abs=0.002)
    # The response run's steps are on the incident's timeline.
    timeline = cli("incident", "timeline", incident_id)
    assert timeline.code == 0, timeline.err
    assert re.search(rf"run {response_run} · page: succeeded", timeline.out), timeline.out


def _notes(journal: Journal, incident_id: str) -> str:
    return "\n".join(iev.IncidentNote.of(e).text for e in journal.events(incident_id, (iev.NOTE,)))


def test_a_game_day_that_injects_nothing_opens_no_drill(tmp_path: Path, fireline_home: Path, cli: CliRunner) -> None:
    scenario, flags = write_scenario(tmp_path, response="{mode: manual, timeout: 1m}")
    flags.write_text(flags_text().replace('"state": "ENABLED"', '"state": "DISABLED"'), encoding="utf-8")
    result = cli("gameday", "run", str(scenario), "-i", f"flag_file={flags}", "--report", "none")
    assert result.code == 1, result.out + result.err  # the steady state does not hold: nothing is injected
    assert "no fault was injected" in result.out
    assert "drill incident" not in result.out
    journal = open_journal()
    gd = the_game_day(journal)
    assert drills(journal) == []
    assert not journal.events(gd, (gev.INCIDENT,))
    report = json.loads(cli("gameday", "report", gd, "--format", "json").out)
    assert report["incident"] is None


def test_recover_after_kill_9_resolves_the_one_drill(tmp_path: Path, fireline_home: Path, cli: CliRunner) -> None:
    scenario, flags = write_scenario(tmp_path, response="{mode: manual, timeout: 5m}", duration="10m")
    before = flags.read_bytes()
    with gameday(fireline_home, scenario, flags) as gd:
        # The drill is open, its `started` recorded: the game day's process dies without a word.
        milestone = gd.wait_event(iev.MILESTONE)
        gd.signal_group(signal.SIGKILL)
        gd.wait()
    gameday_id = gd.gameday_id()
    incident_id = milestone.run_id
    assert load(open_journal(), incident_id).status is Status.INVESTIGATING  # the kill left it open

    recovered = cli("gameday", "recover", gameday_id)
    assert recovered.code == 0, recovered.out + recovered.err
    assert f"drill incident {incident_id}: resolved" in recovered.out
    assert flags.read_bytes() == before
    journal = open_journal()
    drill = load(journal, incident_id)
    assert drill.status is Status.RESOLVED and drill.severity is Severity.SEV3  # the default
    assert drill.at(Milestone.STARTED) == wall(first(journal.events(gameday_id), gev.FAULT_INJECTED).ts_wall)
    assert Milestone.RESOLVED not in drill.milestones  # the steady state was never seen to hold again
    notes = _notes(journal, incident_id)
    assert "recovered by `fireline gameday recover`: every fault is reverted" in notes

    again = cli("gameday", "recover", gameday_id)
    assert again.code == 0, again.out + again.err
    assert [e.run_id for e in drills(open_journal())] == [incident_id]  # never a second drill
    assert _notes(open_journal(), incident_id) == notes  # nothing new to say


@pytest.mark.parametrize("crash", ["after-reserving", "before-reserving", "before-injecting"])
def test_recover_completes_a_drill_a_crash_cut_short(tmp_path: Path, fireline_home: Path, cli: CliRunner,
                                                     crash: str) -> None:
    """kill -9 can land between the injection, the reservation of the drill's id on the game day and the
    drill's declaration; recover finishes what was started with the id reserved, and opens nothing for a game
    day that injected nothing."""
    journal = open_journal()
    gameday_id = "gd-20261204-120000-abcd"
    started = gev.GameDayStarted(scenario="crashed", title="Crashed mid-way", faults=("kill-switch",))
    journal.append(gameday_id, gev.GAMEDAY_STARTED, actor="alice", data=started.to_data(), durable=True)
    reserved = None
    if crash != "before-injecting":
        injected = gev.FaultInjected("flags.set", {})
        journal.append(gameday_id, gev.FAULT_INJECTED, step_id="kill-switch", data=injected.to_data(), durable=True)
    if crash == "after-reserving":
        reserved = allocate(journal)
        journal.append(gameday_id, gev.INCIDENT, data=gev.GameDayIncident(reserved).to_data(), durable=True)

    result = cli("gameday", "recover", gameday_id)
    assert result.code == 0, result.out + result.err
    journal = open_journal()
    declared = drills(journal)
    if crash == "before-injecting":
        assert declared == [] and "drill incident" not in result.out
        return
    assert len(declared) == 1
    incident_id = declared[0].run_id
    assert reserved in (None, incident_id)
    drill: Incident = load(journal, incident_id)
    assert (drill.type, drill.title, drill.drill_of, drill.status) == (
        IncidentType.DRILL, "Crashed mid-way", gameday_id, Status.RESOLVED)
    events = journal.events(gameday_id)
    assert [gev.GameDayIncident.of(e).incident for e in events if e.type == gev.INCIDENT] == [incident_id]
    assert drill.at(Milestone.STARTED) == wall(first(events, gev.FAULT_INJECTED).ts_wall)
    assert cli("gameday", "recover", gameday_id).code == 0
    assert len(drills(open_journal())) == 1


def test_the_drill_severity_is_checked_with_the_scenario(tmp_path: Path, cli: CliRunner) -> None:
    scenario, _ = write_scenario(tmp_path, response="{mode: manual, timeout: 1m}", metadata="  severity: SEV9\n")
    result = cli("validate", str(scenario))
    assert result.code == 1, result.out + result.err
    assert "metadata.severity" in result.out + result.err and "Traceback" not in result.err



def test_acknowledging_the_drill_acknowledges_the_game_day_and_sigterm_resolves_it(
    tmp_path: Path, fireline_home: Path, cli: CliRunner
) -> None:
    scenario, flags = write_scenario(tmp_path, response="{mode: manual, timeout: 5m}", duration="10m")
    before = flags.read_bytes()
    with gameday(fireline_home, scenario, flags) as gd:
        incident_id = gd.wait_event(iev.MILESTONE).run_id
        # A responder acknowledges the drill as they would a real incident: the game day counts it.
        acked = cli("incident", "ack", incident_id, "--as", "alice")
        assert acked.code == 0, acked.out + acked.err
        wait_for(lambda: "gameday.acknowledged by alice" in gd.output, "the game day to see the acknowledgement")
        gd.signal_group(signal.SIGTERM)
        assert gd.wait() == 130, gd.output
        output = gd.output
    gameday_id = gd.gameday_id()
    assert flags.read_bytes() == before  # the engine's guarantee holds with a drill open
    assert f"drill incident: {incident_id}" in output
    journal = open_journal()
    drill = load(journal, incident_id)
    assert drill.status is Status.RESOLVED  # the game day is over and nothing is left in place
    assert f"game day {gameday_id} finished: interrupted (SIGTERM)" in _notes(journal, incident_id)

    events = journal.events(gameday_id)
    acknowledged = [e for e in events if e.type == gev.ACKNOWLEDGED]
    assert [(e.actor, gev.GameDayAcknowledged.of(e).via) for e in acknowledged] == [("alice", "incident")]
    ack = drill.milestones[Milestone.ACKNOWLEDGED]
    assert (ack.actor, ack.source) == ("alice", "command")  # the responder's own acknowledgement counts
    metrics = {m.name: m.seconds for m in gev.GameDayFinished.of(first(events, gev.FINISHED)).metrics}
    drill_tta = (ack.at - drill.at(Milestone.STARTED)).total_seconds()  # type: ignore[operator]
    assert drill_tta == pytest.approx(metrics["time_to_acknowledge"], abs=0.5)


def test_a_fault_left_in_place_keeps_the_drill_open_until_recover(tmp_path: Path, fireline_home: Path,
                                                                  cli: CliRunner) -> None:
    scenario, flags = write_scenario(tmp_path, response="{mode: manual, timeout: 5m}", duration="1s")
    away = tmp_path / "flags.away"
    with gameday(fireline_home, scenario, flags) as gd:
        incident_id = gd.wait_event(iev.MILESTONE).run_id
        flags.rename(away)  # the flag store is gone when the fault's time is up: its revert fails
        wait_for(lambda: "REVERT FAILED" in gd.output, "the timed revert to fail", 30)
        gd.signal_group(signal.SIGTERM)
        assert gd.wait() == 1, gd.output
    gameday_id = gd.gameday_id()
    drill = load(open_journal(), incident_id)
    assert drill.status is Status.INVESTIGATING
    assert f"the drill stays open until `fireline gameday recover {gameday_id}`" in _notes(open_journal(), incident_id)

    away.rename(flags)
    fixed = cli("gameday", "recover", gameday_id)
    assert fixed.code == 0, fixed.out + fixed.err
    assert f"drill incident {incident_id}: resolved" in fixed.out
    assert load(open_journal(), incident_id).status is Status.RESOLVED
    assert len(drills(open_journal())) == 1


def test_a_drill_on_the_team_store(tmp_path: Path, fireline_home: Path, cli: CliRunner, pg_db: str,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The same drill on the shared PostgreSQL store (FIRELINE_STORE)."""
    monkeypatch.setenv("FIRELINE_STORE", pg_db)
    gd, incident_id = run_drill(tmp_path, cli)
    assert load(open_journal(), incident_id).severity is Severity.SEV3  # the default
    assert not (fireline_home / "journal.db").exists()  # nothing went to the local store
    assert json.loads(cli("gameday", "report", gd, "--format", "json").out)["incident"] == incident_id
