"""fireline on a real terminal (a pseudo-terminal): start it, read what it shows, type into it."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

# Colours, cursor moves and line clearing: what a live view draws besides its text.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _spawn(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner", *args], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
    )
    os.close(slave)
    return proc, master


def read_until(master: int, needle: str, timeout: float = 20.0) -> str:
    """What the terminal showed up to (and including) `needle`; fails after `timeout` seconds."""
    seen = b""
    deadline = time.monotonic() + timeout
    while needle.encode() not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"never saw {needle!r}; screen so far:\n{seen.decode(errors='replace')}"
        ready, _, _ = select.select([master], [], [], remaining)
        if ready:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
    return seen.decode(errors="replace")


def drain(master: int, proc: subprocess.Popen[bytes]) -> str:
    """Everything the terminal shows until the process ends."""
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    return out.decode(errors="replace")


def plain_lines(screen: str) -> list[str]:
    """The lines of a terminal's output with the control sequences taken out."""
    return [line.rstrip() for line in re.split(r"\r\n|\r|\n", _ANSI.sub("", screen))]


def terminal_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    return {**env, "FIRELINE_HOME": str(home), "PYTHONPATH": str(Path.cwd()), "TERM": "xterm", "COLUMNS": "80",
            **extra}


@contextlib.contextmanager
def terminal(args: list[str], home: Path, **env: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """fireline on a pseudo-terminal: (process, the terminal's master end); both cleaned up."""
    proc, master = _spawn(args, terminal_env(home, **env))
    try:
        yield proc, master
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
