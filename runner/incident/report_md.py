"""The incident report as Markdown, for a ticket or a wiki page. Every value is made inert: HTML is escaped
(renderers pass raw HTML through), Markdown's own marks are backslash-escaped, and a table cell cannot end
early at a pipe."""

from __future__ import annotations

import re

from runner.incident.report_outline import Block, Facts, Items, Outline, Paragraph, Section, Subheading, Table
from runner.report.markdown import md_text

# Characters that start emphasis, code, links or strike-through wherever a value is placed.
_MARKS = re.compile(r"([\\`*_\[\]~])")
_NUMBERED = re.compile(r"^(\d+)([.)])")  # a paragraph starting so would be a numbered list


def md(text: str) -> str:
    """A value as inert Markdown inline text."""
    return md_text(_MARKS.sub(r"\\\1", text))  # marks first: md_text escapes a pipe with a backslash


def md_line(text: str) -> str:
    """A value that starts a line: not a heading, a quote or a list item."""
    inline = md(text)
    if inline[:1] in ("#", ">", "+", "-"):
        return "\\" + inline
    return _NUMBERED.sub(r"\1\\\2", inline)


def render_markdown(outline: Outline) -> str:
    parts = [f"# {md(outline.title)}", "", f"**{md(outline.subtitle)}**"]
    if outline.banner:
        parts += ["", f"> **{md(outline.banner)}**"]
    for section in outline.sections:
        parts += ["", *_section(section)]
    parts += ["", "---", "", f"_{md(outline.footer)}_"]
    return "\n".join(parts) + "\n"


def _section(section: Section) -> list[str]:
    lines = [f"## {md(section.title)}"]
    for block in section.blocks:
        lines += ["", *_block(block)]
    return lines


def _block(block: Block) -> list[str]:
    if isinstance(block, Facts):
        return [f"- **{md(label)}:** {md(value)}" for label, value in block.pairs]
    if isinstance(block, Paragraph):
        return [f"_{md(block.text)}_" if block.quiet else md_line(block.text)]
    if isinstance(block, Subheading):
        return [f"### {md(block.text)}"]
    if isinstance(block, Items):
        return [f"{f'{n}.' if block.numbered else '-'} {md(item)}" for n, item in enumerate(block.items, 1)]
    return _table(block)


def _table(block: Table) -> list[str]:
    lines = ["| " + " | ".join(md(h) for h in block.headers) + " |",
             "|" + "|".join("---" for _ in block.headers) + "|"]  # fmt: skip
    lines += ["| " + " | ".join(md(cell) for cell in row) + " |" for row in block.rows]
    return lines
