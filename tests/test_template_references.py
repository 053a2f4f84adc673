"""What a template names: literals and plain references are read without Jinja and must agree with Jinja's
parse exactly; a validation or run whose templates are all of that kind never loads Jinja."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.templating import _references_by_parse, _simple_references

REPO = Path(__file__).resolve().parents[1]
KEYWORDS = ["not", "and", "or", "in", "is", "if", "else", "for", "true", "none", "False", "None", "recursive"]
words = st.sampled_from(["a", "b", "inputs", "steps", "x_1", "result", *KEYWORDS])


def _jinja_references(text: str) -> Any:
    """references() with the fast reading switched off: Jinja's own answer (or its syntax error)."""
    from jinja2 import TemplateSyntaxError

    try:
        return _references_by_parse(text)
    except TemplateSyntaxError as exc:
        return ("syntax error", exc.lineno)


def _both(text: str) -> tuple[Any, Any]:
    return _simple_references(text), _jinja_references(text)


@st.composite
def templates(draw: Any) -> str:
    expr = draw(words)
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["attr", "int", "str", "dq"]))
        key = draw(words)
        expr += {"attr": f".{key}", "int": f"[{draw(st.integers(0, 12))}]", "str": f"['{key}']",
                 "dq": f'["{key} x"]'}[kind]
    lead = draw(st.sampled_from(["", " ", "\n", "\n\n  ", "x"]))
    inner = draw(st.sampled_from(["", " ", "\n", "  \n "]))
    trail = draw(st.sampled_from(["", "\n", " ", " y"]))
    return f"{lead}{{{{{inner}{expr}{inner[::-1]}}}}}{trail}"


@settings(max_examples=500, deadline=None)
@given(templates())
def test_the_fast_reading_agrees_with_jinja(text: str) -> None:
    fast, slow = _both(text)
    if fast is not None:
        assert fast == slow, text


@pytest.mark.parametrize("text", [
    "{{ true }}", "{{ inputs.service }}", "{{ steps['a-b'].outputs.n }}", '{{ steps["x"].outputs[0] }}',
    "\n\n{{ inputs.x }}", "{{\n inputs.x }}", "{{ none }}", "{{ result.rows[0].active }}",
])
def test_plain_references_are_read_without_jinja(text: str) -> None:
    fast, slow = _both(text)
    assert fast is not None
    assert fast == slow


@pytest.mark.parametrize("text", [
    "{{ not }}", "{{ a.b }} and {{ c }}", "{{ a | int }}", "{{- a -}}", "{% if a %}x{% endif %}",
    "{{ a['x\\'y'] }}", "{{ a['x\\ny'] }}", "{{ none.x }}", "{{ a }}{# c #}", "{{ 5 }}",
])
def test_anything_else_goes_to_jinja(text: str) -> None:
    assert _simple_references(text) is None


def _shipped_templates() -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str) and ("{{" in node or "{%" in node):
            found.append(node)

    for path in sorted((REPO / "runbooks").glob("*.yaml")):
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return found


def test_every_shipped_template_reads_the_same_either_way() -> None:
    texts = _shipped_templates()
    assert len(texts) > 50
    taken = 0
    for text in texts:
        fast, slow = _both(text)
        if fast is not None:
            taken += 1
            assert fast == slow, text
    assert taken > 10


def _loaded_after(argv: list[str], tmp_path: Path) -> str:
    code = (
        "import sys\nfrom runner.cli import main\ncode = main(sys.argv[1:])\n"
        "print('LOADED', sorted({m.split('.')[0] for m in sys.modules} & {'jinja2', 'jsonschema', 'rich', "
        "'kubernetes', 'psycopg', 'fabric', 'paramiko'}))\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "FIRELINE_HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("FIRELINE_CHECK_RESULTS", None)  # the suite's own result checking loads jsonschema
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_plain_templates_never_load_jinja(tmp_path: Path) -> None:
    runbook = tmp_path / "plain.yaml"
    runbook.write_text(
        "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: plain}\n"
        "inputs: {ok: {type: boolean, default: true}}\n"
        "steps:\n"
        "  - id: check\n    action: control.assert\n    with: {that: '{{ true }}'}\n"
        "  - id: named\n    action: control.assert\n    with: {that: '{{ inputs.ok }}'}\n",
        encoding="utf-8",
    )
    assert "LOADED []" in _loaded_after(["validate", str(runbook)], tmp_path)
    assert "LOADED []" in _loaded_after(["run", str(runbook), "--output", "json"], tmp_path)
    assert "LOADED []" in _loaded_after(["run", str(runbook)], tmp_path)  # text output, not a terminal
    assert "LOADED []" in _loaded_after(["plan", str(runbook)], tmp_path)


def test_a_real_template_still_renders(tmp_path: Path) -> None:
    runbook = tmp_path / "real.yaml"
    runbook.write_text(
        "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: real}\n"
        "inputs: {n: {type: integer, default: 3}}\n"
        "steps:\n"
        "  - id: check\n    action: control.assert\n    with: {that: '{{ inputs.n * 2 == 6 }}'}\n",
        encoding="utf-8",
    )
    out = _loaded_after(["run", str(runbook), "--output", "json"], tmp_path)
    assert "LOADED ['jinja2']" in out
