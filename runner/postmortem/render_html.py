"""The post-mortem as one self-contained HTML file: the template's sections and the incident's timeline as an
inline SVG picture (the incident timeline picture, runner.report.incident_svg) — lanes for alerts, status
updates, runbook steps, approvals and notes, and dashed lines at the milestones. No scripts, no
fetches; every value is escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from runner.journal.incidents import parse_utc
from runner.postmortem.document import PostMortem, item_terms
from runner.report import fmt
from runner.report import incident_svg as picture
from runner.report.html import CSS
from runner.report.svg import COLOURS, css_token, esc

MILESTONES = (("started", "Impact started", "fault"), ("detected", "Detected", "detect"),
              ("acknowledged", "Acknowledged", "ack"), ("mitigated", "Mitigated", "mitigate"),
              ("resolved", "Resolved", "recover"))  # fmt: skip
# Lanes of the picture, top to bottom: (name, the timeline kinds drawn in it, colour).
LANES = (("Alerts", ("alert",), COLOURS["alert"]), ("Updates", ("update", "delivery"), COLOURS["ack"]),
         ("Runbooks", ("step",), COLOURS["mitigate"]), ("Approvals", ("approval",), COLOURS["detect"]),
         ("Notes", ("note", "decision", "verification", "other"), COLOURS["note"]))  # fmt: skip
_EXTRA_CSS = """
ul.checklist { list-style: none; padding-left: .4rem; } ul.checklist li { margin: .2rem 0; }
ul.checklist .box { font-family: ui-monospace, monospace; margin-right: .4rem; }
.well li::marker { content: "✅ "; } .wrong li::marker { content: "❌ "; }
p.todo { color: #9e9e9e; font-style: italic; }
.prose { white-space: pre-wrap; }
"""


@dataclass(frozen=True)
class Point:
    at: datetime
    kind: str
    text: str


def parse_at(value: object) -> datetime | None:
    """A time from the file (ISO 8601, read as the journal's incident times are), or None."""
    return parse_utc(value) if isinstance(value, str) else None


def _points(pm: PostMortem) -> list[Point]:
    found = []
    for row in pm.data.get("timeline") or []:
        at = parse_at(row.get("at"))
        kind = str(row.get("kind") or "other")
        if at is not None and kind != "milestone":  # milestones are the dashed lines
            found.append(Point(at, kind, str(row.get("text") or "")))
    return found


def _milestones(pm: PostMortem) -> list[tuple[datetime, str, str]]:
    summary: Mapping[str, Any] = pm.data.get("summary") or {}
    out = []
    for key, word, kind in MILESTONES:
        at = parse_at(summary.get(key))
        if at is not None:
            out.append((at, word, kind))
    return out


def _lanes(points: Sequence[Point], t0: float) -> list[picture.MomentLane]:
    """The timeline's entries in their lanes; a kind no lane names goes to the last one."""
    lanes: list[list[picture.Moment]] = [[] for _ in LANES]
    for p in points:
        index = next((i for i, (_, kinds, _) in enumerate(LANES) if p.kind in kinds), len(LANES) - 1)
        tip = f"{_stamp(p.at)} ({fmt.offset(p.at.timestamp() - t0)}) {p.text}"
        failed = "FAILED" in p.text or "failed" in p.text.lower()
        lanes[index].append(picture.Moment(p.at, p.kind, tip, COLOURS["violated"] if failed else LANES[index][2]))
    return [picture.MomentLane(name, found, picture.Shape.DOT)
            for (name, _, _), found in zip(LANES, lanes, strict=True)]  # fmt: skip


def timeline_svg(pm: PostMortem) -> str:
    """The incident's timeline as an inline SVG: T+0 is the impact start (else the first event)."""
    points, milestones = _points(pm), _milestones(pm)
    moments = [p.at for p in points] + [m[0] for m in milestones]
    if not moments:
        return '<p class="todo">No timeline to draw.</p>'
    origin = next((at for at, word, _ in milestones if word == "Impact started"), min(moments))
    t0 = origin.timestamp()
    marks = [picture.Mark(at, kind, f"{word} {fmt.offset(at.timestamp() - t0)}",
                          f"{word}: {_stamp(at)} ({fmt.offset(at.timestamp() - t0)})")
             for at, word, kind in milestones]  # fmt: skip
    return picture.timeline_svg(picture.Picture(
        title=f"Timeline of incident {pm.incident}: {pm.title}",
        start=min(moments),
        end=max(moments),
        milestones=marks,
        lanes=_lanes(points, t0),
        axis=picture.Axis(origin=origin, first=f"first {_stamp(min(moments))}", last=f"last {_stamp(max(moments))}",
                          grid=True),
        milestone_points=True,
    ))  # fmt: skip


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


# -- the page ------------------------------------------------------------------------------------------------------


def _prose(value: object, todo: str = "To be written.") -> str:
    text = str(value or "").strip()
    return f'<p class="prose">{esc(text)}</p>' if text else f'<p class="todo">{esc(todo)}</p>'


def _list(items: Sequence[Any], klass: str = "", ordered: bool = False) -> str:
    if not items:
        return '<p class="todo">None recorded.</p>'
    tag = "ol" if ordered else "ul"
    body = "".join(f"<li>{esc(item)}</li>" for item in items)
    return f'<{tag} class="{klass}">{body}</{tag}>' if klass else f"<{tag}>{body}</{tag}>"


def _facts(pairs: Sequence[tuple[str, object]]) -> str:
    rows = "\n".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v) if v not in (None, '') else '—'}</dd></div>"
                     for k, v in pairs)  # fmt: skip
    return f'<dl class="facts">\n{rows}\n</dl>'


