"""The YAML people edit after an import: it reads back as exactly the data written, whatever the text in it,
and the comments stand above what they explain."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.importers.yamlwriter import PathKey, dump

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=30),
    st.sampled_from(["yes", "no", "on", "null", "~", "1.0", "0x1F", "- a", "a: b", "#x", "{{ inputs.a }}", "a #b",
                     "'q'", '"q"', "line\nline", "tab\tx", " lead", "trail ", "@x", "`x", "%x", "!x", "&x", "*x",
                     "|", ">", "2026-12-04", "é😀", "\x85", "\u2028", "key: {a}", "[1]", "=", "?x"]),
)
keys = st.one_of(st.text(min_size=1, max_size=12), st.sampled_from(["a.b[0]", "on", "yes", "1", "- x", "a: b"]))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(keys, values, min_size=1, max_size=6))
def test_reads_back_as_the_same_data(data: dict[str, Any]) -> None:
    text = dump(data)
    assert yaml.safe_load(text) == data, text


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(keys, values, min_size=1, max_size=4), st.text(max_size=40))
def test_comments_never_change_the_data(data: dict[str, Any], comment: str) -> None:
    comments: dict[PathKey, tuple[str, ...]] = {(key,): (comment, "second line") for key in data}
    text = dump(data, comments, header=(comment,), trailer=("objectives:", "  time_to_detect:"))
    assert yaml.safe_load(text) == data, text


def test_layout() -> None:
    data = {
        "metadata": {"name": "x", "description": "one\ntwo", "tags": ["a", "b"]},
        "faults": [{"id": "f", "with": {"argv": ["mv", "{{ inputs.a }}", "b"]}}],
    }
    text = dump(data, {("faults", 0): ("PLACEHOLDER: replace it",)}, ("header",), ("objectives:",))
    assert text == (
        "# header\n"
        "metadata:\n"
        "  name: x\n"
        "  description: |-\n"
        "    one\n"
        "    two\n"
        "  tags: [a, b]\n"
        "faults:\n"
        "  # PLACEHOLDER: replace it\n"
        "  - id: f\n"
        '    with: {argv: [mv, "{{ inputs.a }}", b]}\n'
        "# objectives:\n"
    )
