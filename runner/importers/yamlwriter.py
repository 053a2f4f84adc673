"""Readable YAML for documents fireline writes for people to edit: block style, short mappings and lists of
plain values on one line, comments above the keys they explain. PyYAML's dumper cannot place comments, and
its output of nested flow styles is hard to read; this writer only emits forms that PyYAML reads back as
the same data (a property test checks it).
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

PathKey = tuple[str | int, ...]
Comments = Mapping[PathKey, Sequence[str]]

WIDTH = 110  # a flow mapping or list longer than this is written in block style
_INDENT = 2
# Plain (unquoted) in flow context too: no indicators, no ": " or " #", nothing YAML would read as
# another type (checked separately), no leading or trailing space.
_FLOW_PLAIN = re.compile(r"[A-Za-z0-9_./=@+~%^$-][A-Za-z0-9_./:=@+~%^$ -]*")
_KEY_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def dump(
    data: Mapping[str, Any],
    comments: Comments | None = None,
    header: Sequence[str] = (),
    trailer: Sequence[str] = (),
) -> str:
    """`data` as YAML; `comments[path]` are written as `# ...` lines above the key or item at `path`,
    `header` at the top and `trailer` at the end."""
    lines = _comment_lines(header, 0)
    _mapping(data, (), 0, lines, comments or {})
    lines += _comment_lines(trailer, 0)
    return "\n".join(lines) + "\n"


def _comment_lines(texts: Sequence[str], indent: int) -> list[str]:
    """`# ` lines; comment text may come from the imported document, so anything that would end a comment
    line (any line break) starts a new one, and what YAML does not accept in a file is shown as `?`."""
    out = []
    for text in texts:
        for part in text.splitlines() or [""]:
            shown = "".join(c if c.isprintable() else "?" for c in part).rstrip()
            room = max(WIDTH - indent - 2, 40)
            wrapped = textwrap.wrap(shown, room, break_long_words=False, break_on_hyphens=False)
            for line in wrapped if len(shown) > room else [shown]:
                out.append(" " * indent + ("# " + line if line else "#"))
    return out


def _comments(at: PathKey, indent: int, lines: list[str], comments: Comments) -> None:
    lines += _comment_lines(comments.get(at, ()), indent)


def _mapping(data: Mapping[str, Any], path: PathKey, indent: int, lines: list[str], comments: Comments) -> None:
    pad = " " * indent
    for key, value in data.items():
        at = (*path, key)
        _comments(at, indent, lines, comments)
        head = f"{pad}{_key(key)}:"
        inline = _inline(value, WIDTH - len(head) - 1, at, comments)
        if inline is not None:
            lines.append(f"{head} {inline}")
        elif isinstance(value, str):
            lines.append(f"{head} |-")
            lines += [f"{pad}{' ' * _INDENT}{line}" if line else "" for line in value.split("\n")]
        elif isinstance(value, Mapping):
            lines.append(head)
            _mapping(value, at, indent + _INDENT, lines, comments)
        else:
            lines.append(head)
            _sequence(value, at, indent + _INDENT, lines, comments)


def _sequence(items: Sequence[Any], path: PathKey, indent: int, lines: list[str], comments: Comments) -> None:
    pad = " " * indent
    for index, item in enumerate(items):
        at = (*path, index)
        _comments(at, indent, lines, comments)
        inline = _inline(item, WIDTH - indent - 2, at, comments)
        if inline is not None:
            lines.append(f"{pad}- {inline}")
            continue
        nested: list[str] = []
        if isinstance(item, str):
            nested = [f"{pad}- |-", *(f"{pad}{' ' * _INDENT}{line}" if line else "" for line in item.split("\n"))]
        elif isinstance(item, Mapping):
            _mapping(item, at, indent + _INDENT, nested, comments)
            first = next(i for i, line in enumerate(nested) if not line.lstrip().startswith("#"))
            nested[first] = f"{pad}- {nested[first][indent + _INDENT :]}"
        else:
            nested.append(f"{pad}-")
            _sequence(item, at, indent + _INDENT, nested, comments)
        lines += nested


def _has_comments(at: PathKey, comments: Comments) -> bool:
    return any(len(path) > len(at) and path[: len(at)] == at for path in comments)


def _inline(value: Any, room: int, at: PathKey, comments: Comments) -> str | None:
    """The value on one line (a scalar, or a short flow mapping/list of scalars), or None."""
    if isinstance(value, str):
        return None if _needs_block(value) else _scalar(value, flow=False)
    if not isinstance(value, Mapping | list | tuple):
        return _scalar(value, flow=False)
    if not value:
        return "{}" if isinstance(value, Mapping) else "[]"
    if _has_comments(at, comments) or not _flat(value):
        return None
    text = _flow(value)
    return text if len(text) <= room else None


def _flat(value: Mapping[str, Any] | Sequence[Any]) -> bool:
    """Scalars only, or lists of scalars (what reads well on one line)."""
    items = value.values() if isinstance(value, Mapping) else value
    for item in items:
        if isinstance(item, Mapping):
            return False
        if isinstance(item, list | tuple) and any(isinstance(x, Mapping | list | tuple) for x in item):
            return False
        if isinstance(item, str) and "\n" in item:
            return False
    return True


def _flow(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value, flow=True)


def _needs_block(text: str) -> bool:
    """Multi-line text reads best as a literal block, when it can be one exactly."""
    if "\n" not in text:
        return False
    lines = text.split("\n")
    return (
        text == text.strip()
        and not text.startswith(("#", "-", "?", ":"))
        and all(line == line.rstrip() and line.isprintable() for line in lines)
        and not lines[0].startswith(" ")
    )


def _scalar(value: Any, *, flow: bool) -> str:
    if isinstance(value, str):
        return value if _plain(value, flow=flow) else _quoted(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return _quoted(str(value))


def _plain(text: str, *, flow: bool) -> bool:
    if not text or not text.isprintable() or (flow and not _FLOW_PLAIN.fullmatch(text)):
        return False
    dumped = yaml.safe_dump(text, default_flow_style=True, allow_unicode=True, width=10**9)
    # PyYAML writes a plain scalar followed by the document end marker; anything quoted needs quoting.
    return dumped == f"{text}\n...\n"


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t"}


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar. Not json.dumps: JSON escapes a character beyond U+FFFF as a surrogate
    pair, which YAML reads as two separate (invalid) characters."""
    return '"' + "".join(_ESCAPES.get(c) or (c if c.isprintable() else _escape(c)) for c in text) + '"'


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _key(key: str | int) -> str:
    text = str(key)
    return text if _KEY_PLAIN.fullmatch(text) and _plain(text, flow=True) else _quoted(text)
