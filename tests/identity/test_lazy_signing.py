"""A run that verifies no signature does not load the signing machinery (ssh-keygen via subprocess and
temporary files): it is loaded when a signature is made or checked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUNBOOK = ("apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: one}\n"
           "steps:\n  - id: check\n    action: control.assert\n    with: {that: '{{ true }}'}\n")


def test_a_run_without_signatures_leaves_sshsig_unloaded(tmp_path: Path) -> None:
    runbook = tmp_path / "one.yaml"
    runbook.write_text(RUNBOOK, encoding="utf-8")
    code = ("import sys\nfrom runner.cli import main\ncode = main(sys.argv[1:])\n"
            "print('SSHSIG', 'runner.identity.sshsig' in sys.modules)\nsys.exit(code)\n")
    env = {**os.environ, "FIRELINE_HOME": str(tmp_path / "home")}
    env.pop("FIRELINE_ALLOWED_SIGNERS", None)
    for command in (["run", str(runbook)], ["plan", str(runbook)]):
        done = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "SSHSIG False" in done.stdout
