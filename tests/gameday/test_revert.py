"""Faults are always reverted: Ctrl-C, SIGTERM, and kill -9 followed by `fireline gameday recover`.

The game days run as real processes (`python -m runner gameday run ...`) in their own session; the manual
scenarios wait for people, so the test decides when the process is interrupted or killed.
"""

from __future__ import annotations

import json
import signal
import stat
from pathlib import Path

import pytest

from tests.gameday.conftest import (
    GOOD_IMAGE,
    LEAK_APP,
    REPO,
    SCENARIOS,
    TEST_SCENARIOS,
    CliRunner,
    Ev,
    Lab,
    backends,
    deployment_image,
    gameday_process,
    health,
    journal_events,
    rollout_complete,
    types_of,
    wait_for,
)

MANUAL = (SCENARIOS / "checkout-db-exhaustion-manual.yaml").relative_to(REPO)
BAD_ROLLOUT = (SCENARIOS / "checkout-bad-rollout.yaml").relative_to(REPO)
FLAGD = TEST_SCENARIOS / "flagd-kill-switch.yaml"

# Odd but valid formatting: the revert must give back these exact bytes, not just equivalent JSON.
FLAGD_TEXT = """\
{
\t"$schema": "https://flagd.dev/schema/v0/flags.json",
\t"flags": {
\t\t"banner-colour": {"state": "ENABLED", "variants": {"red": "#f00", "blue": "#00f"}, "defaultVariant": "red"},
\t\t"new-checkout": {
\t\t\t"variants": { "on": true, "off": false },
\t\t\t"defaultVariant":   "on",
\t\t\t"state": "ENABLED"
\t\t}
\t}
}
"""


def reverted(events: list[Ev]) -> list[tuple[str | None, bool, str]]:
    return [(e.step_id, e.data["ok"], e.data["why"]) for e in events if e.type == "fault.reverted"]


def finished(events: list[Ev]) -> dict[str, object]:
    done = [e.data for e in events if e.type == "gameday.finished"]
    assert len(done) == 1, types_of(events)
    return done[0]


def no_leak(lab: Lab) -> None:
    # Closing a connection ends its backend a moment later, asynchronously.
    wait_for(lambda: backends(lab.primary_dsn, LEAK_APP) == 0, "the leaked backends to be gone", 5)
    wait_for(lambda: health(lab.service_url) == 200, "checkout to be healthy", 10)


@pytest.mark.parametrize("point", ["fault.injected", "gameday.detected"])
@pytest.mark.parametrize(("sig", "said"), [(signal.SIGINT, "interrupted (Ctrl-C)"),
                                           (signal.SIGTERM, "interrupted (SIGTERM)")], ids=["SIGINT", "SIGTERM"])
def test_signal_reverts_the_fault(lab: Lab, sig: signal.Signals, said: str, point: str) -> None:
    with gameday_process(lab, MANUAL) as gd:
        gd.wait_event(point)
        gameday_id = gd.gameday_id()
        assert backends(lab.primary_dsn, LEAK_APP) >= 10  # the leak is really there
        assert health(lab.service_url) == 503
        gd.signal_group(sig)
        code = gd.wait()
        output = gd.output

    assert code == 130, output
    assert said in output and "INTERRUPTED" in output
    assert "Traceback" not in output
    events = journal_events(lab.home, gameday_id)
    assert reverted(events) == [("leaking-pool", True, "interrupted")]
    assert types_of(events).index("fault.reverted") > types_of(events).index("fault.injected")
    assert [e.data["reason"] for e in events if e.type == "gameday.aborted"] == [said]
    assert finished(events)["status"] == "interrupted"
    after = [e.data for e in events if e.type == "steady_state.checked" and e.data["phase"] == "after"]
    assert [a["ok"] for a in after] == [True]
    no_leak(lab)


@pytest.mark.parametrize("point", ["fault.injected", "gameday.detected"])
def test_kill_9_then_recover(lab: Lab, cli: CliRunner, point: str) -> None:
    with gameday_process(lab, MANUAL) as gd:
        gd.wait_event(point)
        gameday_id = gd.gameday_id()
        gd.signal_group(signal.SIGKILL)
        assert gd.wait() == -signal.SIGKILL

    events = journal_events(lab.home, gameday_id)
    assert "fault.injecting" in types_of(events)
    assert "fault.reverted" not in types_of(events) and "gameday.finished" not in types_of(events)

    first = cli("gameday", "recover", gameday_id, "--as", "carol")
    assert first.code == 0, first.out + first.err
    assert "fault leaking-pool: closed 0 held connection(s), terminated" in first.out
    events = journal_events(lab.home, gameday_id)
    assert reverted(events) == [("leaking-pool", True, "recover")]
    assert [e.actor for e in events if e.type == "fault.reverted"] == ["carol"]
    assert finished(events)["status"] == "interrupted"
    no_leak(lab)

    again = cli("gameday", "recover", gameday_id)
    assert again.code == 0, again.out + again.err
    assert "nothing to revert" in again.out
    assert journal_events(lab.home, gameday_id) == events  # idempotent: not a single new event


