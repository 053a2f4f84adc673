"""PDF output: checked as a reader would, through poppler (pdftotext for the words, pdftoppm for the page)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from runner.report.pdf import Bullets, Document, Paragraph, PdfUnavailable, Section, Table, to_pdf

needs_poppler = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")


def pdf_text(pdf: bytes, tmp_path: Path, first: int = 1, last: int | None = None) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    pages = ["-f", str(first)] + (["-l", str(last)] if last else [])
    done = subprocess.run(["pdftotext", "-layout", *pages, str(path), "-"], capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    return done.stdout


def ink_of_page_one(pdf: bytes, tmp_path: Path) -> float:
    """The share of page 1's pixels that are not white, rendered by pdftoppm."""
    from PIL import Image

    path = tmp_path / "page.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "50", "-f", "1", "-l", "1", "-png", str(path), str(tmp_path / "page")],
                   capture_output=True, timeout=60, check=True)  # fmt: skip
    (png,) = tmp_path.glob("page-*.png")
    histogram = Image.open(png).convert("L").histogram()  # pixels per grey level, 0 black … 255 white
    return sum(histogram[:200]) / sum(histogram)


def _document(title: str, rows: int = 3) -> Document:
    table = Table(("At (UTC)", "What happened"),
                  tuple((f"2026-12-04 09:{i:02d}:00Z", f"event {i} | with a pipe") for i in range(rows)), (1, 3))
    return Document(title, "INC-2026-001 · SEV2", (
        Section("Summary", (Paragraph("Checkout returned 503 for 42m → rolled back — recovered."),)),
        Section("Timeline", (table,)),
        Section("Action items", (Bullets(("Add pool monitoring (alice, due 2026-12-11)",), checklist=True),)),
    ), footer="fireline")  # fmt: skip


@needs_poppler
def test_the_pdf_has_the_title_and_unicode_text_and_ink_on_page_one(tmp_path: Path) -> None:
    pdf = to_pdf(_document("Post-mortem: Checkout → 503 — café"))
    assert pdf.startswith(b"%PDF-")
    text = pdf_text(pdf, tmp_path)
    assert "Post-mortem: Checkout → 503 — café" in text  # arrows, dashes and accents kept (embedded font)
    assert "rolled back — recovered" in text
    assert "event 2 | with a pipe" in text
    assert "☐" in text and "Add pool monitoring" in text
    assert ink_of_page_one(pdf, tmp_path) > 0.01


@needs_poppler
def test_hostile_text_never_breaks_the_layout(tmp_path: Path) -> None:
    """Control characters, markup, a word longer than a line and a cell taller than a page: a PDF still comes out,
    with the long cell cut rather than the layout failing."""
    hostile = "<script>alert(1)</script>\x00\x1b[31m\ttab " + "x" * 3000
    document = Document(hostile, hostile, (
        Section(hostile, (Paragraph(hostile), Bullets((hostile,), numbered=True),
                          Table(("a", "b"), (("line\n" * 400, "W " * 4000),), (1, 12)),
                          Table(("a", "b"), (("W" * 99, "x"),), (1, 1000)),  # a column too narrow is widened
                          Table((), ()))),
    ))  # fmt: skip
    pdf = to_pdf(document)
    text = pdf_text(pdf, tmp_path)
    assert "<script>alert(1)</script>" in text  # printed as text: a PDF has no markup to inject into
    assert "\x1b" not in text and "\x00" not in text
    assert "…" in text


def test_a_missing_font_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRELINE_PDF_FONT_DIR", str(tmp_path))
    with pytest.raises(PdfUnavailable) as caught:
        to_pdf(_document("t"))
    assert "DejaVu" in str(caught.value) and "fonts-dejavu-core" in (caught.value.hint or "")
