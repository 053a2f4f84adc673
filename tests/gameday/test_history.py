"""History over a real journal: two game days of one scenario with different detection times."""

from __future__ import annotations

import time
from pathlib import Path

from runner.gameday import events as gev
from runner.gameday.history import history, render_history, trend
from runner.gameday.metrics import measure
from runner.journal.store import Journal

OBJECTIVES = {"time_to_detect": 120.0, "time_to_recover": 600.0}


def _game_day(journal: Journal, gd: str, scenario: str, detect_after: float, *, finish: bool = True) -> None:
    """A compressed game day; `detect_after` seconds pass between injection and detection."""
    journal.append(gd, gev.GAMEDAY_STARTED, data={"scenario": scenario, "title": f"{scenario} drill",
                                                  "objectives": OBJECTIVES, "interval": 0.02})
    journal.append(gd, gev.FAULT_INJECTED, step_id="exhaust")
    time.sleep(detect_after)
    journal.append(gd, gev.DETECTED, data={"signal": "steady_state_violated"})
    journal.append(gd, gev.ACKNOWLEDGED, actor="alice")
    journal.append(gd, gev.RECOVERED)
    journal.append(gd, gev.FAULT_REVERTED, step_id="exhaust", data={"ok": True})
    if finish:
        metrics = [m.record().to_data() for m in measure(journal.events(gd), OBJECTIVES)]
        journal.append(gd, gev.FINISHED, data={"status": "passed", "metrics": metrics})
    time.sleep(0.002)  # distinct wall-clock start times order the game days


def test_newer_game_day_is_compared_with_the_previous_one(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db")
    _game_day(journal, "gd-1-slow", "checkout", 0.25)
    _game_day(journal, "gd-2-other", "search", 0.0)
    _game_day(journal, "gd-3-fast", "checkout", 0.05)
    _game_day(journal, "gd-4-slower", "checkout", 0.3)

    rows = history(journal, "checkout")
    assert [r.id for r in rows] == ["gd-4-slower", "gd-3-fast", "gd-1-slow"]
    slower, fast, slow = rows
    detect = fast.metrics["time_to_detect"]
    assert fast.previous_id == "gd-1-slow"
    assert detect.trend == "better" and detect.arrow == "↑"
    assert detect.delta is not None and -0.3 < detect.delta < -0.1
    assert slower.metrics["time_to_detect"].trend == "worse" and slower.previous_id == "gd-3-fast"
    assert slower.metrics["time_to_mitigate"].trend == "same"  # never happened in either
    assert slow.previous_id is None and slow.metrics["time_to_detect"].trend is None

    text = render_history(rows)
    assert all(len(line) <= 100 for line in text.splitlines())
    assert text.splitlines()[0] == "Game days of checkout"
    fast_line = next(line for line in text.splitlines() if line.startswith("gd-3-fast "))
    assert "↑" in fast_line and "passed" in fast_line
    assert "↓" in next(line for line in text.splitlines() if line.startswith("gd-4-slower "))


def test_all_scenarios_and_unfinished_game_days(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db")
    _game_day(journal, "gd-1", "checkout", 0.0)
    _game_day(journal, "gd-2", "a-scenario-with-a-rather-long-name-that-must-be-truncated", 0.0)
    _game_day(journal, "gd-3", "checkout", 0.0, finish=False)

    rows = history(journal, None)
    assert [r.id for r in rows] == ["gd-3", "gd-2", "gd-1"]
    assert rows[0].status == "incomplete" and rows[0].previous_id is None  # nothing to judge yet
    assert rows[0].metrics["time_to_detect"].seconds is not None  # measured from its events
    text = render_history(rows)
    assert "SCENARIO" in text and all(len(line) <= 100 for line in text.splitlines())
    assert history(journal, "nope") == [] and "No game days" in render_history([])


def test_trend_rules() -> None:
    assert trend(1.0, 3.0, 1.0) == "better"
    assert trend(3.0, 1.0, 1.0) == "worse"
    assert trend(1.5, 1.0, 1.0) == "same"  # within one probe interval
    assert trend(None, 1.0, 1.0) == "worse" and trend(1.0, None, 1.0) == "better"
