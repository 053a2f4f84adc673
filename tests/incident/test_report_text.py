"""The incident report's text layout: whatever people typed, no line is wider than the terminal, and nothing
they wrote is lost (only the whitespace between words changes)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from runner.incident.report_outline import Facts, Items, Outline, Paragraph, Section, Subheading, Table
from runner.incident.report_text import _wrap, columns, render_text

# Letters, digits, punctuation, CJK (two columns each), combining marks (none) and spaces.
TEXT = st.text(st.sampled_from("ab|<>-_/.:" + "決済失敗" + "e\u0301" + "  \n\t" + "x" * 10), max_size=400)


@settings(max_examples=300, deadline=None)
@given(text=TEXT, width=st.integers(min_value=20, max_value=120), indent=st.integers(min_value=0, max_value=12))
def test_wrapped_lines_fit_and_keep_every_character(text: str, width: int, indent: int) -> None:
    lines = _wrap(text, width, "·" * indent, " " * indent)
    assert all(columns(line) <= width for line in lines)
    kept = "".join(line[indent:] for line in lines).replace(" ", "")
    assert kept == "".join(text.split())


@settings(max_examples=100, deadline=None)
@given(value=TEXT)
def test_every_block_of_a_report_fits_80_columns(value: str) -> None:
    outline = Outline(
        title=f"Incident Response Analysis: {value}",
        subtitle=value,
        banner=value,
        sections=(
            Section("s", value or "x", (
                Facts(((value, value), ("A label far longer than any label should be", value))),
                Paragraph(value),
                Subheading(value),
                Items((value, value), numbered=True),
                Table(("a", "b"), ((value, value), ("", value)), (1.0, 1.0)),
            )),
        ),
        footer=value,
    )  # fmt: skip
    assert all(columns(line) <= 80 for line in render_text(outline).splitlines())
