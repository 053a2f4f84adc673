"""`fireline gameday recover` while the game day is still running: refused, naming the process that runs it
(which reverts its faults itself); once that process is killed, recover proceeds."""

from __future__ import annotations

import signal
import socket

from tests.gameday.conftest import (
    LEAK_APP,
    REPO,
    SCENARIOS,
    CliRunner,
    Lab,
    backends,
    gameday_process,
    health,
    journal_events,
    types_of,
    wait_for,
)

MANUAL = (SCENARIOS / "checkout-db-exhaustion-manual.yaml").relative_to(REPO)


def test_recover_refuses_while_the_game_day_runs(lab: Lab, cli: CliRunner) -> None:
    with gameday_process(lab, MANUAL) as gd:
        gd.wait_event("fault.injected")
        gameday_id = gd.gameday_id()

        refused = cli("gameday", "recover", gameday_id, "--as", "carol")
        assert refused.code == 1, refused.out + refused.err
        assert (
            f"game day {gameday_id} is being run by another process: responder on {socket.gethostname()} "
            f"(pid {gd.proc.pid}) since " in refused.err
        )
        assert "it reverts its faults itself" in refused.err
        assert "fault.reverted" not in types_of(journal_events(lab.home, gameday_id))
        assert backends(lab.primary_dsn, LEAK_APP) >= 10  # recover did not touch the running drill

        gd.signal_group(signal.SIGKILL)
        assert gd.wait() == -signal.SIGKILL

    # Same boot, and the pid no longer runs: the holder is provably gone.
    recovered = cli("gameday", "recover", gameday_id, "--as", "carol")
    assert recovered.code == 0, recovered.out + recovered.err
    assert f"took over game day {gameday_id} from responder" in recovered.err
    assert f"process {gd.proc.pid} is no longer running" in recovered.err
    events = journal_events(lab.home, gameday_id)
    assert [(e.step_id, e.actor) for e in events if e.type == "fault.reverted"] == [("leaking-pool", "carol")]
    wait_for(lambda: backends(lab.primary_dsn, LEAK_APP) == 0, "the leaked backends to be gone", 5)
    wait_for(lambda: health(lab.service_url) == 200, "checkout to be healthy", 10)
