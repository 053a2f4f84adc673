"""One owner per run: a lease recorded in the journal store.

A process that drives a run (`fireline run`, `resume`) or a game day (`gameday run`, `recover`) holds the
lease of its id for as long as it works on it. The lease names its holder (actor, host, pid, process start,
boot) and expires LEASE_SECONDS after it was last renewed. A daemon thread renews it every RENEW_EVERY
seconds: renewing on journal appends would not do, since one step can run for many minutes without writing
an event, and the lease must not lapse while a change is being made.

Another process takes the lease over only when the holder is provably gone: on the same boot and pid
namespace its pid no longer runs (or now belongs to a process started later), or the lease expired (the
holder's machine died, or lost the store, for LEASE_SECONDS). Otherwise it refuses, saying who holds the
lease, or waits (`--wait`).

A holder that was only suspended (a laptop asleep at an approval prompt, a stopped process) may wake up after
its lease passed on. Its journal is fenced: a durable event of the run — the one written before every change —
is committed only in a transaction that finds this holder's token still in the lease, so it stops before its
next change instead of making it alongside the new owner.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from runner.errors import FirelineError, JournalError
from runner.journal.backend import LeaseRecord, boot_id
from runner.journal.store import Journal

LEASE_SECONDS = 30.0
RENEW_EVERY = 5.0
WAIT_POLL = 0.5


class RunBusy(FirelineError):
    """Another live process holds the lease of the run or game day."""


class StoppedWaiting(FirelineError):
    exit_code = 130


def _proc_stat(pid: int | str) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) of a process, from /proc; None when it is not there."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # the command name may contain spaces and parentheses
    return (fields[0], fields[19]) if len(fields) > 19 else None


def _machine() -> str:
    """Where a pid means something: this boot and this pid namespace (containers on one host share the boot
    id, not the pids)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return f"{boot_id()}/{namespace}"


_MACHINE = _machine()


def process_gone(pid: int, proc_start: str) -> bool:
    """True only when process `pid` (on this machine) provably no longer runs."""
    if pid <= 0:
        return False  # not a pid we recorded: only the expiry can free this lease
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists, under another user
    stat = _proc_stat(pid)
    if stat is None:
        return Path("/proc/self/stat").exists()  # /proc is there, the process is not: it just exited
    state, start = stat
    # A zombie has exited (its parent has not collected it yet); another start time is a reused pid.
    return state in ("Z", "X") or bool(proc_start and start != proc_start)


def why_replaceable(holder: LeaseRecord, now: float) -> str | None:
    """Why `holder` is provably gone, or None while it may still be working."""
    if holder.expires <= now:
        return f"its lease was not renewed since {holder.renewed}"
    if holder.machine == _MACHINE and process_gone(holder.pid, holder.proc_start):
        return f"process {holder.pid} is no longer running"
    return None


def describe(holder: LeaseRecord) -> str:
    return f"{holder.actor} on {holder.host} (pid {holder.pid}) since {holder.acquired}"


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class _Claim:
    """A lease taken: its record, and whom it was taken over from, if anyone."""

    record: LeaseRecord
    took_over: str | None  # "<previous holder>: <why it was gone>" when the lease was taken over


class Lease:
    """A held lease: renewed by a daemon thread on its own connection until `release()`."""

    def __init__(self, store: Journal, record: LeaseRecord, warn: Callable[[str], None]) -> None:
        self.record, self._store, self._warn = record, store, warn
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"lease-{record.run_id}", daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        failing = False
        while not self._stop.wait(RENEW_EVERY):
            try:
                if not self._store.renew_lease(self.record.run_id, self.record.token, LEASE_SECONDS):
                    self.lost = True
                    self._warn(
                        f"warning: another process took over {self.record.run_id} (this one could not renew its "
                        f"lease for {LEASE_SECONDS:.0f} s); this one stops before its next change"
                    )
                    return
                failing = False
            except JournalError as exc:
                if not failing:  # said once per outage, not every few seconds
                    self._warn(f"warning: cannot renew the lease of {self.record.run_id}: {exc}")
                failing = True

    def release(self) -> None:
        self._stop.set()
        self._thread.join(timeout=LEASE_SECONDS)
        try:
            self._store.release_lease(self.record.run_id, self.record.token)
        except JournalError as exc:
            # Not fatal: the lease names this process, which is about to be gone, and expires anyway.
            self._warn(f"warning: could not release the lease of {self.record.run_id}: {exc}")
        finally:
            self._store.close()


def _mine(run_id: str, actor: str) -> LeaseRecord:
    stat = _proc_stat("self")
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return LeaseRecord(
        run_id=run_id,
        token=os.urandom(8).hex(),  # what secrets.token_hex(8) is, without loading hmac and OpenSSL
        actor=actor,
        host=_hostname(),
        pid=os.getpid(),
        machine=_MACHINE,
        proc_start=stat[1] if stat else "",
        acquired=now,
        renewed=now,
    )


def _claim(store: Journal, run_id: str, actor: str) -> _Claim | LeaseRecord:
    """The lease, or the live holder that keeps it."""
    mine = _mine(run_id, actor)
    gone: list[str] = []

    def replaceable(holder: LeaseRecord, now: float) -> bool:
        why = why_replaceable(holder, now)
        if why:
            gone.append(f"{describe(holder)}: {why}")
        return why is not None

    holder = store.claim_lease(mine, LEASE_SECONDS, replaceable)
    return holder if holder is not None else _Claim(mine, gone[-1] if gone else None)


@contextlib.contextmanager
def hold(
    journal: Journal,
    run_id: str,
    actor: str,
    *,
    what: str = "run",
    wait: bool = False,
    busy_hint: str | None = None,
    warn: Callable[[str], None] = _stderr,
) -> Iterator[Lease]:
    """Hold the lease of `run_id` for the duration of the block (released on any way out, Ctrl-C included).

    Refuses with RunBusy naming the holder, or with `wait` polls until the lease is free (Ctrl-C stops
    waiting: StoppedWaiting, exit 130, nothing done)."""
    store = journal.reopen()  # renewals and release on their own connection, whatever the caller does
    try:
        claim = _wait_for(store, run_id, actor, what, wait, busy_hint, warn)
    except BaseException:
        store.close()
        raise
    if claim.took_over:
        warn(f"note: took over {what} {run_id} from {claim.took_over}")
    lease = Lease(store, claim.record, warn)
    journal.fence(run_id, claim.record.token)
    try:
        yield lease
    finally:
        journal.fence(run_id, None)
        lease.release()


def _wait_for(
    store: Journal,
    run_id: str,
    actor: str,
    what: str,
    wait: bool,
    busy_hint: str | None,
    warn: Callable[[str], None],
) -> _Claim:
    said = False
    try:
        while True:
            claim = _claim(store, run_id, actor)
            if isinstance(claim, _Claim):
                return claim
            if not wait:
                raise RunBusy(
                    f"{what} {run_id} is being run by another process: {describe(claim)}",
                    hint=busy_hint
                    or "let it finish, or stop that process; with --wait this continues once it is done (another "
                    f"process takes a run over only when its process is gone or silent for {LEASE_SECONDS:.0f} s)",
                )
            if not said:
                warn(f"waiting for {what} {run_id}: held by {describe(claim)} (Ctrl-C stops waiting)")
                said = True
            time.sleep(WAIT_POLL)
    except KeyboardInterrupt:
        raise StoppedWaiting(f"stopped waiting for {what} {run_id}; nothing was done") from None


def _hostname() -> str:
    """What socket.gethostname() says (glibc reads it from uname), without loading the socket module."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()
