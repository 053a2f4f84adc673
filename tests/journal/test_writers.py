"""Processes appending to one SQLite journal take turns (runner.journal.writers): a writer waits for the turn
in the kernel and goes as soon as it is free, and never waits longer than its timeout."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from runner.journal.store import Journal
from runner.journal.writers import WriterTurns
from tests.conftest import wait_for


@contextmanager
def turn_held_elsewhere(journal: Path) -> Iterator[None]:
    """Another open file holding the journal's turn, as another fireline process would."""
    fd = os.open(journal.with_name(journal.name + "-writers"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def test_an_append_waits_for_the_turn_and_goes_once_it_is_free(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    journal = Journal(path)
    done = threading.Event()

    def append() -> None:
        journal.append("r1", "step.started", step_id="s1", data={"mutating": True}, durable=True)
        done.set()

    with turn_held_elsewhere(path):
        writer = threading.Thread(target=append)
        writer.start()
        # While another process holds the turn, the append cannot have been committed.
        assert not done.wait(0.3)
        assert Journal(path).events("r1") == []
    wait_for(done.is_set, "the append once the turn is free")
    writer.join()
    assert [e.type for e in Journal(path).events("r1")] == ["step.started"]
    journal.close()


def test_a_stuck_turn_holder_delays_a_writer_only_up_to_its_timeout(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    turns = WriterTurns(path)
    with turn_held_elsewhere(path):
        started = time.monotonic()
        with turns.turn(timeout=0.2):
            waited = time.monotonic() - started
    assert waited >= 0.2
    # The turn given up on does not stay stuck: the next one is taken at once once free.
    with turns.turn(timeout=5):
        pass
    turns.close()


def test_many_processes_appending_at_once_all_commit_every_event(tmp_path: Path) -> None:
    """Eight processes, each 30 durable appends to a run of its own: every event is there, chained."""
    path = tmp_path / "journal.db"
    Journal(path).close()
    script = (
        "import sys\n"
        "from runner.journal.store import Journal\n"
        "j = Journal(sys.argv[1])\n"
        "for i in range(30):\n"
        "    j.append(sys.argv[2], 'step.started', step_id=f's{i}', data={'mutating': True}, durable=True)\n"
        "j.close()\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(path), f"run-{n}"], cwd=Path(__file__).parents[2])
        for n in range(8)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * 8
    journal = Journal(path)
    for n in range(8):
        assert len(journal.events(f"run-{n}")) == 30
        assert journal.verify(f"run-{n}").ok
    journal.close()


def test_a_writer_interrupted_while_waiting_leaves_the_turn_free(tmp_path: Path) -> None:
    """Ctrl-C while waiting for the turn: once the holder lets go, the turn is free for everyone else, not
    kept by the interrupted wait (which would delay every other process by the whole timeout)."""
    import signal

    path = tmp_path / "journal.db"
    turns = WriterTurns(path)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        with turn_held_elsewhere(path):
            signal.setitimer(signal.ITIMER_REAL, 0.2)
            try:
                with turns.turn(timeout=30):
                    raise AssertionError("the turn was held elsewhere")
            except KeyboardInterrupt:
                pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    other = os.open(turns.path, os.O_RDWR)

    def free() -> bool:
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    try:
        wait_for(free, "the turn, free again after the interrupted wait", timeout=5)
    finally:
        os.close(other)
    with turns.turn(timeout=5):  # and the interrupted process can take turns again
        pass
    turns.close()
