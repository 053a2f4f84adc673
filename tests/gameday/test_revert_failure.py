"""A revert that fails is never forgotten: the fault stays in the injected set, the final cleanup tries it
again, the terminal names `fireline gameday recover ID`, and `recover` fails (exit 1) until it has really
reverted it."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from tests.conftest import wait_for, write
from tests.gameday.conftest import REPO, fireline_argv, journal_events
from tests.gameday.flagfile import environment, finished_status, flags_text, gameday, scenario_text, still_injected


def recover(home: Path, gameday_id: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(fireline_argv("gameday", "recover", gameday_id), cwd=REPO, env=environment(home),
                          capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)


def reverts(home: Path, gameday_id: str) -> list[tuple[bool, str]]:
    return [(e.data["ok"], e.data["why"]) for e in journal_events(home, gameday_id) if e.type == "fault.reverted"]


def test_a_failed_timed_revert_is_retried_and_named(tmp_path: Path, fireline_home: Path) -> None:
    flag_file = write(tmp_path / "flags" / "flagd.json", flags_text(3))
    original = flag_file.read_bytes()
    scenario = write(tmp_path / "drill.yaml", scenario_text(duration="1s"))
    away = tmp_path / "flagd.json.away"

    with gameday(fireline_home, scenario, flag_file) as gd:
        gd.wait_event("fault.injected")
        gameday_id = gd.gameday_id()
        flag_file.rename(away)  # the flag store is gone when the fault's time is up
        wait_for(lambda: "REVERT FAILED" in gd.output, "the timed revert to fail", 30)
        gd.signal_group(signal.SIGTERM)
        code = gd.wait()
        output = gd.output

    hint = f"run `fireline gameday recover {gameday_id}` once the cause is fixed"
    assert code == 1, output
    assert f"FAILED (a fault could not be reverted: {hint})" in output
    # Tried when its time was up, and again by the final cleanup: still in the injected set.
    assert reverts(fireline_home, gameday_id) == [(False, "duration"), (False, "interrupted")]
    assert still_injected(journal_events(fireline_home, gameday_id)) == {"kill-switch"}
    assert finished_status(fireline_home, gameday_id) == "failed"

    away.rename(flag_file)
    fixed = recover(fireline_home, gameday_id)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert flag_file.read_bytes() == original
    assert still_injected(journal_events(fireline_home, gameday_id)) == set()


def test_recover_fails_until_the_fault_is_really_reverted(tmp_path: Path, fireline_home: Path) -> None:
    flag_file = write(tmp_path / "flags" / "flagd.json", flags_text(3))
    original = flag_file.read_bytes()
    scenario = write(tmp_path / "drill.yaml", scenario_text(duration="5m"))
    away = tmp_path / "flagd.json.away"

    with gameday(fireline_home, scenario, flag_file) as gd:
        gd.wait_event("fault.injected")
        gameday_id = gd.gameday_id()
        gd.signal_group(signal.SIGKILL)
        gd.wait()
    flag_file.rename(away)

    failed = recover(fireline_home, gameday_id)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "fault kill-switch: REVERT FAILED: cannot read flagd file" in failed.stdout
    assert "1 fault(s) could not be reverted: kill-switch" in failed.stderr
    assert f"run `fireline gameday recover {gameday_id}` again" in failed.stderr
    assert still_injected(journal_events(fireline_home, gameday_id)) == {"kill-switch"}

    away.rename(flag_file)
    fixed = recover(fireline_home, gameday_id)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "fault kill-switch: restored flag new-checkout" in fixed.stdout
    assert flag_file.read_bytes() == original
    assert reverts(fireline_home, gameday_id) == [(False, "recover"), (True, "recover")]
    assert still_injected(journal_events(fireline_home, gameday_id)) == set()
    assert "nothing to revert" in recover(fireline_home, gameday_id).stdout