def _summary(pm: PostMortem) -> str:
    s: Mapping[str, Any] = pm.data.get("summary") or {}
    return f'<section><h2>Summary</h2>{_prose(s.get("what"))}{_facts(pm.summary_facts())}</section>'


def _timeline_table(pm: PostMortem) -> str:
    rows = "\n".join(
        f'<tr class="{css_token(str(r.get("kind") or "other"))}"><td class="num">{esc(str(r.get("at") or ""))}</td>'
        f'<td>{esc(r.get("kind") or "")}</td><td>{esc(r.get("text") or "")}</td></tr>'
        for r in pm.data.get("timeline") or []
    )
    return ('<section><h2>Timeline (UTC)</h2>\n<figure>' + timeline_svg(pm) + "<figcaption>T+0 is the impact "
            "start. Dashed lines mark the milestones; each dot is one timeline entry (hover for its text); red dots "
            "are failures.</figcaption></figure>\n<table id=\"events\"><thead><tr><th>Time (UTC)</th><th>Kind</th>"
            f"<th>Event</th></tr></thead>\n<tbody>\n{rows}\n</tbody></table></section>")  # fmt: skip


def _impact(pm: PostMortem) -> str:
    return f"<section><h2>Impact</h2>{_facts(pm.impact_facts())}</section>"


def _action_items(pm: PostMortem) -> str:
    items = []
    for item in pm.action_items:
        done = item.get("status") in ("done", "wont-do")
        box = "☑" if done else "☐"
        who, due, extra = item_terms(item)
        items.append(f'<li class="item {css_token(str(item.get("status") or "not-started"))}"><span class="box">'
                     f"{box}</span>{esc(item.get('title'))} — <strong>{esc(who)}</strong>, due {esc(due)}"
                     f"{f' <small>({esc(extra)})</small>' if extra else ''}</li>")  # fmt: skip
    body = f'<ul class="checklist">{"".join(items)}</ul>' if items else '<p class="todo">None recorded.</p>'
    return f'<section><h2>Action Items</h2>{body}</section>'


def _whys(pm: PostMortem) -> str:
    rows = []
    for pair in pm.data.get("five_whys") or []:
        rows.append(f"<li>Why? {esc(pair.get('why') or '…')} — Because {esc(pair.get('because') or '…')}</li>")
    return f"<section><h2>Five Whys</h2><ol>{''.join(rows)}</ol></section>" if rows else ""


def render_html(pm: PostMortem) -> str:
    d = pm.data
    authors = f" · authors: {esc(', '.join(pm.authors))}" if pm.authors else ""
    header = (f"<header><h1>Post-Mortem: {esc(pm.title)}</h1>\n<p class=\"sub\">{esc(pm.incident)} · status "
              f"{esc(pm.status)}{authors}</p></header>")  # fmt: skip
    sections = [
        header,
        _summary(pm),
        _timeline_table(pm),
        f"<section><h2>Root Cause</h2>{_prose(d.get('root_cause'))}</section>",
        _impact(pm),
        f'<section><h2>What Went Well</h2>{_list(d.get("went_well") or [], "well")}</section>',
        f'<section><h2>What Went Wrong</h2>{_list(d.get("went_wrong") or [], "wrong")}</section>',
        _action_items(pm),
        f'<section><h2>Lessons Learned</h2>{_list(d.get("lessons") or [], ordered=True)}</section>',
        f'<section><h2>Contributing Factors</h2>{_list(d.get("contributing_factors") or [])}</section>',
        _whys(pm),
    ]
    generated = d.get("generated") or {}
    footer = (f"Drafted by {esc(generated.get('by') or 'fireline')} from the journal of {esc(pm.incident)} at "
              f"{esc(generated.get('at') or '—')}; reviewed by people. Times are UTC.")  # fmt: skip
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>Post-mortem: {esc(pm.title)} ({esc(pm.incident)})</title>\n<style>{CSS}{_EXTRA_CSS}</style>"
            f"</head>\n<body>\n{chr(10).join(s for s in sections if s)}\n<footer>{footer}</footer>\n</body></html>\n")
