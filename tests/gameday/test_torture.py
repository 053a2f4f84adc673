"""Signals at random moments of real game days: whatever the moment, the fault ends up reverted.

`fireline gameday run` on a cheap real scenario (a flags.set fault with `duration:` on a flagd file, a grep
probe, a response runbook) is started again and again; at a random moment between the game day's start and
its usual end it gets SIGINT or SIGTERM (chosen at random), or kill -9 followed by `fireline gameday recover`.
Every time: the flags file is byte-identical to before, no temp file is left, every fault the journal says
was injected has an ok `fault.reverted`, the game day is finished in the journal, and the exit code is 130
(0 when it finished before the signal came; killed by the signal if it came while the interpreter was
exiting after the command had finished and printed its result).

TORTURE_SEED=N replays a sequence; the figures are printed at the end (pytest -s).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import write
from tests.gameday.conftest import REPO, fireline_argv, gameday_ids, journal_events
from tests.gameday.flagfile import (
    environment,
    finished_status,
    flags_text,
    gameday,
    scenario_text,
    still_injected,
    with_response,
)

RUNS = 26
KILLS = 5  # of the RUNS, this many get kill -9 and then `recover`
STOPPING_LINES = ("the game day stops after that", "the game day stops once every fault is reverted")


@dataclass(frozen=True)
class Trial:
    index: int
    sig: signal.Signals
    delay: float  # seconds after `gameday.started` was seen in the journal
    code: int
    status: str | None
    held: bool  # the signal arrived during a revert (or the final bookkeeping) and waited for it


def one_game_day(home: Path, scenario: Path, flag_file: Path, sig: signal.Signals | None, delay: float,
                 index: int) -> tuple[int, str, str, float]:
    """Run one game day, signal it `delay` seconds after it started; (exit code, id, output, seconds run)."""
    with gameday(home, scenario, flag_file, report="md") as gd:
        gameday_id = gd.gameday_id(timeout=30)
        seen = time.monotonic()
        if sig is not None:
            # The random moment. Not a wait for something to happen: any moment is a valid one.
            time.sleep(delay)
            if gd.proc.poll() is None:
                gd.signal_group(sig)
        code = gd.wait(60)
        return code, gameday_id, gd.output, time.monotonic() - seen


def recover(home: Path, gameday_id: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(fireline_argv("gameday", "recover", gameday_id), cwd=REPO, env=environment(home),
                          capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_signals_at_random_moments_always_leave_the_fault_reverted(tmp_path: Path) -> None:
    seed = int(os.environ.get("TORTURE_SEED") or time.time_ns() % 1_000_000)
    rng = random.Random(seed)
    flag_file = write(tmp_path / "flags" / "flagd.json", flags_text(4000))  # ~0.5 MB: a revert takes a moment
    original = flag_file.read_bytes()
    scenario = write(tmp_path / "drill.yaml",
                     scenario_text(duration="500ms", response=with_response(tmp_path, tmp_path / "responded")))
    started = time.monotonic()

    # How long an undisturbed game day runs from its start in the journal: the window for the random moments.
    code, gameday_id, output, span = one_game_day(tmp_path / "calibration", scenario, flag_file, None, 0, -1)
    assert code == 0 and finished_status(tmp_path / "calibration", gameday_id) == "passed", output
    assert flag_file.read_bytes() == original

    kills = set(rng.sample(range(RUNS), KILLS))
    trials: list[Trial] = []
    late = 0  # signals that came while the interpreter exited, after the command had finished
    for index in range(RUNS):
        sig = signal.SIGKILL if index in kills else rng.choice([signal.SIGINT, signal.SIGTERM])
        delay = rng.uniform(0, span)
        home = tmp_path / f"run-{index}"
        code, gameday_id, output, _ = one_game_day(home, scenario, flag_file, sig, delay, index)
        context = f"seed {seed}, run {index}, {sig.name} {delay:.3f}s after the start, exit {code}:\n{output}"
        if sig == signal.SIGKILL and code == -signal.SIGKILL:
            recovered = recover(home, gameday_id)
            assert recovered.returncode == 0, context + recovered.stdout + recovered.stderr
            assert "Traceback" not in recovered.stderr, context + recovered.stderr
        elif code in (-signal.SIGINT, -signal.SIGTERM):
            # Only acceptable once the command was done: Python restores the default actions while the
            # interpreter exits, so a signal in those last milliseconds kills the finished process.
            assert "\nreport: " in output, context
            late += 1
        else:
            assert code in (130, 0), context
            assert "Traceback" not in output, context
        events = journal_events(home, gameday_id)
        status = finished_status(home, gameday_id)
        assert flag_file.read_bytes() == original, context
        assert sorted(p.name for p in flag_file.parent.iterdir()) == ["flagd.json"], context
        assert still_injected(events) == set(), context
        assert status in ("passed", "interrupted"), context
        if code == 0:
            assert status == "passed", context
        if status == "interrupted" and sig != signal.SIGKILL:
            assert code == 130, context
        if code < 0 and sig != signal.SIGKILL:
            assert status == "passed", context
        assert gameday_ids(home) == [gameday_id], context
        trials.append(Trial(index, sig, delay, code, status, any(line in output for line in STOPPING_LINES)))

    elapsed = time.monotonic() - started
    signals = Counter(t.sig.name for t in trials)
    outcomes = Counter((t.sig.name, t.code, t.status) for t in trials)
    print(f"\ngame-day torture (seed {seed}): {RUNS} runs + 1 calibration in {elapsed:.1f}s "
          f"(an undisturbed game day runs {span:.2f}s); signals {dict(signals)}; "
          f"{sum(t.held for t in trials)} landed in a revert or the final bookkeeping and waited for it; "
          f"{late} came while the finished process exited; reverts complete {RUNS}/{RUNS}; "
          f"outcomes {dict(outcomes)}")
