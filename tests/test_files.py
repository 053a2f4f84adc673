"""A file people asked for is written in a new directory, never over an existing file unless forced, and a
file that cannot be written is a usage error."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import UsageError
from runner.files import write_new


def test_a_new_file_then_a_refusal_then_a_forced_replacement(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "a.yaml"
    assert write_new(path, "one\n", force=False) is False
    with pytest.raises(UsageError, match="exists; not overwritten"):
        write_new(path, "two\n", force=False)
    assert path.read_text(encoding="utf-8") == "one\n"
    assert write_new(path, "two\n", force=True) is True
    assert path.read_text(encoding="utf-8") == "two\n"
    assert [p.name for p in path.parent.iterdir()] == ["a.yaml"]  # no temporary file left beside it


def test_a_file_that_cannot_be_written_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(UsageError, match=r"a\.yaml"):
        write_new(blocker / "a.yaml", "x", force=True)
    assert blocker.read_text(encoding="utf-8") == ""
