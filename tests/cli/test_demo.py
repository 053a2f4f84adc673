"""`fireline demo` from a fresh clone: a game day on a throwaway lab that passes, says where its report is and
which drill incident it opened, and leaves that incident pointing back at the game day."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.command import FIRELINE

REPO = Path(__file__).resolve().parents[2]


def test_demo_passes_and_names_its_drill_incident(tmp_path: Path) -> None:
    env = {**os.environ, "FIRELINE_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)}
    env.pop("FIRELINE_DEBUG", None)
    demo = subprocess.run([*FIRELINE, "demo"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
                          check=False, stdin=subprocess.DEVNULL)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    passed = re.search(r"game day (gd-\S+): PASSED", demo.stdout)
    assert passed, demo.stdout
    lines = [line for line in demo.stdout.splitlines() if line.startswith("incident:")]
    assert len(lines) == 1, demo.stdout
    match = re.fullmatch(r"incident: +(INC-\d{4}-\d{3,}) \(drill\): fireline incident show \1", lines[0])
    assert match, lines[0]

    shown = subprocess.run([*FIRELINE, "incident", "show", match.group(1)], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=60, check=False)
    assert shown.returncode == 0, shown.stderr
    assert f"drill of game day {passed.group(1)}" in shown.stdout, shown.stdout
