"""PDF output for documents people print or attach: post-mortems and incident reports.

A `Document` is a small typed structure (a title, then sections of paragraphs, bullet lists and tables); the
renderers of each report build one and `to_pdf` lays it out with fpdf2. Text is set in DejaVu Sans, embedded
in the file, so arrows, dashes and accents print as written on any reader (the PDF base fonts only know
Latin-1). The font comes from the system (Debian: fonts-dejavu-core) or `FIRELINE_PDF_FONT_DIR`.

Nothing from the journal is trusted to be printable: control characters are dropped, tabs become spaces, and
a character the font lacks is replaced rather than failing the whole document.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from runner.errors import FirelineError

if TYPE_CHECKING:
    from fpdf import FPDF

FONT_ENV = "FIRELINE_PDF_FONT_DIR"
FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),  # Debian, Ubuntu
    Path("/usr/share/fonts/dejavu-sans-fonts"),  # Fedora
    Path("/usr/share/fonts/TTF"),  # Arch
    Path("/usr/local/share/fonts/dejavu"),
    Path("/Library/Fonts"),
)
REGULAR, BOLD = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"
FAMILY = "DejaVu"
# A table row taller than a page cannot be laid out: a cell's text is cut (with "…") past this many lines.
CELL_LINES = 35
SHORT_CELL = 100  # characters: fewer lines than CELL_LINES in any column (3+ glyphs wide), not measured
MIN_COLUMN_MM = 10.0
PARAGRAPH_LIMIT = 20_000


@dataclass(frozen=True)
class Paragraph:
    text: str
    bold: bool = False
    muted: bool = False  # smaller and grey: captions, definitions, footnotes


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]
    numbered: bool = False
    checklist: bool = False  # an empty box before each item (action items to tick off)


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...] | None = None  # relative column widths; None: equal


Block = Paragraph | Bullets | Table


@dataclass(frozen=True)
class Section:
    title: str
    blocks: tuple[Block, ...] = ()


@dataclass(frozen=True)
class Document:
    title: str
    subtitle: str = ""
    sections: tuple[Section, ...] = ()
    footer: str = ""  # printed small on every page, with the page number
    meta: dict[str, str] = field(default_factory=dict)  # author, subject, keywords (PDF metadata)


class PdfUnavailable(FirelineError):
    """The PDF cannot be made on this machine (the font is missing)."""


def font_dir() -> Path:
    """The directory holding DejaVu Sans (regular and bold)."""
    named = os.environ.get(FONT_ENV)
    candidates = [Path(named)] if named else list(FONT_DIRS)
    for directory in candidates:
        if (directory / REGULAR).is_file() and (directory / BOLD).is_file():
            return directory
    where = f"{FONT_ENV}={named}" if named else ", ".join(str(d) for d in FONT_DIRS)
    raise PdfUnavailable(
        f"PDF output needs the DejaVu Sans fonts ({REGULAR}, {BOLD}); not found in {where}",
        hint="install them (Debian/Ubuntu: apt-get install fonts-dejavu-core) or point "
        f"{FONT_ENV} at a directory holding both files",
    )


def to_pdf(document: Document) -> bytes:
    """The document as PDF bytes (A4, text embedded as DejaVu Sans)."""
    pdf = _new_pdf(document)
    _title(pdf, document)
    for section in document.sections:
        _section(pdf, section)
    return bytes(pdf.output())


def _new_pdf(document: Document) -> FPDF:
    from fpdf import FPDF

    footer = clean(document.footer, 300)

    class _Pdf(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(FAMILY, "", 7.5)
            self.set_text_color(117, 117, 117)
            text = f"{footer} · page {self.page_no()}/{{nb}}" if footer else f"page {self.page_no()}/{{nb}}"
            self.cell(0, 5, text, align="C")

    pdf = _Pdf(orientation="portrait", unit="mm", format="A4")
    directory = font_dir()
    pdf.add_font(FAMILY, "", str(directory / REGULAR))
    pdf.add_font(FAMILY, "B", str(directory / BOLD))
    pdf.set_margins(16, 16, 16)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_title(clean(document.title, 300))
    pdf.set_creator("fireline")
    for key, value in document.meta.items():
        setter = {"author": pdf.set_author, "subject": pdf.set_subject, "keywords": pdf.set_keywords}.get(key)
        if setter is not None:
            setter(clean(value, 300))
    pdf.alias_nb_pages()
    pdf.add_page()
    return pdf


def _title(pdf: FPDF, document: Document) -> None:
    pdf.set_font(FAMILY, "B", 17)
    pdf.set_text_color(33, 33, 33)
    pdf.multi_cell(0, 8, printable(clean(document.title, 500)), align="L", new_x="LMARGIN", new_y="NEXT")
    if document.subtitle:
        pdf.set_font(FAMILY, "", 9.5)
        pdf.set_text_color(97, 97, 97)
        pdf.multi_cell(0, 5, printable(clean(document.subtitle, 1000)), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def _section(pdf: FPDF, section: Section) -> None:
    if pdf.get_y() > pdf.h - 45:  # a heading alone at the foot of a page reads badly
        pdf.add_page()
    pdf.ln(3)
    pdf.set_font(FAMILY, "B", 12.5)
    pdf.set_text_color(33, 33, 33)
    pdf.multi_cell(0, 7, printable(clean(section.title, 300)), align="L", new_x="LMARGIN", new_y="NEXT")
    y = pdf.get_y()
    pdf.set_draw_color(224, 224, 224)
    pdf.line(pdf.l_margin, y, pdf.w - pdf.r_margin, y)
    pdf.ln(2)
    for block in section.blocks:
        if isinstance(block, Paragraph):
            _paragraph(pdf, block)
        elif isinstance(block, Bullets):
            _bullets(pdf, block)
        else:
            _table(pdf, block)
        pdf.ln(1.5)


def _paragraph(pdf: FPDF, block: Paragraph) -> None:
    pdf.set_font(FAMILY, "B" if block.bold else "", 8.5 if block.muted else 10)
    grey = 97 if block.muted else 33
    pdf.set_text_color(grey, grey, grey)
    pdf.multi_cell(0, 4.6 if block.muted else 5.2, printable(clean(block.text, PARAGRAPH_LIMIT)), align="L",
                   new_x="LMARGIN", new_y="NEXT")  # fmt: skip


def _bullets(pdf: FPDF, block: Bullets) -> None:
    pdf.set_font(FAMILY, "", 10)
    pdf.set_text_color(33, 33, 33)
    for index, item in enumerate(block.items, start=1):
        mark = "☐" if block.checklist else (f"{index}." if block.numbered else "•")
        pdf.set_x(pdf.l_margin + 2)
        pdf.cell(7, 5.2, mark)
        pdf.multi_cell(0, 5.2, printable(clean(item, PARAGRAPH_LIMIT)), align="L", new_x="LMARGIN", new_y="NEXT")


def _table(pdf: FPDF, block: Table) -> None:
    from fpdf.fonts import FontFace

    columns = max([len(block.headers), *(len(row) for row in block.rows)], default=0)
    if columns == 0:
        return
    widths = _widths(block.widths, columns, pdf.epw)
    column_mm = [pdf.epw * w / sum(widths) - 2.4 for w in widths]  # less the cell's padding
    pdf.set_font(FAMILY, "", 8.5)
    pdf.set_text_color(33, 33, 33)
    pdf.set_draw_color(224, 224, 224)
    headings = FontFace(emphasis="BOLD", fill_color=(245, 245, 245))
    with pdf.table(col_widths=widths, headings_style=headings, line_height=4.4, text_align="LEFT",
                   first_row_as_headings=bool(block.headers), padding=1.2) as table:  # fmt: skip
        for row in ((block.headers,) if block.headers else ()) + block.rows:
            cells = table.row()
            for index in range(columns):
                text = row[index] if index < len(row) else ""
                cells.cell(fit(pdf, printable(clean(text, PARAGRAPH_LIMIT)), column_mm[index]))


def _widths(given: Sequence[float] | None, columns: int, page_mm: float) -> tuple[float, ...]:
    """Relative column widths, none narrower than MIN_COLUMN_MM (a column of one glyph breaks every word)."""
    if given is None or len(given) != columns or any(w <= 0 for w in given):
        return tuple(1.0 for _ in range(columns))
    total = float(sum(given))
    least = total * min(MIN_COLUMN_MM / page_mm, 1.0 / columns)
    return tuple(max(float(w), least) for w in given)


def fit(pdf: FPDF, text: str, column_mm: float) -> str:
    """`text` cut (with "…") to the CELL_LINES lines it takes, wrapped in the current font, in a column
    `column_mm` wide."""
    if len(text) <= SHORT_CELL and text.count("\n") < CELL_LINES:
        return text  # fits whatever the column: not worth laying out twice
    lines = pdf.multi_cell(column_mm, 4.4, text, dry_run=True, output="LINES")
    if not isinstance(lines, list) or len(lines) <= CELL_LINES:
        return text
    return "\n".join(lines[:CELL_LINES])[:-1].rstrip() + "…"


def clean(text: object, limit: int) -> str:
    """Text safe to lay out: control characters dropped (newlines kept), tabs as spaces, at most `limit`
    characters."""
    raw = str(text).replace("\r\n", "\n").replace("\t", "    ")
    kept = "".join(c for c in raw if c == "\n" or unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    return kept if len(kept) <= limit else kept[: limit - 1] + "…"


def printable(text: str) -> str:
    """Characters the embedded font has; others become "?" (a PDF with a gap is better than no PDF)."""
    glyphs = _glyphs()
    return "".join(c if c == "\n" or ord(c) in glyphs else "?" for c in text)


@cache
def _glyphs() -> frozenset[int]:
    from fontTools.ttLib import TTFont

    regular = TTFont(str(font_dir() / REGULAR), lazy=True)
    bold = TTFont(str(font_dir() / BOLD), lazy=True)
    return frozenset(regular.getBestCmap()) & frozenset(bold.getBestCmap())
