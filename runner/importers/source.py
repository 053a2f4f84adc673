"""Reading another tool's document, JSON or YAML, with the limits every fireline document has (size, depth,
number of values, regular files only) and a position for every problem."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runner.document.diagnostics import Diagnostic, DocumentInvalid
from runner.document.yamlsource import MAX_DEPTH, MAX_EXPANDED_NODES, load_text, read_source


def load_mapping(path: Path, what: str) -> dict[str, Any]:
    """The top-level mapping of a JSON or YAML file; DocumentInvalid (exit 1) for anything else. `what` names
    the expected document in messages ("a Chaos Toolkit experiment")."""
    name = str(path)
    raw = read_source(path, name)
    hint = f"{what} is a JSON or YAML object (key: value pairs)"
    text = _decode(raw, name)
    if text.lstrip()[:1] in ("{", "[") and (path.suffix.lower() == ".json" or _is_json(text)):
        data = _json(text, name)
    else:
        try:
            data = load_text(raw, name, first_line=hint).data
        except UnicodeError:  # an escape YAML accepts but Python cannot hold (a lone surrogate)
            raise _invalid(name, 1, 1, "the file contains an escaped character that is not valid text") from None
    if not isinstance(data, dict):
        raise _invalid(name, 1, 1, f"top level must be a mapping, not a {_kind(data)}", hint)
    return data


def _decode(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _invalid(name, line, 1, "the file is not UTF-8 text", "save it as UTF-8 JSON or YAML") from None


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _json(text: str, name: str) -> Any:
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except _Duplicate as exc:
        raise _invalid(name, 1, 1, f"duplicate key {exc.key!r}", "JSON readers disagree on which value wins") from None
    except json.JSONDecodeError as exc:
        raise _invalid(name, exc.lineno, exc.colno, f"invalid JSON: {exc.msg}") from None
    except ValueError as exc:
        raise _invalid(name, 1, 1, f"invalid JSON: {exc}") from None
    except RecursionError:
        raise _too_deep(name) from None
    for count, (depth, value) in enumerate(_walk(data, 0), 1):
        if depth > MAX_DEPTH:
            raise _too_deep(name)
        if count > MAX_EXPANDED_NODES:
            raise _invalid(name, 1, 1, f"more than {MAX_EXPANDED_NODES} values", "is this the file you meant?")
        if isinstance(value, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            raise _invalid(name, 1, 1, "the file contains an escaped character that is not valid text")
    return data


class _Duplicate(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not a JSON number")


def _walk(value: Any, depth: int) -> Iterator[tuple[int, Any]]:
    """Every value with its depth, without recursion (the depth is what is being checked)."""
    stack = [(depth, value)]
    while stack:
        level, item = stack.pop()
        yield level, item
        if isinstance(item, dict):
            stack += [(level + 1, v) for v in item.values()] + [(level + 1, k) for k in item]
        elif isinstance(item, list):
            stack += [(level + 1, v) for v in item]


def _kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value), "value")


def _too_deep(name: str) -> DocumentInvalid:
    return _invalid(name, 1, 1, f"values nest more than {MAX_DEPTH} levels deep", "flatten the structure")


def _invalid(name: str, line: int, col: int, message: str, hint: str | None = None) -> DocumentInvalid:
    return DocumentInvalid([Diagnostic(name, line, col, "", message, hint)])
