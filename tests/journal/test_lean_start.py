"""Opening the SQLite journal and holding a run's lease load nothing the run does not use (the socket
module: the lease names the host through uname, as gethostname does)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from runner.journal import lease


def test_a_journalled_run_does_not_load_the_socket_module(tmp_path: Path) -> None:
    runbook = tmp_path / "one.yaml"
    runbook.write_text("apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: one}\n"
                       "steps:\n  - id: check\n    action: control.assert\n    with: {that: '{{ true }}'}\n",
                       encoding="utf-8")
    code = ("import sys\nfrom runner.cli import main\ncode = main(sys.argv[1:])\n"
            "print('SOCKET', 'socket' in sys.modules)\nsys.exit(code)\n")
    env = {**os.environ, "FIRELINE_HOME": str(tmp_path / "home")}
    env.pop("FIRELINE_STORE", None)
    done = subprocess.run([sys.executable, "-c", code, "run", str(runbook)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SOCKET False" in done.stdout


@pytest.mark.skipif(not hasattr(os, "uname"), reason="uname is POSIX")
def test_the_lease_names_the_host_as_gethostname_does() -> None:
    assert lease._hostname() == socket.gethostname()
