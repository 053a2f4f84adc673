"""A child process with its output in a log file, that is always stopped (and killed if it must be)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    # If pytest itself is SIGKILLed, no finally block runs; PDEATHSIG makes the kernel SIGTERM the
    # server too, so a crashed run leaves no sshd/prometheus holding ports. It is tied to the *thread*
    # that forked, so it is only set from the main thread (see ManagedProcess.__init__).
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class ManagedProcess:
    """Popen wrapper: own session (so the whole process group can be signalled), log file, stop()."""

    def __init__(
        self,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.argv = [str(a) for a in argv]
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        in_main_thread = threading.current_thread() is threading.main_thread()
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                # A new session: the server and anything it forks (sshd's per-connection children,
                # node workers) share one process group that stop() can signal at once.
                start_new_session=True,
                preexec_fn=_die_with_parent if in_main_thread else None,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, limit: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    def _signal_group(self, sig: signal.Signals) -> None:
        # The group may already be gone (process exited and reaped): nothing to do then.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def terminate(self) -> None:
        """Send SIGTERM to the process group without waiting (lets callers stop many in parallel)."""
        if self.popen.poll() is None:
            self._signal_group(signal.SIGTERM)

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM the process group, wait up to `timeout`, then SIGKILL. Returns the exit code."""
        if self.popen.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.popen.wait(5.0)
        # Children that outlived the leader (e.g. an sshd session) still hold the group: kill them.
        self._signal_group(signal.SIGKILL)
        return self.popen.returncode
