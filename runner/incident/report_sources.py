"""What the incident report reads besides the incident's own events: the deliveries of its status updates
(runner.incident.delivery), its tracked action items (runner.incident.action_items) and its post-mortem file.

Each kind of event is read by its owner's module (tolerantly: a value a newer version wrote is skipped, not
misread); the post-mortem file is validated as `fireline postmortem validate` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from runner.document.diagnostics import DocumentInvalid
from runner.incident.action_items import ActionItem, fold
from runner.incident.delivery import DeliveryRecord, records
from runner.incident.view import parse_utc
from runner.journal.events import Event
from runner.journal.payloads import opt_text, text
from runner.postmortem.document import default_path, load
from runner.postmortem.record import POSTMORTEM, Action, PostMortemRecorded


@dataclass(frozen=True)
class Rendering:
    format: str
    path: str
    at: datetime | None


@dataclass(frozen=True)
class Why:
    why: str
    because: str


@dataclass(frozen=True)
class PostMortem:
    """What the report takes from the post-mortem file (None fields: the file does not say)."""

    path: str
    status: str
    root_cause: str
    contributing_factors: tuple[str, ...]
    five_whys: tuple[Why, ...]
    went_well: tuple[str, ...]
    went_wrong: tuple[str, ...]
    lessons: tuple[str, ...]
    users_affected: str | None
    revenue: str | None
    tickets: str | None
    user_impact: str
    resolution: str
    problem: str = ""  # why the file could not be read (then every other field is empty)


# -- deliveries -------------------------------------------------------------------------------------------------


def deliveries(events: Sequence[Event]) -> list[DeliveryRecord]:
    """The latest outcome per (update, channel), with the tries before it (runner.incident.delivery)."""
    return records(events)


# -- action items -----------------------------------------------------------------------------------------------


def action_items(events: Sequence[Event]) -> list[ActionItem]:
    """The incident's tracked items (runner.incident.action_items), in id order."""
    return fold(events)


# -- the post-mortem file ---------------------------------------------------------------------------------------


def postmortem_path(incident_id: str, events: Sequence[Event], cwd: Path) -> Path:
    """The YAML post-mortem the journal last recorded for the incident, else its default place."""
    drafts = [p.path for _, p in _recorded(events) if p.format == "yaml" and p.path]
    if drafts:
        path = Path(drafts[-1])
        return path if path.is_absolute() else cwd / path
    return cwd / default_path(incident_id)


def renderings(events: Sequence[Event]) -> list[Rendering]:
    """The post-mortem's renderings the journal recorded (md, html, pdf), oldest first."""
    return [
        Rendering(p.format, p.path, parse_utc(e.ts_wall)) for e, p in _recorded(events) if p.action == Action.RENDERED
    ]


def _recorded(events: Sequence[Event]) -> list[tuple[Event, PostMortemRecorded]]:
    return [(e, PostMortemRecorded.of(e)) for e in events if e.type == POSTMORTEM]


def read_postmortem(path: Path) -> PostMortem | None:
    """The post-mortem at `path`, validated as `fireline postmortem validate` does; None when there is none.
    A file that does not validate is reported by the report (its `problem`), not raised: the rest of the
    report is still worth having."""
    if not path.exists():
        return None
    try:
        found = load(path)
    except DocumentInvalid as invalid:
        first = invalid.diagnostics[0].render() if invalid.diagnostics else str(invalid)
        more = len(invalid.diagnostics) - 1
        return _unreadable(path, first + (f" (and {more} more)" if more > 0 else ""))
    return _postmortem(path, found.data)


def _postmortem(path: Path, doc: Mapping[str, Any]) -> PostMortem:
    summary = _mapping(doc.get("summary"))
    impact = _mapping(doc.get("impact"))
    return PostMortem(
        path=str(path),
        status=text(doc, "status", "draft"),
        root_cause=text(doc, "root_cause").strip(),
        contributing_factors=_texts(doc.get("contributing_factors")),
        five_whys=tuple(
            Why(text(pair, "why").strip(), text(pair, "because").strip())
            for pair in _list(doc.get("five_whys"))
            if isinstance(pair, Mapping) and (text(pair, "why").strip() or text(pair, "because").strip())
        ),
        went_well=_texts(doc.get("went_well")),
        went_wrong=_texts(doc.get("went_wrong")),
        lessons=_texts(doc.get("lessons")),
        users_affected=opt_text(impact, "users_affected"),
        revenue=opt_text(impact, "revenue"),
        tickets=opt_text(impact, "tickets"),
        user_impact=text(impact, "user_impact").strip(),
        resolution=text(summary, "resolution").strip(),
    )


def _unreadable(path: Path, problem: str) -> PostMortem:
    return PostMortem(str(path), "", "", (), (), (), (), (), None, None, None, "", "", problem=problem)


# -- tolerant readers ---------------------------------------------------------------------------------------------


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _texts(value: object) -> tuple[str, ...]:
    """A list of strings as people write it: blank entries left out, anything else shown as its text."""
    found = []
    for entry in _list(value):
        if isinstance(entry, str | int | float) and not isinstance(entry, bool) and str(entry).strip():
            found.append(str(entry).strip())
        elif isinstance(entry, Mapping):  # e.g. {text: ...} written by hand
            shown = text(entry, "text").strip()
            if shown:
                found.append(shown)
    return tuple(found)
