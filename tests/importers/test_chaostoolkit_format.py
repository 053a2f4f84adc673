"""What is not a Chaos Toolkit experiment is refused before anything is mapped, every problem at once, each
with its JSON path."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.document.diagnostics import DocumentInvalid
from runner.importers.chaostoolkit import import_file
from tests.conftest import write


@pytest.mark.parametrize(("text", "message"), [
    ("[1, 2]", "top level must be a mapping, not a list"),
    ('{"title": "t", "description": "d"}', "not a Chaos Toolkit experiment: there is no method"),
    ("apiVersion: fireline/v1\nkind: GameDay\nmetadata: {name: x}\n", "this is a fireline game day"),
    ('{"title": "t", "method": [{"type": "action", "name": "x", "provider": {"type": "go"}}]}',
     "unknown provider type 'go'"),
    ('{"title": "t", "method": [{"ref": "nope"}]}', "refers to an activity named 'nope' that is not declared"),
    ('{"title": "t", "method": []', "invalid JSON"),
    ('{"a": 1, "a": 2, "method": []}', "duplicate key 'a'"),
    ("title: [unclosed\n", "YAML syntax error"),
])
def test_not_an_experiment(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "x.json" if text.startswith(("{", "[")) else tmp_path / "x.yaml", text)
    with pytest.raises(DocumentInvalid) as caught:
        import_file(path)
    assert message in str(caught.value)


def test_every_problem_at_once_with_its_path(tmp_path: Path) -> None:
    path = write(tmp_path / "x.json", """{"title": "t", "method": [
        {"type": "action", "name": "a", "provider": {"type": "http"}},
        {"type": "action", "name": "b", "provider": {"type": "process", "path": 7}, "pauses": {"after": "soon"}},
        {"type": "stroll", "provider": {"type": "python", "module": "m"}}
    ]}""")
    with pytest.raises(DocumentInvalid) as caught:
        import_file(path)
    paths = [d.path for d in caught.value.diagnostics]
    assert paths == sorted(["$.method[0].provider.url", "$.method[1].provider.path", "$.method[1].pauses.after",
                            "$.method[2].type", "$.method[2].name", "$.method[2].provider.func"])
