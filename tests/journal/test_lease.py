"""One owner per run: the lease in the journal store, on SQLite and on PostgreSQL, held by real processes.

Who may take a lease over is decided from facts about the holder: its process is gone (exited, a zombie, or
its pid now belongs to a later process) on this machine, or it stopped renewing. Anything else refuses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.errors import JournalError
from runner.journal import lease as lease_module
from runner.journal.lease import RunBusy, _proc_stat, hold
from runner.journal.store import Journal, LeaseRecord
from tests.conftest import REPO, wait_for

HOLDER = """
import sys
from runner.journal.lease import hold
from runner.journal.store import open_journal
with hold(open_journal(), sys.argv[1], "alice"):
    print("held", flush=True)
    sys.stdin.read()  # until the test closes stdin (or kills this process)
print("released", flush=True)
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Journal]:
    if request.param == "postgresql":
        monkeypatch.setenv("FIRELINE_STORE", request.getfixturevalue("pg_db"))
    else:
        monkeypatch.setenv("FIRELINE_STORE", str(tmp_path / "journal.db"))
    from runner.journal.store import open_journal

    journal = open_journal()
    yield journal
    journal.close()


def _holder_process(run_id: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, run_id],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held", proc.stdout.read()
    return proc


def _record(run_id: str, *, pid: int, machine: str, proc_start: str = "") -> LeaseRecord:
    return LeaseRecord(run_id, "t0k3n", "mallory", "elsewhere", pid, machine, proc_start, "earlier", "earlier")


def _plant(store: Journal, record: LeaseRecord, ttl: float = 30.0) -> None:
    """A lease as another process would have left it (through the same atomic claim)."""
    assert store.claim_lease(record, ttl, lambda holder, now: False) is None


def test_a_live_holder_keeps_the_run_and_is_named(store: Journal) -> None:
    proc = _holder_process("run-live")
    try:
        with pytest.raises(RunBusy) as refused, hold(store, "run-live", "bob"):
            pass
        message = str(refused.value)
        assert f"alice on {socket.gethostname()} (pid {proc.pid}) since " in message
        assert "--wait" in (refused.value.hint or "")
        assert refused.value.exit_code == 1
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=20)
    # Released on the way out: the next owner gets it at once.
    assert store.lease_holder("run-live") is None
    with hold(store, "run-live", "bob"):
        holder = store.lease_holder("run-live")
        assert holder is not None and (holder.actor, holder.pid) == ("bob", os.getpid())
    assert store.lease_holder("run-live") is None


def test_a_killed_holder_is_taken_over(store: Journal) -> None:
    proc = _holder_process("run-killed")
    proc.kill()  # kill -9: no cleanup, the lease row stays
    proc.wait(timeout=20)
    left = store.lease_holder("run-killed")
    assert left is not None and left.pid == proc.pid
    notes: list[str] = []
    with hold(store, "run-killed", "bob", warn=notes.append):
        holder = store.lease_holder("run-killed")
        assert holder is not None and holder.actor == "bob"
    assert notes == [
        f"note: took over run run-killed from alice on {socket.gethostname()} (pid {proc.pid}) since "
        f"{left.acquired}: process {proc.pid} is no longer running"
    ]


def test_a_zombie_holder_is_gone_and_a_reused_pid_is_not_the_holder(store: Journal) -> None:
    here = lease_module._MACHINE
    # Exited but not yet collected by its parent: it cannot do anything any more.
    zombie = subprocess.Popen(["true"])
    wait_for(lambda: (_proc_stat(zombie.pid) or ("?",))[0] == "Z", "the child to become a zombie")
    _plant(store, _record("run-zombie", pid=zombie.pid, machine=here))
    with hold(store, "run-zombie", "bob", warn=lambda _: None):
        pass
    zombie.wait()
    # This very process, but recorded with another start time: the pid was reused, the holder is gone.
    _plant(store, _record("run-reused", pid=os.getpid(), machine=here, proc_start="1"))
    with hold(store, "run-reused", "bob", warn=lambda _: None):
        pass
    # This very process with its real start time: alive, so it keeps the lease.
    mine = _proc_stat("self")
    assert mine is not None
    _plant(store, _record("run-alive", pid=os.getpid(), machine=here, proc_start=mine[1]))
    with pytest.raises(RunBusy, match=r"mallory on elsewhere \(pid \d+\)"), hold(store, "run-alive", "bob"):
        pass


def test_another_machine_holds_until_its_lease_expires(store: Journal) -> None:
    # A pid on another boot (or in another container's pid namespace) proves nothing here: only expiry does.
    _plant(store, _record("run-remote", pid=999_999_999, machine="other-boot/pid:[1]"))
    with pytest.raises(RunBusy), hold(store, "run-remote", "bob"):
        pass
    _plant(store, _record("run-expired", pid=999_999_999, machine="other-boot/pid:[1]"), ttl=-1.0)
    notes: list[str] = []
    with hold(store, "run-expired", "bob", warn=notes.append):
        pass
    assert len(notes) == 1 and "its lease was not renewed since earlier" in notes[0]


def test_renewed_while_held_and_released_on_ctrl_c(store: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lease_module, "RENEW_EVERY", 0.05)
    with pytest.raises(KeyboardInterrupt), hold(store, "run-renew", "bob"):
        first = store.lease_holder("run-renew")
        assert first is not None
        wait_for(lambda: (store.lease_holder("run-renew") or first).expires > first.expires, "the lease to be renewed")
        raise KeyboardInterrupt
    assert store.lease_holder("run-renew") is None


def test_a_holder_that_lost_its_lease_says_so(store: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lease_module, "RENEW_EVERY", 0.05)
    notes: list[str] = []
    with hold(store, "run-lost", "bob", warn=notes.append) as held:
        # Someone decided this holder was gone (e.g. it was suspended past its expiry) and took over.
        assert store.claim_lease(_record("run-lost", pid=1, machine="x"), 30.0, lambda h, now: True) is None
        wait_for(lambda: held.lost, "the holder to notice")
        # Fenced: the event written before a change is refused, so the change is not made twice.
        with pytest.raises(JournalError, match="this process no longer holds run-lost: another process took it"):
            store.append("run-lost", "step.started", step_id="change", data={"mutating": True}, durable=True)
        store.append("run-lost", "step.succeeded", step_id="read")  # not a change: written as before
    assert "another process took over run-lost" in notes[0]
    assert [e.type for e in store.events("run-lost")] == ["step.succeeded"]
    holder = store.lease_holder("run-lost")
    assert holder is not None and holder.actor == "mallory"  # releasing did not remove the new owner's lease


def test_wait_stops_on_ctrl_c_with_nothing_done(store: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    _plant(store, _record("run-wait", pid=999_999_999, machine="other-boot/pid:[1]"))
    calls: list[str] = []

    def interrupt(message: str) -> None:
        calls.append(message)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while waiting

    with (
        pytest.raises(lease_module.StoppedWaiting) as stopped,
        hold(store, "run-wait", "bob", wait=True, warn=interrupt),
    ):
        pass
    assert stopped.value.exit_code == 130 and "nothing was done" in str(stopped.value)
    assert calls and "waiting for run run-wait: held by mallory" in calls[0]
