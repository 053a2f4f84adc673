"""Reading another tool's document: JSON as JSON (numbers, escapes), YAML as YAML, with fireline's limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.document.diagnostics import DocumentInvalid
from runner.importers.source import load_mapping
from tests.conftest import write


def test_json_is_read_as_json_whatever_the_file_is_called(tmp_path: Path) -> None:
    """YAML 1.1 would read 1e5 as text and cannot hold an escaped emoji; JSON rules apply to JSON."""
    text = '\ufeff{"n": 1e5, "s": "caf\\u00e9 \\ud83d\\ude00 a\\/b", "t": true}'
    for name in ("experiment.json", "experiment.yaml"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        assert load_mapping(path, "a document") == {"n": 100000.0, "s": "café 😀 a/b", "t": True}


def test_yaml(tmp_path: Path) -> None:
    path = write(tmp_path / "e.yaml", "title: t\nmethod: []\n")
    assert load_mapping(path, "a document") == {"title": "t", "method": []}


@pytest.mark.parametrize(("text", "said"), [
    ('{"a": 1, "a": 2}', "duplicate key 'a'"),
    ('{"a": NaN}', "NaN is not a JSON number"),
    ('{"a": "\\ud83d"}', "not valid text"),
    ('{"a": 1,}', "invalid JSON"),
    ("[" * 5000 + "]" * 5000, "nest more than"),
    ('"just text"', "top level must be a mapping"),
])
def test_refused(tmp_path: Path, text: str, said: str) -> None:
    path = write(tmp_path / "bad.json", text)
    with pytest.raises(DocumentInvalid) as caught:
        load_mapping(path, "a document")
    assert said in str(caught.value)
