"""Whole game days, in-process, against the real lab: the automated DB-exhaustion and bad-rollout scenarios,
and a game day that refuses to start on an unhealthy system."""

from __future__ import annotations

import io
from pathlib import Path

import yaml

from runner.gameday.run import GameDayResult
from runner.gameday.session import run_gameday
from runner.journal.store import Journal
from tests.gameday.conftest import (
    GOOD_IMAGE,
    HOG_APP,
    LEAK_APP,
    REPO,
    SCENARIOS,
    CliRunner,
    Ev,
    Lab,
    backends,
    deployment_image,
    health,
    hog_connections,
    journal_events,
    rollout_complete,
    types_of,
    wait_for,
)

DB_EXHAUSTION = SCENARIOS / "checkout-db-exhaustion.yaml"
BAD_ROLLOUT = SCENARIOS / "checkout-bad-rollout.yaml"


def run(lab: Lab, scenario: Path) -> tuple[GameDayResult, list[Ev], str]:
    out = io.StringIO()
    result = run_gameday(scenario, {"service_url": lab.service_url}, "tester", Journal(lab.home / "journal.db"), out)
    return result, journal_events(lab.home, result.gameday_id), out.getvalue()


def first(events: list[Ev], type_: str) -> Ev:
    found = [e for e in events if e.type == type_]
    assert found, f"no {type_} in {types_of(events)}"
    return found[0]


def runbook_step_ids(path: Path) -> list[str]:
    return [s["id"] for s in yaml.safe_load(path.read_text(encoding="utf-8"))["steps"]]


def test_db_exhaustion_end_to_end(lab: Lab) -> None:
    result, events, out = run(lab, DB_EXHAUSTION)

    assert result.status == "passed", out
    assert result.exit_code == 0
    assert {m.name for m in result.metrics} == {"time_to_detect", "time_to_acknowledge", "time_to_mitigate",
                                                "time_to_recover"}
    assert all(m.passed is True for m in result.metrics), result.metrics

    # The story, in journal order.
    story = ("fault.injected", "gameday.detected", "gameday.acknowledged", "response.started", "response.step",
             "response.finished", "gameday.recovered", "fault.reverted")
    seen = [t for t in types_of(events) if t in story]
    collapsed = [t for i, t in enumerate(seen) if i == 0 or seen[i - 1] != t]
    assert collapsed == list(story), seen
    chosen = [e for e in events if e.type in story]
    assert [e.ts_mono for e in chosen] == sorted(e.ts_mono for e in chosen), "journal order is not time order"

    steps = [e for e in events if e.type == "response.step"]
    assert [e.step_id for e in steps] == runbook_step_ids(REPO / "runbooks/db-connection-exhaustion.yaml")
    assert {e.data["status"] for e in steps} == {"ok"}
    run_id = first(events, "response.started").data["run_id"]
    assert {e.data["run_id"] for e in steps} == {run_id}
    assert first(events, "response.finished").data == {"run_id": run_id, "status": "succeeded"}
    assert first(events, "gameday.acknowledged").data["via"] == "runbook"
    reverted = [e for e in events if e.type == "fault.reverted"]
    assert [(e.step_id, e.data["ok"], e.data["why"]) for e in reverted] == [("leaking-pool", True, "finished")]
    assert first(events, "gameday.finished").data["status"] == "passed"

    # The fault really happened: the leak held every slot the checkout role had.
    injected = first(events, "fault.injected")
    assert injected.data["state"]["application_name"] == LEAK_APP
    assert injected.data["state"]["held"] >= 10 and "remaining connection slots" in injected.data["state"]["refused"]

    # And it is really gone.
    assert backends(lab.primary_dsn, LEAK_APP) == 0
    assert health(lab.service_url) == 200


def test_detection_accuracy(lab: Lab) -> None:
    """The outage starts while the fault is being injected (checkout fails from the moment the leak holds
    the last slot), i.e. *before* fault.injected, so the true time to detect is at most what is measured
    from fault.injected. The probe ticks at a fixed rate, so the first failing answer after the fault comes
    within one interval plus the probe's own request time."""
    result, events, out = run(lab, DB_EXHAUSTION)
    assert result.status == "passed", out
    started = first(events, "gameday.started")
    interval = started.data["interval"]
    assert interval == 0.25
    injected, detected = first(events, "fault.injected"), first(events, "gameday.detected")
    probe_failed = first(events, "probe.failed")
    ttd = next(m.seconds for m in result.metrics if m.name == "time_to_detect")
    assert ttd is not None
    assert ttd == detected.ts_mono - injected.ts_mono
    # 50 ms covers: the probe's request (a refused PostgreSQL login behind one HTTP request on loopback:
    # a few ms), the fsync of the durable fault.injected event that happens between its timestamp and
    # the watchers being armed, and thread scheduling. It is 20% of the interval: a detection one tick late
    # (≥ 2 intervals) still fails this.
    assert 0 < ttd <= interval + 0.05, f"detected {ttd * 1000:.0f} ms after the fault, interval {interval}s"
    # The detection came from the failing probe, in the same tick (not a later one).
    assert detected.data["signal"] == "steady_state_violated"
    assert 0 <= detected.ts_mono - probe_failed.ts_mono < 0.05


def test_bad_rollout_end_to_end(lab: Lab) -> None:
    result, events, out = run(lab, BAD_ROLLOUT)

    assert result.status == "passed", out
    assert all(m.passed is True for m in result.metrics), result.metrics
    injected = first(events, "fault.injected")
    assert injected.data["state"]["image"] == GOOD_IMAGE
    assert injected.data["state"]["broken_image"] == GOOD_IMAGE + "-broken"
    order = [first(events, t).seq for t in ("fault.injected", "gameday.detected", "response.started",
                                            "response.finished", "gameday.recovered", "fault.reverted")]
    assert order == sorted(order)
    steps = {e.step_id: e.data["status"] for e in events if e.type == "response.step"}
    assert steps == {"history": "ok", "detect": "failed", "undo": "ok", "confirm": "ok"}
    (reverted,) = [e for e in events if e.type == "fault.reverted"]
    assert reverted.data["ok"] is True
    assert deployment_image(lab.kubeconfig) == GOOD_IMAGE
    wait_for(lambda: rollout_complete(lab.kubeconfig), "the rollout of checkout to complete", 10)
    assert health(lab.service_url) == 200


def test_never_starts_on_an_unhealthy_system(lab: Lab, cli: CliRunner) -> None:
    with hog_connections(lab.endpoints.app_dsn) as held:
        assert held >= 10
        assert health(lab.service_url) == 503
        result = cli("gameday", "run", str(DB_EXHAUSTION.relative_to(REPO)), "-i", f"service_url={lab.service_url}",
                     "--report", "none")
        assert result.code == 1, result.out + result.err
        assert "NOT-STARTED" in result.out and "no fault was injected" in result.out
        assert "steady state (before) checkout-health: FAILING" in result.out
        assert "Traceback" not in result.out + result.err
        (gameday_id,) = {e.run_id for e in journal_events(lab.home, types=("gameday.started",))}
        events = journal_events(lab.home, gameday_id)
        assert "fault.injecting" not in types_of(events) and "fault.injected" not in types_of(events)
        assert first(events, "steady_state.checked").data["ok"] is False
        assert first(events, "gameday.finished").data["status"] == "not-started"
        assert backends(lab.primary_dsn, LEAK_APP) == 0  # nothing was injected, even for a moment
        assert backends(lab.primary_dsn, HOG_APP) == held
    wait_for(lambda: health(lab.service_url) == 200, "checkout to be healthy once we let go", 10)
