"""Templating: the fast path for plain references agrees with Jinja; shell quoting never lets an input run."""

from __future__ import annotations

import shlex
import subprocess
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.templating import _MISS, _compiled_expression, _fast_evaluate, references, render_string

names = st.sampled_from(["a", "b", "items", "n", "rows", "x1"])
leaves = st.one_of(st.integers(-5, 5), st.text(max_size=5), st.booleans(), st.none())
data = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(names, inner, max_size=3)),
    max_leaves=12,
)


@st.composite
def expressions(draw: Any) -> str:
    parts = [draw(st.sampled_from(["a", "b"]))]
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["attr", "int", "str"]))
        if kind == "attr":
            parts.append("." + draw(names))
        elif kind == "int":
            parts.append(f"[{draw(st.integers(0, 3))}]")
        else:
            parts.append(f"['{draw(names)}']")
    return "".join(parts)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b"]), data, min_size=1), expressions())
def test_fast_path_agrees_with_jinja(context: dict[str, Any], expr: str) -> None:
    fast = _fast_evaluate(expr, context)
    if fast is _MISS:
        return
    slow = _compiled_expression(expr)(**context)
    assert fast is slow or fast == slow


@pytest.mark.parametrize(
    "hostile",
    ["x; touch {marker}", "$(touch {marker})", "`touch {marker}`", "a' ; touch {marker}; echo '", "\n touch {marker}"],
)
def test_shell_values_are_quoted(hostile: str, tmp_path) -> None:
    marker = tmp_path / "pwned"
    value = hostile.format(marker=marker)
    line = render_string("echo {{ inputs.v }}", {"inputs": {"v": value}}, shell=True)
    out = subprocess.run(["/bin/sh", "-c", line], capture_output=True, text=True, check=True).stdout
    assert out == value + "\n" and not marker.exists()
    assert shlex.split(line) == ["echo", value]


def test_references_skip_names_bound_in_the_template() -> None:
    refs = references("{% for h in inputs.hosts %}{{ h.name }}{% endfor %}{{ steps['c'].outputs.n }}")
    assert [(r.root, r.chain) for r in refs] == [("inputs", ("hosts",)), ("steps", ("c", "outputs", "n"))]
