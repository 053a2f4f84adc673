"""A bug in a probe's action is not an outage detection: the game day stops, reverts every fault, records why
and exits as a bug (4) — the response runbook never starts. A probe that fails for a real reason (the command
exits non-zero) is still a failing probe that detects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.actions import registry
from tests.conftest import write
from tests.gameday.conftest import CliRunner, journal_events, types_of
from tests.gameday.flagfile import finished_status, flags_text, scenario_text, still_injected, with_response


@pytest.fixture
def buggy_shell_probe(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`shell.run` resolves to an action whose failure path crashes (see buggy_action.py)."""
    monkeypatch.setitem(registry.BUILTIN, "shell.run", "tests.gameday.buggy_action:RunWithABug")
    registry.get_action.cache_clear()
    yield
    registry.get_action.cache_clear()


def drill(tmp_path: Path) -> tuple[Path, Path, Path, str]:
    flag_file = write(tmp_path / "flags" / "flagd.json", flags_text(3))
    marker = tmp_path / "the-response-ran"
    response = with_response(tmp_path, marker)
    scenario = write(tmp_path / "drill.yaml", scenario_text(duration="5m", response=response))
    return scenario, flag_file, marker, flag_file.read_text(encoding="utf-8")


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "FIRELINE_DEBUG"])
def test_a_probe_bug_stops_and_reverts_instead_of_detecting(buggy_shell_probe: None, cli: CliRunner, tmp_path: Path,
                                                            fireline_home: Path, monkeypatch: pytest.MonkeyPatch,
                                                            debug: bool) -> None:
    scenario, flag_file, marker, original = drill(tmp_path)
    if debug:
        monkeypatch.setenv("FIRELINE_DEBUG", "1")

    result = cli("gameday", "run", str(scenario), "-i", f"flag_file={flag_file}", "--report", "none")

    assert result.code == 4, result.out + result.err
    said = "probe flag-on hit a bug in action shell.run: KeyError: 'exit_code'"
    assert said in result.out and said in result.err
    assert "internal error" in result.err
    assert ("Traceback" in result.err) is debug and ("FIRELINE_DEBUG=1" in result.err) is not debug
    assert "DETECTED" not in result.out and "ERROR" in result.out

    [gameday_id] = [e.run_id for e in journal_events(fireline_home, types=("gameday.started",))]
    events = journal_events(fireline_home, gameday_id)
    assert "gameday.detected" not in types_of(events) and "response.started" not in types_of(events)
    assert "steady_state.violated" not in types_of(events)
    assert not marker.exists(), "the response runbook ran"
    assert [e.data["reason"] for e in events if e.type == "gameday.aborted"] == [said]
    assert [(e.step_id, e.data["ok"], e.data["why"]) for e in events if e.type == "fault.reverted"] == [
        ("kill-switch", True, "error")]
    assert still_injected(events) == set()
    assert finished_status(fireline_home, gameday_id) == "error"
    assert flag_file.read_text(encoding="utf-8") == original


def test_a_probe_that_fails_for_a_real_reason_still_detects(cli: CliRunner, tmp_path: Path,
                                                            fireline_home: Path) -> None:
    """The same drill with the real shell.run: grep exits 1, the probe fails, the response runbook runs."""
    scenario, flag_file, marker, original = drill(tmp_path)
    scenario.write_text(scenario.read_text(encoding="utf-8").replace("duration: 5m", "duration: 500ms"),
                        encoding="utf-8")

    result = cli("gameday", "run", str(scenario), "-i", f"flag_file={flag_file}", "--report", "none")

    assert result.code == 0, result.out + result.err
    events = journal_events(fireline_home)
    assert "gameday.detected" in types_of(events) and "response.started" in types_of(events)
    assert marker.exists()
    assert flag_file.read_text(encoding="utf-8") == original


def test_a_probe_bug_before_the_fault_is_a_bug_not_an_unhealthy_system(buggy_shell_probe: None, cli: CliRunner,
                                                                       tmp_path: Path, fireline_home: Path) -> None:
    scenario, flag_file, marker, _ = drill(tmp_path)
    flag_file.write_text(flags_text(3).replace('"state": "ENABLED"', '"state": "DISABLED"'), encoding="utf-8")
    before = flag_file.read_bytes()  # the probe's command fails from the start: the bug shows at once

    result = cli("gameday", "run", str(scenario), "-i", f"flag_file={flag_file}", "--report", "none")

    assert result.code == 4, result.out + result.err
    assert "probe flag-on hit a bug in action shell.run" in result.err
    assert "the steady state does not hold" not in result.out
    events = journal_events(fireline_home)
    assert "fault.injecting" not in types_of(events)
    assert [e.data["status"] for e in events if e.type == "gameday.finished"] == ["error"]
    assert flag_file.read_bytes() == before and not marker.exists()
