"""Running the lab as a separate process: pid file, detached start, readiness probe and shutdown.

Used by ``python -m runner.lab.k8s`` and by ``fireline lab up/status/down``; standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from .cluster import KUBECONFIG_FILE, LabCluster, LabConfig

PID_FILE = "lab.pid"
LOG_FILE = "lab.log"


def serve(config: LabConfig, announce: Callable[[LabCluster], None]) -> None:
    """Run the lab in this process until SIGTERM/SIGINT; state is saved on the way out."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    lab = LabCluster(config)
    pid_file = Path(config.state_dir) / PID_FILE
    try:
        lab.start()
        pid_file.write_text(f"{os.getpid()}\n")
        announce(lab)
        while not stop.wait(0.5):
            pass
    finally:
        lab.stop()
        with contextlib.suppress(OSError):
            if pid_file.read_text().strip() == str(os.getpid()):
                pid_file.unlink()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def read_pid(state_dir: Path) -> int | None:
    """The pid of a live lab process for this state dir, or None (stale pid files are ignored)."""
    try:
        pid = int((state_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    if not _alive(pid):
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        with contextlib.suppress(OSError):
            if b"runner.lab.k8s" not in cmdline.read_bytes() and b"fireline" not in cmdline.read_bytes():
                return None  # the pid was reused by an unrelated process
    return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def server_url(state_dir: Path) -> str | None:
    try:
        text = (state_dir / KUBECONFIG_FILE).read_text()
    except OSError:
        return None
    m = re.search(r"^\s*server:\s*(\S+)\s*$", text, re.MULTILINE)
    return m.group(1) if m else None


def get_json(url: str, timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # loopback only: the lab's own URL
        return json.loads(resp.read())


def answers(url: str) -> bool:
    try:
        get_json(f"{url}/version", timeout=1.0)
    except (OSError, ValueError):
        return False
    return True


def start_detached(config: LabConfig, timeout: float = 20.0) -> tuple[int, str]:
    """Start ``python -m runner.lab.k8s`` in its own session and wait until it answers ``/version``."""
    state_dir = Path(config.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / PID_FILE).unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "runner.lab.k8s",
        "--state-dir",
        str(state_dir),
        "--port",
        str(config.port),
        "--time-scale",
        str(config.time_scale),
        "--pod-ready-delay",
        str(config.pod_ready_delay),
    ]
    if not config.seed_demo:
        cmd.append("--no-seed")
    with open(state_dir / LOG_FILE, "ab") as log:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"lab exited with code {proc.returncode}; see {state_dir / LOG_FILE}")
        if read_pid(state_dir) == proc.pid:
            url = server_url(state_dir)
            if url and answers(url):
                return proc.pid, url
        time.sleep(0.05)
    proc.terminate()
    raise RuntimeError(f"lab did not start within {timeout}s; see {state_dir / LOG_FILE}")


def stop_detached(state_dir: Path, timeout: float = 15.0) -> int | None:
    """SIGTERM the lab for ``state_dir`` and wait for it to exit. Returns the pid, or None if not running."""
    pid = read_pid(state_dir)
    if pid is None:
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid) or _zombie(pid):
            return pid
        time.sleep(0.05)
    raise TimeoutError(f"lab (pid {pid}) did not stop within {timeout}s")


def _zombie(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return " Z " in Path(f"/proc/{pid}/stat").read_text()
    return False
