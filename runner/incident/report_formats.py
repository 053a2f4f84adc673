"""The incident report's formats, each from the one `IncidentReport` (and its outline)."""

from __future__ import annotations

import json
from enum import StrEnum

from runner.incident.report import IncidentReport
from runner.incident.report_html import render_html
from runner.incident.report_json import render_json
from runner.incident.report_md import render_markdown
from runner.incident.report_outline import outline
from runner.incident.report_text import render_text


class Format(StrEnum):
    TEXT = "text"
    MD = "md"
    HTML = "html"
    JSON = "json"
    PDF = "pdf"

    @property
    def binary(self) -> bool:
        return self is Format.PDF


def render(r: IncidentReport, fmt: Format) -> bytes:
    """The report in `fmt`: UTF-8 text, or PDF bytes."""
    if fmt is Format.JSON:
        return (json.dumps(render_json(r), indent=2, ensure_ascii=False) + "\n").encode()
    shape = outline(r)
    if fmt is Format.PDF:
        from runner.incident.report_pdf import render_pdf  # fpdf2 is loaded for PDF output only

        return render_pdf(shape)
    if fmt is Format.MD:
        return render_markdown(shape).encode()
    if fmt is Format.HTML:
        return render_html(r, shape).encode()
    return render_text(shape).encode()
