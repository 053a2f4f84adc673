"""A signal that arrives while a timed revert (`duration:`) is running: the revert finishes, is recorded,
and only then does the game day stop (exit 130) — the flag is back, byte for byte."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.gameday.conftest import journal_events
from tests.gameday.flagfile import finished_status, flags_text, gameday, scenario_text, still_injected

# ~13 MB: reading, splicing, writing and reading back such a file takes long enough (half a second, more on
# a loaded machine) for a signal sent when the revert starts to arrive before it ends.
BIG_FILLER = 80_000
REVERT_STARTED = "enabled: false → true"  # the revert's own progress line: it has read the file, now it writes


@pytest.fixture(scope="module")
def big_flags() -> str:
    return flags_text(BIG_FILLER)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_a_timed_revert_lets_it_finish(tmp_path: Path, fireline_home: Path, big_flags: str,
                                                     sig: signal.Signals) -> None:
    flag_file = tmp_path / "flags" / "flagd.json"
    flag_file.parent.mkdir()
    flag_file.write_text(big_flags, encoding="utf-8")
    original = flag_file.read_bytes()
    scenario = tmp_path / "drill.yaml"
    scenario.write_text(scenario_text(duration="1s"), encoding="utf-8")

    with gameday(fireline_home, scenario, flag_file) as gd:
        gd.wait_event("fault.injected", timeout=60)
        wait_for(lambda: REVERT_STARTED in gd.output or gd.proc.poll() is not None, "the timed revert to start", 60)
        sent_at = time.monotonic()
        gd.signal_group(sig)
        code = gd.wait(60)
        output = gd.output
        gameday_id = gd.gameday_id()

    events = journal_events(fireline_home, gameday_id)
    reverted = [e for e in events if e.type == "fault.reverted"]
    assert [(e.step_id, e.data["ok"], e.data["why"]) for e in reverted] == [("kill-switch", True, "duration")], output
    assert sent_at < reverted[0].ts_mono, "the signal was sent after the revert had finished: the test proves nothing"
    assert flag_file.read_bytes() == original
    assert sorted(p.name for p in flag_file.parent.iterdir()) == ["flagd.json"]  # no temp file left behind
    assert code == 130, output
    assert "INTERRUPTED" in output and "Traceback" not in output
    assert still_injected(events) == set()
    assert finished_status(fireline_home, gameday_id) == "interrupted"
    assert "gameday recover" not in output  # everything was reverted: nothing to tell the user to recover
