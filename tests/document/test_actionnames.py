"""An unknown action is answered by meaning as well as by spelling (runner/document/actionnames.py, the
table in schemas/action-synonyms.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write

HEADER = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: names}
steps:
"""


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("kubernetes.rollback", "'kubernetes.rollout_undo'"),
        ("kubernetes.restart", "'kubernetes.rollout_restart'"),
        ("kubernetes.scale_up", "'kubernetes.scale'"),
        ("k8s.rollback", "'kubernetes.rollout_undo'"),
        ("postgres.kill", "'postgres.terminate_backends'"),
        ("postgres.kill_idle_connections", "'postgres.terminate_backends'"),
        ("sql.query", "'postgres.query'"),
        ("pg.query", "'postgres.query'"),
        ("flags.toggle", "'flags.set'"),
        ("slack.notify", "'notify.status_update'"),
        # Spelling still works where no meaning is listed.
        ("kubernetes.rollout_restrat", "'kubernetes.rollout_restart'"),
        ("postgres.queyr", "'postgres.query'"),
    ],
)
def test_unknown_actions_are_answered_by_meaning_and_spelling(
    tmp_path: Path, cli: Any, written: str, meant: str
) -> None:
    path = write(tmp_path / "rb.yaml", HEADER + f"  - {{id: a, action: {written}}}\n")
    result = cli("validate", str(path))
    assert result.code == 1
    assert f"{path}:5:21: steps[a].action: unknown action '{written}' (hint: did you mean {meant}?)" in result.out
    assert len(result.out.splitlines()) == 2, result.out  # said once, not also as a pattern mismatch
