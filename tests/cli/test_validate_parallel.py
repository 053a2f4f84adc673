"""Many files are validated by worker processes; what is reported is exactly what one process reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from runner import validating

REPO = Path(__file__).resolve().parents[2]
BROKEN = {
    "bad-duration.yaml": "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: a}\n"
                         "steps:\n  - id: a\n    action: control.sleep\n    with: {duration: soon}\n",
    "bad-action.yaml": "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: b}\n"
                       "steps:\n  - id: b\n    action: shell.rnu\n    with: {argv: [true]}\n",
    "not-yaml.yaml": "steps: [\n",
}


def _corpus(directory: Path) -> Path:
    for index, runbook in enumerate(sorted((REPO / "runbooks").glob("*.yaml"))):
        for copy in range(3):
            shutil.copy(runbook, directory / f"{index:02d}-{copy}-{runbook.name}")
    for name, text in BROKEN.items():
        (directory / f"50-{name}").write_text(text, encoding="utf-8")
    return directory


def _validate(cli: Any, monkeypatch: pytest.MonkeyPatch, parallel_from: int, *args: str) -> Any:
    monkeypatch.setattr(validating, "PARALLEL_FROM", parallel_from)
    monkeypatch.setattr(validating, "MAX_JOBS", 3)
    return cli("validate", *args)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_workers_report_what_one_process_reports(tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch,
                                                 fmt: str) -> None:
    corpus = _corpus(tmp_path)
    alone = _validate(cli, monkeypatch, 10**6, str(corpus), "--format", fmt)
    shared = _validate(cli, monkeypatch, 2, str(corpus), "--format", fmt)
    assert alone.code == shared.code == 1
    assert shared.out == alone.out
    assert shared.err == alone.err
    if fmt == "json":
        assert json.loads(shared.out)  # one JSON document, in file order like the single process's
    else:
        assert "33 file(s) checked: 3 invalid" in shared.out
        assert "expected a duration" in shared.out and "shell.rnu" in shared.out


def test_all_valid_through_workers(tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "ok"
    corpus.mkdir()
    for runbook in sorted((REPO / "runbooks").glob("*.yaml")):
        shutil.copy(runbook, corpus / runbook.name)
    result = _validate(cli, monkeypatch, 2, str(corpus))
    assert result.code == 0
    assert "10 file(s) checked: all valid" in result.out
