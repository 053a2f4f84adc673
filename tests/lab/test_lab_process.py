"""The lab as a process: `python -m runner.lab.k8s` and `fireline lab up --detach / status / down`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli.lab import default_state_dir, lab
from runner.lab.k8s.process import read_pid, server_url

from .conftest import wait_until


def test_module_runs_in_foreground_and_saves_on_sigterm(tmp_path: Path) -> None:
    state = tmp_path / "fg"
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner.lab.k8s", "--state-dir", str(state), "--port", "0", "--time-scale", "0.01"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert proc.stdout is not None
        first_line = proc.stdout.readline().strip()
        assert first_line == str(state / "kubeconfig")
        assert (state / "lab.pid").read_text().strip() == str(proc.pid)
        url = server_url(state)
        assert url is not None and url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/version", timeout=5) as resp:
            assert json.loads(resp.read())["major"] == "1"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert not (state / "lab.pid").exists()
    saved = json.loads((state / "state.json").read_text())
    assert [d["metadata"]["name"] for d in saved["objects"]["deployments"]] == ["checkout"]


def test_cli_up_detach_status_down(tmp_path: Path) -> None:
    state = tmp_path / "detached"
    runner = CliRunner()
    up = runner.invoke(lab, ["up", "--detach", "--state-dir", str(state), "--time-scale", "0.01"])
    assert up.exit_code == 0, up.output
    assert str(state / "kubeconfig") in up.output
    assert f"export KUBECONFIG={state / 'kubeconfig'}" in up.output
    pid = read_pid(state)
    assert pid is not None
    try:

        def ready() -> bool:
            result = runner.invoke(lab, ["status", "--state-dir", str(state)])
            return result.exit_code == 0 and "checkout   3/3" in result.output

        wait_until(ready, timeout=10, interval=0.05)
        again = runner.invoke(lab, ["up", "--detach", "--state-dir", str(state)])
        assert again.exit_code == 0 and "already running" in again.output
    finally:
        down = runner.invoke(lab, ["down", "--state-dir", str(state)])
    assert down.exit_code == 0, down.output
    assert f"lab stopped (pid {pid})" in down.output
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    status = runner.invoke(lab, ["status", "--state-dir", str(state)])
    assert status.exit_code == 1 and "not running" in status.output
    assert runner.invoke(lab, ["down", "--state-dir", str(state)]).output.strip() == "lab is not running"
    assert (state / "state.json").exists()


def test_default_state_dir_follows_fireline_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRELINE_HOME", str(tmp_path / "home"))
    assert default_state_dir() == tmp_path / "home" / "lab"
    monkeypatch.delenv("FIRELINE_HOME")
    assert default_state_dir() == Path("~/.local/state/fireline/lab").expanduser()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
