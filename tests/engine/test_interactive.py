"""The approval prompt on a real terminal (a pseudo-terminal): what the responder sees and types."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import write


def _spawn(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner", *args], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
    )
    os.close(slave)
    return proc, master


def _read_until(master: int, needle: str, timeout: float = 20.0) -> str:
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


def _drain(master: int, proc: subprocess.Popen[bytes]) -> str:
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


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    return {**env, "FIRELINE_HOME": str(home), "PYTHONPATH": str(Path.cwd()), "TERM": "xterm", "COLUMNS": "80"}


def _runbook(tmp_path: Path, marker: Path, extra: str) -> Path:
    return write(tmp_path / "rb.yaml", f"""\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: prompt}}
steps:
  - id: change
    action: shell.run
    {extra}
    with: {{argv: [touch, "{marker}"]}}
""")


@contextlib.contextmanager
def _terminal(args: list[str], home: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """fireline on a pseudo-terminal: (process, the terminal's master end); both cleaned up."""
    proc, master = _spawn(args, _env(home))
    try:
        yield proc, master
    finally:
        proc.kill()
        os.close(master)


def test_prompt_shows_the_change_and_typing_the_step_id_approves(tmp_path: Path, fireline_home: Path) -> None:
    marker = tmp_path / "changed"
    path = _runbook(tmp_path, marker, "notes: Creates the marker file.")
    with _terminal(["run", str(path)], fireline_home) as (proc, master):
        screen = _read_until(master, "Type 'change'")
        assert "what will change: would run: touch" in screen  # before the question
        assert "Creates the marker file." in screen
        assert not marker.exists()
        os.write(master, b"change\n")
        rest = _drain(master, proc)
        assert proc.wait(timeout=20) == 0, rest
    assert marker.exists()


def test_wrong_answer_or_timeout_fails_closed(tmp_path: Path, fireline_home: Path) -> None:
    marker = tmp_path / "changed"
    path = _runbook(tmp_path, marker, "approval: {timeout: 1s}")
    for answer in (b"yes\n", None):
        with _terminal(["run", str(path), "--output", "plain"], fireline_home) as (proc, master):
            _read_until(master, "Type 'change'")
            if answer is not None:
                os.write(master, answer)
            rest = _drain(master, proc)
            assert proc.wait(timeout=20) == 3, rest
            assert "fireline approve" in rest
        assert not marker.exists()
