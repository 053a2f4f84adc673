"""Game-day reports from journal events: Markdown for tickets, one self-contained HTML file with an inline
SVG timeline, JSON for machines. Every format is rendered from the same `GameDayReport` record."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from runner.errors import UsageError
from runner.journal.events import Event
from runner.report.data import GameDayReport, build_report
from runner.report.html import render_html
from runner.report.jsondoc import render_json
from runner.report.markdown import render_markdown

FORMATS: dict[str, Callable[[GameDayReport], str]] = {"md": render_markdown, "html": render_html,
                                                      "json": render_json}

__all__ = ["FORMATS", "GameDayReport", "build_report", "render"]


def render(journal_events: Sequence[Event], fmt: str) -> str:
    """The report of one game day (all its journal events) in `fmt`: md, html or json."""
    renderer = FORMATS.get(fmt)
    if renderer is None:
        raise UsageError(f"unknown report format {fmt!r}", hint=f"use one of: {', '.join(FORMATS)}")
    if not journal_events:
        raise UsageError("no journal events for this game day",
                         hint="check the id with `fireline gameday history`")
    return renderer(build_report(journal_events))
