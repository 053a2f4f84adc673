"""A key written twice in one mapping (runner/document/yamlsource.py): reported where the second one is, with
the line of the first, so the responder sees which value YAML would silently have dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import write


def test_a_duplicate_key_names_both_places(tmp_path: Path, cli: Any) -> None:
    path = write(
        tmp_path / "dup.yaml",
        "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: dup}\nsteps:\n"
        "  - id: pause\n    action: control.sleep\n    with: {duration: 1s}\n"
        "    timeout: 5s\n    timeout: 9s\n",
    )
    result = cli("validate", str(path))
    assert result.code == 1
    assert f"{path}:9:5: steps[pause].timeout: duplicate key 'timeout' (first defined at line 8)" in result.out
