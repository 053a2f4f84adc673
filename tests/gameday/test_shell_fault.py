"""A shell.run fault (a local command with a declared revert) in real game days, run as `fireline gameday
run` in its own session: its templated revert runs when the duration ends, on Ctrl-C, on SIGTERM, and from
`fireline gameday recover` after a kill -9. What a user sees: the marker file the fault creates is gone."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.gameday.conftest import GameDayProcess, fireline_argv, game_day_process, journal_events, types_of
from tests.gameday.flagfile import environment, finished_status, still_injected


def scenario(tmp_path: Path, duration: str) -> Path:
    path = tmp_path / "maintenance.yaml"
    path.write_text(
        f"""\
apiVersion: fireline/v1
kind: GameDay
metadata: {{name: maintenance-mode, title: The service is put in maintenance mode}}
inputs:
  marker: {{type: string, required: true}}
steady_state:
  interval: 100ms
  settle: 300ms
  probes:
    - id: not-in-maintenance
      probe: shell.run
      with: {{argv: [sh, -c, 'test ! -e "$0"', "{{{{ inputs.marker }}}}"], timeout: 5s}}
      timeout: 5s
faults:
  - id: maintenance
    action: shell.run
    with: {{argv: [touch, "{{{{ inputs.marker }}}}"]}}
    revert: {{argv: [rm, "{{{{ inputs.marker }}}}"]}}
    duration: {duration}
detection:
  - steady_state_violated: true
response: {{mode: manual, timeout: 1m}}
guardrails: {{max_duration: 2m}}
""",
        encoding="utf-8",
    )
    return path


@contextlib.contextmanager
def shell_gameday(home: Path, path: Path, marker: Path) -> Iterator[GameDayProcess]:
    argv = fireline_argv("gameday", "run", str(path), "-i", f"marker={marker}", "--report", "none")
    with game_day_process(argv, home, environment(home)) as gd:
        yield gd


def reverts(home: Path, gameday_id: str) -> list[tuple[str | None, bool, str]]:
    return [(e.step_id, e.data["ok"], e.data["why"]) for e in journal_events(home, gameday_id)
            if e.type == "fault.reverted"]


def test_the_templated_revert_runs_when_the_duration_ends(tmp_path: Path, fireline_home: Path) -> None:
    marker = tmp_path / "maintenance-on"
    with shell_gameday(fireline_home, scenario(tmp_path, "1s"), marker) as gd:
        gd.wait_event("gameday.detected", timeout=60)
        assert marker.exists()  # the fault really ran
        code = gd.wait(60)
        output = gd.output
        gameday_id = gd.gameday_id()

    assert not marker.exists(), output
    assert reverts(fireline_home, gameday_id) == [("maintenance", True, "duration")], output
    assert "fault maintenance reverted (duration): ran the revert command" in output
    events = journal_events(fireline_home, gameday_id)
    injecting = next(e for e in events if e.type == "fault.injecting")
    assert injecting.data["revert"] == {"argv": ["rm", str(marker)]}  # rendered before the change, for recover
    assert types_of(events).index("fault.reverted") < types_of(events).index("gameday.recovered")
    assert code == 1 and "Traceback" not in output  # nobody acknowledged: the verdict says so


@pytest.mark.parametrize(("sig", "said"), [(signal.SIGINT, "interrupted (Ctrl-C)"),
                                           (signal.SIGTERM, "interrupted (SIGTERM)")], ids=["SIGINT", "SIGTERM"])
def test_a_signal_reverts_the_shell_fault(tmp_path: Path, fireline_home: Path, sig: signal.Signals,
                                          said: str) -> None:
    marker = tmp_path / "maintenance-on"
    with shell_gameday(fireline_home, scenario(tmp_path, "5m"), marker) as gd:
        gd.wait_event("gameday.detected", timeout=60)
        assert marker.exists()
        gd.signal_group(sig)
        code = gd.wait(60)
        output = gd.output
        gameday_id = gd.gameday_id()

    assert code == 130, output
    assert said in output and "Traceback" not in output
    assert not marker.exists(), output
    assert reverts(fireline_home, gameday_id) == [("maintenance", True, "interrupted")]
    assert still_injected(journal_events(fireline_home, gameday_id)) == set()
    assert finished_status(fireline_home, gameday_id) == "interrupted"


def test_kill_9_then_recover_runs_the_revert(tmp_path: Path, fireline_home: Path, cli: Callable[..., Cli]) -> None:
    marker = tmp_path / "maintenance-on"
    with shell_gameday(fireline_home, scenario(tmp_path, "5m"), marker) as gd:
        gd.wait_event("fault.injected", timeout=60)
        gd.signal_group(signal.SIGKILL)
        assert gd.wait(30) == -signal.SIGKILL
        gameday_id = gd.gameday_id()
    assert marker.exists()  # nobody reverted it yet

    result = cli("gameday", "recover", gameday_id)
    assert result.code == 0, result.out + result.err
    assert not marker.exists()
    assert reverts(fireline_home, gameday_id) == [("maintenance", True, "recover")]