def test_kill_9_during_a_bad_rollout_then_recover(lab: Lab, cli: CliRunner) -> None:
    with gameday_process(lab, BAD_ROLLOUT) as gd:
        injected = gd.wait_event("fault.injected")
        gd.signal_group(signal.SIGKILL)
        assert gd.wait() == -signal.SIGKILL
        gameday_id = gd.gameday_id()
    events = journal_events(lab.home, gameday_id)
    # Killed before anyone responded: the broken release is still rolled out.
    assert "response.started" not in types_of(events), gd.output
    assert deployment_image(lab.kubeconfig) == injected.data["state"]["broken_image"] == GOOD_IMAGE + "-broken"

    result = cli("gameday", "recover", gameday_id)
    assert result.code == 0, result.out + result.err
    assert f"fault broken-release: checkout set back to {GOOD_IMAGE}" in result.out
    assert deployment_image(lab.kubeconfig) == GOOD_IMAGE
    wait_for(lambda: rollout_complete(lab.kubeconfig), "the rollout back to 1.0 to complete", 15)
    events = journal_events(lab.home, gameday_id)
    assert reverted(events) == [("broken-release", True, "recover")]
    assert finished(events)["status"] == "interrupted"
    assert "nothing to revert" in cli("gameday", "recover", gameday_id).out


# -- a flags.set fault on a flagd file ---------------------------------------------------------------------
@pytest.fixture
def flag_file(tmp_path: Path) -> Path:
    path = tmp_path / "flags" / "flagd.json"
    path.parent.mkdir()
    path.write_text(FLAGD_TEXT, encoding="utf-8")
    path.chmod(0o640)
    return path


def flag_state(path: Path) -> str:
    return str(json.loads(path.read_text(encoding="utf-8"))["flags"]["new-checkout"]["state"])


def test_sigterm_restores_the_flagd_file_exactly(lab: Lab, flag_file: Path) -> None:
    with gameday_process(lab, FLAGD, f"flag_file={flag_file}") as gd:
        gd.wait_event("gameday.detected")  # the shell probe saw the flag switched off
        gameday_id = gd.gameday_id()
        assert flag_state(flag_file) == "DISABLED"
        gd.signal_group(signal.SIGTERM)
        code = gd.wait()
        output = gd.output

    assert code == 130, output
    assert flag_file.read_text(encoding="utf-8") == FLAGD_TEXT
    assert stat.S_IMODE(flag_file.stat().st_mode) == 0o640
    assert sorted(p.name for p in flag_file.parent.iterdir()) == ["flagd.json"]  # no temp file left behind
    events = journal_events(lab.home, gameday_id)
    assert reverted(events) == [("kill-switch", True, "interrupted")]
    injecting = next(e for e in events if e.type == "fault.injecting")
    assert injecting.data["state"] == {"previous": {"enabled": True, "variant": "on"}}
    assert finished(events)["status"] == "interrupted"


def test_kill_9_then_recover_restores_the_flagd_file_exactly(lab: Lab, cli: CliRunner, flag_file: Path) -> None:
    with gameday_process(lab, FLAGD, f"flag_file={flag_file}") as gd:
        gd.wait_event("fault.injected")
        gameday_id = gd.gameday_id()
        gd.signal_group(signal.SIGKILL)
        assert gd.wait() == -signal.SIGKILL
    assert flag_state(flag_file) == "DISABLED"  # nobody put it back yet

    result = cli("gameday", "recover", gameday_id)
    assert result.code == 0, result.out + result.err
    assert "fault kill-switch: restored flag new-checkout" in result.out
    assert flag_file.read_text(encoding="utf-8") == FLAGD_TEXT
    assert stat.S_IMODE(flag_file.stat().st_mode) == 0o640
    assert reverted(journal_events(lab.home, gameday_id)) == [("kill-switch", True, "recover")]
    assert "nothing to revert" in cli("gameday", "recover", gameday_id).out
    assert flag_file.read_text(encoding="utf-8") == FLAGD_TEXT


def test_recover_works_from_another_directory(lab: Lab, cli: CliRunner, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    with gameday_process(lab, MANUAL) as gd:  # started from the repository with a relative path, as users do
        gd.wait_event("fault.injected")
        gameday_id = gd.gameday_id()
        gd.signal_group(signal.SIGKILL)
        gd.wait()
    monkeypatch.chdir(tmp_path)  # the on-call engineer's shell is somewhere else
    try:
        result = cli("gameday", "recover", gameday_id)
        assert result.code == 0, result.out + result.err
        assert reverted(journal_events(lab.home, gameday_id)) == [("leaking-pool", True, "recover")]
    finally:
        monkeypatch.chdir(REPO)
        cli("gameday", "recover", gameday_id)  # leave the journal consistent whatever happened above


def test_recover_reverts_what_the_journal_says_even_if_the_scenario_changed(
        lab: Lab, cli: CliRunner, flag_file: Path, tmp_path: Path) -> None:
    scenario = tmp_path / "drill.yaml"
    scenario.write_text(FLAGD.read_text(encoding="utf-8"), encoding="utf-8")
    with gameday_process(lab, scenario, f"flag_file={flag_file}") as gd:
        gd.wait_event("fault.injected")
        gameday_id = gd.gameday_id()
        gd.signal_group(signal.SIGKILL)
        gd.wait()
    # Someone renames the fault in the scenario before the on-call engineer runs recover.
    scenario.write_text(scenario.read_text(encoding="utf-8").replace("id: kill-switch", "id: flag-off"),
                        encoding="utf-8")
    try:
        result = cli("gameday", "recover", gameday_id)
        assert "nothing to revert" not in result.out, result.out
        assert flag_file.read_text(encoding="utf-8") == FLAGD_TEXT or result.code != 0
    finally:
        flag_file.write_text(FLAGD_TEXT, encoding="utf-8")
