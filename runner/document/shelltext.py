"""Validation of shell text (the parameters an action declares as shell text): every `{{ … }}` must be a plain
word.

The rule and its messages live in runner.shellsyntax; this module places each problem at the template's
own line and column in the file, so `fireline validate` points at the `{{` to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from runner.actions.registry import traits
from runner.digest import sha256_hex
from runner.document.diagnostics import Diagnostic
from runner.document.yamlsource import Document, Mark, PathKey
from runner.shellsyntax import TemplateHole, describe, hint, misplaced_holes, template_items
from runner.templating import is_template


def check_shell_text(doc: Document, action: Any, params: Any, at: PathKey) -> list[Diagnostic]:
    """Problems with templates in the shell-text parameters of one action (`at` is the `with:` path)."""
    if not isinstance(action, str) or not isinstance(params, Mapping):
        return []
    out = []
    for field in traits(action).shell_text_params:
        text = params.get(field)
        if not isinstance(text, str) or not is_template(text):
            continue
        items, holes = template_items(text)
        path = (*at, field)
        for misplaced in misplaced_holes(items):
            written = holes[misplaced.hole.index]
            where = _position(doc, path, text, written)
            advice = hint(misplaced, text, written.offset)
            out.append(Diagnostic(doc.file, where.line, where.col, doc.path_text(path), describe(misplaced), advice))
    return out


# --- where a template sits in the file ----------------------------------------------------------------------


def _position(doc: Document, path: PathKey, text: str, hole: TemplateHole) -> Mark:
    """The `{{` of the template in the file; the start of the value when the source cannot be matched."""
    node = _node(doc, path)
    source = _source(doc.file, doc.digest)
    if not isinstance(node, yaml.ScalarNode) or source is None:
        return doc.mark(path)
    span_start = node.start_mark.index
    span = source[span_start : node.end_mark.index]
    # The n-th occurrence of this template's text in the value is the n-th in its source span, unless YAML
    # escapes or folding changed the template itself (then the value's start is the best we know).
    nth = text.count(hole.source, 0, hole.offset)
    found = -1
    for _ in range(nth + 1):
        found = span.find(hole.source, found + 1)
        if found < 0:
            return doc.mark(path)
    index = span_start + found
    line_start = source.rfind("\n", 0, index) + 1
    return Mark(source.count("\n", 0, index) + 1, index - line_start + 1)


def _node(doc: Document, path: PathKey) -> yaml.Node | None:
    node = doc.root
    for part in path:
        if isinstance(node, yaml.MappingNode):
            node = next(
                (v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(part)),
                None,
            )
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
        else:
            return None
    return node


@lru_cache(maxsize=16)
def _source(file: str, digest: str) -> str | None:
    """The text that was parsed, read again only to place a diagnostic, and only if it is a regular file
    with the very bytes that were parsed (the digest says so)."""
    path = Path(file)
    try:
        if not digest or not path.is_file():
            return None
        raw = path.read_bytes()
        if sha256_hex(raw) != digest:
            return None
        return raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None
