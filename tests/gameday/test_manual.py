"""A manual game day with a simulated on-call engineer in other terminals: they acknowledge, write a note
and run the runbook linked to the game day; fireline measures them."""

from __future__ import annotations

import json
import re

from tests.gameday.conftest import (
    LEAK_APP,
    REPO,
    SCENARIOS,
    Ev,
    Lab,
    backends,
    fireline,
    gameday_process,
    health,
    journal_events,
    types_of,
)

MANUAL = (SCENARIOS / "checkout-db-exhaustion-manual.yaml").relative_to(REPO)
NOTE = "looking at pg_stat_activity"


def only(events: list[Ev], type_: str) -> Ev:
    found = [e for e in events if e.type == type_]
    assert len(found) == 1, f"{type_}: {len(found)} in {types_of(events)}"
    return found[0]


def metric(events: list[Ev], name: str) -> dict[str, object]:
    return next(m for m in only(events, "gameday.finished").data["metrics"] if m["name"] == name)


def test_simulated_responder(lab: Lab) -> None:
    with gameday_process(lab, MANUAL) as gd:
        gd.wait_event("gameday.detected")
        gameday_id = gd.gameday_id()
        assert health(lab.service_url) == 503  # a real outage is going on

        ack = fireline(lab, "gameday", "ack", gameday_id, "--as", "alice")
        assert ack.returncode == 0, ack.stdout + ack.stderr
        assert f"acknowledged game day {gameday_id} as alice" in ack.stdout
        note = fireline(lab, "gameday", "note", gameday_id, NOTE)
        assert note.returncode == 0, note.stdout + note.stderr
        run = fireline(lab, "run", "runbooks/db-connection-exhaustion.yaml", "--gameday", gameday_id,
                       "--approve-all", "--reason", "drill", "-i", "idle_for=0s", "-i", "threshold_pct=50",
                       "--output", "plain")
        assert run.returncode == 0, run.stdout + run.stderr
        match = re.search(r"\bid (\S+)", run.stdout)
        assert match, run.stdout
        run_id = match.group(1)

        code = gd.wait(30)
        output = gd.output

    assert code == 0, output
    assert "PASSED" in output
    # The game day showed what the responders did, live.
    assert "gameday.acknowledged by alice" in output and f"gameday.note by responder: {NOTE}" in output
    events = journal_events(lab.home, gameday_id)
    injected, ack_event = only(events, "fault.injected"), only(events, "gameday.acknowledged")
    assert (ack_event.actor, ack_event.data) == ("alice", {"via": "ack"})  # the linked run did not re-ack
    assert only(events, "response.started").data["run_id"] == run_id
    done = only(events, "response.finished")
    assert done.data == {"run_id": run_id, "status": "succeeded"}
    order = [only(events, t).seq for t in ("fault.injected", "gameday.detected", "gameday.acknowledged",
                                           "gameday.note", "response.started", "response.finished",
                                           "gameday.recovered", "fault.reverted", "gameday.finished")]
    assert order == sorted(order), types_of(events)
    assert only(events, "gameday.finished").data["status"] == "passed"

    # Acknowledge is alice's ack; mitigation is the linked run finishing (both from fault.injected).
    assert metric(events, "time_to_acknowledge")["seconds"] == ack_event.ts_mono - injected.ts_mono
    assert metric(events, "time_to_mitigate")["seconds"] == done.ts_mono - injected.ts_mono
    for name in ("time_to_detect", "time_to_acknowledge", "time_to_mitigate", "time_to_recover"):
        assert metric(events, name)["passed"] is True, name

    # The linked run knows its game day: its parent.
    started = [e for e in journal_events(lab.home, run_id) if e.type == "run.started"]
    assert started and started[0].data["parent"] == gameday_id

    report = fireline(lab, "gameday", "report", gameday_id, "--format", "json")
    assert report.returncode == 0, report.stderr
    doc = json.loads(report.stdout)
    assert doc["status"] == "passed"
    assert doc["response_run_ids"] == [run_id]
    assert [(r["run_id"], r["status"]) for r in doc["responses"]] == [(run_id, "succeeded")]
    assert [(n["actor"], n["text"]) for n in doc["notes"]] == [("responder", NOTE)]
    assert any(e["type"] == "gameday.acknowledged" and e["actor"] == "alice" for e in doc["timeline"])
    assert backends(lab.primary_dsn, LEAK_APP) == 0
