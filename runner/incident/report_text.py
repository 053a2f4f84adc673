"""The incident report as plain text for a terminal: no line wider than `WIDTH` columns, counting the
columns a character takes (East Asian wide characters take two, combining marks none), long words broken."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from runner.incident.report_outline import Block, Facts, Items, Outline, Paragraph, Section, Subheading, Table

WIDTH = 80
LABEL_MAX = 26  # a longer label gets a line of its own rather than pushing every value right


def render_text(outline: Outline, width: int = WIDTH) -> str:
    lines = [*_wrap(outline.title.upper(), width), "═" * min(width, columns(outline.title))]
    lines += _wrap(outline.subtitle, width)
    if outline.banner:
        lines += ["", *_wrap(outline.banner, width, "!! ", "   ")]
    for section in outline.sections:
        lines += ["", *_section(section, width)]
    lines += ["", *_wrap(outline.footer, width)]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _section(section: Section, width: int) -> list[str]:
    heading = section.title.upper() + ":"
    lines = [heading, "─" * min(width, columns(heading))]
    for block in section.blocks:
        lines += _block(block, width)
    return lines


def _block(block: Block, width: int) -> list[str]:
    if isinstance(block, Facts):
        return _facts(block, width)
    if isinstance(block, Paragraph):
        return _wrap(block.text, width)
    if isinstance(block, Subheading):
        return _wrap(block.text + ":", width)
    if isinstance(block, Items):
        return _items(block.items, block.numbered, width)
    return _table(block, width)


def _facts(block: Facts, width: int) -> list[str]:
    labels = [columns(label) for label, _ in block.pairs if columns(label) <= LABEL_MAX]
    pad = max(labels, default=0) + 2
    lines: list[str] = []
    for label, value in block.pairs:
        if columns(label) > LABEL_MAX:
            lines += _wrap(f"{label}:", width)
            lines += _wrap(value, width, " " * pad, " " * pad)
            continue
        first = f"{label}:" + " " * (pad - columns(label) - 1)
        lines += _wrap(value, width, first, " " * pad)
    return lines


def _items(items: Sequence[str], numbered: bool, width: int) -> list[str]:
    lines: list[str] = []
    marker_w = len(f"{len(items)}. ") if numbered else 2
    for index, item in enumerate(items, 1):
        marker = f"{index}. ".rjust(marker_w) if numbered else "• "
        lines += _wrap(item, width, marker, " " * marker_w)
    return lines


def _table(block: Table, width: int) -> list[str]:
    """Each row on its own lines, its cells separated by " · ", wrapped with an indent. A row whose first
    cell is empty continues the one above and is indented."""
    lines: list[str] = []
    indent = " " * 4
    for row in block.rows:
        rest = " · ".join(c for c in row[1:] if c)
        if row[0]:
            lines += _wrap(f"{row[0]} · {rest}" if rest else row[0], width, "", indent)
        elif rest:
            lines += _wrap(rest, width, indent, indent + "  ")
    return lines


# -- wrapping by display columns ------------------------------------------------------------------------------------


def columns(text: str) -> int:
    """How many terminal columns `text` takes."""
    return sum(_char_columns(c) for c in text)


def _char_columns(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _wrap(text: str, width: int, first: str = "", rest: str = "") -> list[str]:
    """`text` in lines of at most `width` columns, the first starting with `first`, the others with `rest`.
    A word longer than the room left on an empty line is broken."""
    lines: list[str] = []
    line, used, empty = first, columns(first), True
    for word in text.split():
        size = columns(word)
        if not empty and used + 1 + size <= width:
            line, used = f"{line} {word}", used + 1 + size
            continue
        if not empty:
            lines.append(line)
            line, used = rest, columns(rest)
        while columns(word) > width - used:
            head, word = _cut(word, max(width - used, 1))
            lines.append(line + head)
            line, used = rest, columns(rest)
        line, used, empty = line + word, used + columns(word), False
    if not empty or not lines:
        lines.append(line)
    return lines


def _cut(word: str, room: int) -> tuple[str, str]:
    """The longest head of `word` that fits in `room` columns (at least one character), and the rest."""
    used = 0
    for index, char in enumerate(word):
        used += _char_columns(char)
        if used > room:
            return word[: max(index, 1)], word[max(index, 1) :]
    return word, ""
