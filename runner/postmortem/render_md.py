"""The post-mortem as Markdown, in the shape of the classic template: Summary, Timeline table, Root Cause,
Impact, What Went Well, What Went Wrong, Action Items as a checklist with owner and due date, Lessons Learned
(then the contributing factors and five whys, which the template leaves to the text).

Every value people or the journal wrote is escaped: Markdown and HTML markup in a title shows as text, a `|`
cannot split a table cell, and a newline cannot end a list item or a table row early."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from runner.postmortem.document import PostMortem

MISSING = "—"
# Characters Markdown (CommonMark and GitHub's tables) gives a meaning anywhere in a line; each is escaped with a
# backslash. (Escaping `[` and `]` also disarms links and images; `<` raw HTML and autolinks.)
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
# What starts a block when it begins a line: a heading, a quote, a list item, a numbered item.
_BLOCK_START = re.compile(r"^(#|>|[-+*]|=|\d+[.)])")


def esc(value: object) -> str:
    """One line of inline text, inert: markup escaped, line breaks and control characters as spaces."""
    text = "" if value is None else str(value)
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return _SPECIAL.sub(r"\\\1", flat).replace("&", "&amp;")


def paragraph(value: object) -> str:
    """Text of several lines, each escaped; line breaks kept as Markdown hard breaks."""
    lines = [esc(line) for line in str(value or "").splitlines()]
    return "  \n".join(_BLOCK_START.sub(lambda m: m.group(0)[:-1] + "\\" + m.group(0)[-1], line)
                       for line in lines if line)


def render_markdown(pm: PostMortem) -> str:
    data = pm.data
    summary: Mapping[str, Any] = data.get("summary") or {}
    parts = [
        f"# Post-Mortem: {esc(pm.title)} ({esc(_date(summary.get('started')))})",
        "",
        f"{esc(pm.incident)} · {esc(summary.get('severity') or MISSING)} · status: {esc(pm.status)}"
        + (f" · authors: {esc(', '.join(pm.authors))}" if pm.authors else ""),
        "",
        *_summary(summary, data.get("impact") or {}),
        *_timeline(data.get("timeline") or []),
        *_section("Root Cause", [paragraph(data.get("root_cause")) or "_To be written._"]),
        *_impact(data.get("impact") or {}),
        *_section("What Went Well", _marked(data.get("went_well") or [], "✅")),
        *_section("What Went Wrong", _marked(data.get("went_wrong") or [], "❌")),
        *_section("Action Items", _action_items(data.get("action_items") or [])),
        *_section("Lessons Learned", _numbered(data.get("lessons") or [])),
        *_section("Contributing Factors", [f"- {esc(f)}" for f in data.get("contributing_factors") or []]),
        *_section("Five Whys", _whys(data.get("five_whys") or [])),
    ]
    generated = data.get("generated") or {}
    if generated:
        parts += ["---", "", f"_Drafted by {esc(generated.get('by') or 'fireline')} from the journal of "
                  f"{esc(pm.incident)} at {esc(generated.get('at') or MISSING)}; reviewed by people._", ""]  # fmt: skip
    return "\n".join(parts).rstrip() + "\n"


def _section(title: str, lines: Sequence[str]) -> list[str]:
    body = list(lines) if any(lines) else ["_None recorded._"]
    return [f"## {title}", "", *body, ""]


def _date(value: object) -> str:
    return str(value)[:10] if value else "date unknown"


def _summary(summary: Mapping[str, Any], impact: Mapping[str, Any]) -> list[str]:
    what = paragraph(summary.get("what")) or MISSING
    facts = [
        ("Started", summary.get("started")),
        ("Detected", summary.get("detected")),
        ("Acknowledged", summary.get("acknowledged")),
        ("Mitigated", summary.get("mitigated")),
        ("Resolved", summary.get("resolved")),
        ("Duration", summary.get("duration") or impact.get("duration")),
        ("Impact", summary.get("impact")),
        ("Resolution", summary.get("resolution")),
    ]
    lines = [what, ""]
    lines += [f"- **{name}:** {esc(value) if value not in (None, '') else MISSING}" for name, value in facts]
    return _section("Summary", lines)


def _timeline(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    if not rows:
        return _section("Timeline (UTC)", [])
    table = ["| Time (UTC) | Event |", "|---|---|"]
    for row in rows:
        at = str(row.get("at") or "").replace("T", " ")
        table.append(f"| {esc(at)} | {esc(row.get('text'))} |")
    return _section("Timeline (UTC)", ["\n".join(table)])


def _impact(impact: Mapping[str, Any]) -> list[str]:
    systems = ", ".join(str(s) for s in impact.get("systems") or [])
    facts = [
        ("Duration", impact.get("duration")),
        ("Systems", systems),
        ("User impact", impact.get("user_impact")),
        ("Users affected", impact.get("users_affected")),
        ("Revenue impact", impact.get("revenue")),
        ("Customer support tickets", impact.get("tickets")),
    ]
    return _section("Impact", [f"- {name}: {esc(value) if value not in (None, '') else 'to be filled in'}"
                               for name, value in facts])  # fmt: skip


def _marked(items: Sequence[Any], mark: str) -> list[str]:
    return [f"- {mark} {esc(item)}" for item in items]


def _numbered(items: Sequence[Any]) -> list[str]:
    return [f"{index}. {esc(item)}" for index, item in enumerate(items, 1)]


def _action_items(items: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = []
    for item in items:
        done = "x" if item.get("status") in ("done", "wont-do") else " "
        who = f"@{item['owner']}" if item.get("owner") else "owner to be named"
        due = str(item.get("due") or "no due date")
        extra = [str(item[k]) for k in ("priority", "id") if item.get(k)]
        verify = item.get("verify")
        if isinstance(verify, Mapping) and verify.get("gameday"):
            extra.append(f"verified by game day {verify['gameday']}")
        if item.get("status") == "wont-do":
            extra.append("won't do")
        tail = f" [{esc('; '.join(extra))}]" if extra else ""
        lines.append(f"- [{done}] {esc(item.get('title'))} ({esc(who)}, {esc(due)}){tail}")
    return lines


def _whys(whys: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = []
    for index, pair in enumerate(whys, 1):
        why, because = pair.get("why") or "", pair.get("because") or ""
        if why or because:
            lines.append(f"{index}. Why? {esc(why) or '…'} — Because {esc(because) or '…'}")
        else:
            lines.append(f"{index}. Why? … — Because …")
    return lines
