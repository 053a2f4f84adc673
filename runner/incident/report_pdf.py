"""The incident report as PDF: the outline as runner.report.pdf's `Document`, laid out by `to_pdf`. Facts
become two-column tables, subheadings bold paragraphs; the ongoing banner is the first paragraph."""

from __future__ import annotations

from runner.incident.report_outline import Block, Facts, Items, Outline, Paragraph, Section, Subheading
from runner.report import pdf


def document(outline: Outline) -> pdf.Document:
    sections = [_section(s) for s in outline.sections]
    if outline.banner:
        first = sections[0]
        sections[0] = pdf.Section(first.title, (pdf.Paragraph(outline.banner, bold=True), *first.blocks))
    return pdf.Document(
        title=outline.title,
        subtitle=outline.subtitle,
        sections=tuple(sections),
        footer=outline.footer,
        meta={"subject": outline.title, "keywords": "incident report"},
    )


def render_pdf(outline: Outline) -> bytes:
    return pdf.to_pdf(document(outline))


def _section(section: Section) -> pdf.Section:
    return pdf.Section(section.title, tuple(_block(b) for b in section.blocks))


def _block(block: Block) -> pdf.Block:
    if isinstance(block, Facts):
        return pdf.Table((), tuple((label, value) for label, value in block.pairs), (1.0, 3.0))
    if isinstance(block, Paragraph):
        return pdf.Paragraph(block.text, muted=block.quiet)
    if isinstance(block, Subheading):
        return pdf.Paragraph(block.text, bold=True)
    if isinstance(block, Items):
        return pdf.Bullets(block.items, numbered=block.numbered)
    return pdf.Table(block.headers, block.rows, block.widths)
