"""What a document's templates name is kept per template text: validating a file whose templates did not
change (left alone, or edited elsewhere) gives the same verdict without loading Jinja; a changed template or
a damaged cache is analysed afresh."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNBOOK = """apiVersion: fireline/v1
kind: Runbook
metadata: {name: cached}
inputs: {n: {type: integer, default: 3}}
steps:
  - id: first
    action: control.assert
    with: {that: "{{ inputs.n * 2 == 6 }}"}
    outputs: {twice: "{{ inputs.n * 2 }}"}
  - id: second
    action: control.assert
    with: {that: "{{ steps.first.outputs.twice > inputs.m }}"}
  - id: third
    action: control.assert
    with: {that: "{{ inputs.n + }}"}
"""
_PROBE = (
    "import sys\nfrom runner.cli import main\ncode = main(sys.argv[1:])\n"
    "print('JINJA', 'jinja2' in sys.modules)\nsys.exit(code)\n"
)


def _validate(path: Path, cache: Path) -> tuple[int, str, bool]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    done = subprocess.run([sys.executable, "-c", _PROBE, "validate", str(path)], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)
    out, _, flag = done.stdout.rpartition("JINJA ")
    return done.returncode, out + done.stderr, flag.strip() == "True"


def _cache_files(cache: Path) -> list[Path]:
    return sorted((cache / "fireline" / "templates").glob("*.json"))


def test_an_unchanged_file_is_judged_the_same_without_jinja(tmp_path: Path) -> None:
    runbook = tmp_path / "cached.yaml"
    runbook.write_text(RUNBOOK, encoding="utf-8")
    first = _validate(runbook, tmp_path / "cache")
    assert first[0] == 1
    assert "inputs.m" in first[1] and "template syntax error" in first[1]
    assert first[2], "the first validation parses the templates with Jinja"
    again = _validate(runbook, tmp_path / "cache")
    assert again == (first[0], first[1], False)


def test_a_changed_file_is_analysed_again(tmp_path: Path) -> None:
    runbook = tmp_path / "cached.yaml"
    runbook.write_text(RUNBOOK, encoding="utf-8")
    _validate(runbook, tmp_path / "cache")
    runbook.write_text(RUNBOOK.replace("inputs.m", "inputs.n").replace("inputs.n + }}", "inputs.n + 1 }}"),
                       encoding="utf-8")
    code, out, jinja = _validate(runbook, tmp_path / "cache")
    assert code == 0, out
    assert "all valid" in out
    assert jinja, "new templates are parsed"
    assert len(_cache_files(tmp_path / "cache")) == 1  # an edited file replaces its entry, no pile-up
    # The templates no longer in the file are gone from its entry.
    assert "inputs.m" not in _cache_files(tmp_path / "cache")[0].read_text(encoding="utf-8")


def test_a_file_edited_without_touching_its_templates_is_checked_without_jinja(tmp_path: Path) -> None:
    """An editor's save or a pre-commit hook mostly sees such edits: a title, a comment, a step moved."""
    runbook = tmp_path / "cached.yaml"
    runbook.write_text(RUNBOOK, encoding="utf-8")
    first = _validate(runbook, tmp_path / "cache")
    runbook.write_text(RUNBOOK.replace("name: cached}", "name: cached, title: Edited}") + "# a note\n",
                       encoding="utf-8")
    code, out, jinja = _validate(runbook, tmp_path / "cache")
    assert (code, out, jinja) == (first[0], first[1], False)
    runbook.write_text(RUNBOOK.replace("inputs.n * 2 == 6", "inputs.n * 3 == 9"), encoding="utf-8")
    assert _validate(runbook, tmp_path / "cache")[2], "a changed template is parsed"


@pytest.mark.parametrize("damage", ["garbage", "empty", "wrong-shape", "wrong-types"])
def test_a_damaged_cache_changes_nothing(tmp_path: Path, damage: str) -> None:
    runbook = tmp_path / "cached.yaml"
    runbook.write_text(RUNBOOK, encoding="utf-8")
    first = _validate(runbook, tmp_path / "cache")
    [cached] = _cache_files(tmp_path / "cache")
    cached.write_text({"garbage": "\x00{not json", "empty": "",
                       "wrong-shape": '{"format": 1, "entries": []}',
                       "wrong-types": '{"format": 1, "entries": {"{{ inputs.n * 2 }}": {"refs": [["n", 5, "x"]]}}}',
                       }[damage], encoding="utf-8")
    again = _validate(runbook, tmp_path / "cache")
    assert again[:2] == first[:2]
    assert "Traceback" not in again[1]
    assert _validate(runbook, tmp_path / "cache") == (first[0], first[1], False)  # rewritten whole


def test_a_cache_that_cannot_be_written_only_costs_time(tmp_path: Path) -> None:
    runbook = tmp_path / "cached.yaml"
    runbook.write_text(RUNBOOK, encoding="utf-8")
    cache = tmp_path / "cache"
    cache.write_text("a file where the cache directory would go", encoding="utf-8")
    first = _validate(runbook, cache)
    assert first[0] == 1 and "template syntax error" in first[1]
    assert _validate(runbook, cache)[:2] == first[:2]
