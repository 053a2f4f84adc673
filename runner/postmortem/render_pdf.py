"""The post-mortem as PDF: the template's sections laid out by runner.report.pdf."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runner.postmortem.document import PostMortem, item_terms
from runner.report.pdf import Block, Bullets, Document, Paragraph, Section, Table, to_pdf

TODO = Paragraph("To be written.", muted=True)
NONE = Paragraph("None recorded.", muted=True)


def _text(value: object) -> str:
    return "" if value in (None, "") else str(value)


def _facts(pairs: Sequence[tuple[str, object]]) -> Table:
    return Table((), tuple((name, _text(value) or "—") for name, value in pairs), (1, 3))


def _items(values: Sequence[Any], *, numbered: bool = False) -> Block:
    return Bullets(tuple(str(v) for v in values), numbered=numbered) if values else NONE


def _action_items(items: Sequence[Mapping[str, Any]]) -> Block:
    lines = []
    for item in items:
        who, due, extra = item_terms(item)
        lines.append(f"{item.get('title')} — {who}, due {due}" + (f" ({extra})" if extra else ""))
    return Bullets(tuple(lines), checklist=True) if lines else NONE


def document_of(pm: PostMortem) -> Document:
    d = pm.data
    s: Mapping[str, Any] = d.get("summary") or {}
    timeline = tuple((str(r.get("at") or "").replace("T", " "), _text(r.get("text"))) for r in d.get("timeline") or [])
    whys = [f"Why? {w.get('why') or '…'} — Because {w.get('because') or '…'}" for w in d.get("five_whys") or []]
    generated = d.get("generated") or {}
    authors = f" · authors: {', '.join(pm.authors)}" if pm.authors else ""
    sections = (
        Section("Summary", (Paragraph(_text(s.get("what")) or "—"), _facts(pm.summary_facts()))),
        Section("Timeline (UTC)", (Table(("Time (UTC)", "Event"), timeline, (1, 3.4)),) if timeline else (NONE,)),
        Section("Root Cause", (Paragraph(_text(d.get("root_cause"))),) if d.get("root_cause") else (TODO,)),
        Section("Impact", (_facts(pm.impact_facts()),)),
        Section("What Went Well", (_items(d.get("went_well") or []),)),
        Section("What Went Wrong", (_items(d.get("went_wrong") or []),)),
        Section("Action Items", (_action_items(pm.action_items),)),
        Section("Lessons Learned", (_items(d.get("lessons") or [], numbered=True),)),
        Section("Contributing Factors", (_items(d.get("contributing_factors") or []),)),
        Section("Five Whys", (_items(whys, numbered=True),)),
    )  # fmt: skip
    return Document(
        title=f"Post-Mortem: {pm.title}",
        subtitle=f"{pm.incident} · {s.get('severity') or '—'} · status {pm.status}{authors}",
        sections=sections,
        footer=f"{pm.incident} post-mortem · drafted by {generated.get('by') or 'fireline'}",
        meta={"subject": f"Post-mortem of {pm.incident}", "author": ", ".join(pm.authors)},
    )


def render_pdf(pm: PostMortem) -> bytes:
    return to_pdf(document_of(pm))
