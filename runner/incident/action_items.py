"""Action items: what an incident taught, tracked until it is done — events in the incident's own stream.

Each item is a series of `incident.action_item` events: the first (`added`) carries every field, each later one
(`updated`) only the fields it changed, and a note. They outlive the incident: they are taken on a closed one,
since the work an incident leaves behind is mostly done after its post-mortem.

Item ids are `INC-2026-001-A1`, `-A2`, … per incident, numbered by the journal's atomic counters (the same ones
incident ids come from): two people adding items at once never get the same id, on SQLite or PostgreSQL. A
number taken by a process that died before writing its event is not given again (a gap, never a duplicate).

An item that says `verify: {gameday: SCENARIO}` is done only when a game day of that scenario PASSED, having
started after the item was created (`verified_by`, checked against the journal): a fix is proven by rehearsing
the failure after the fix, not by a game day that ran before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from runner.errors import FirelineError, UsageError
from runner.gameday import events as gev
from runner.incident.store import append, incident_events
from runner.journal.events import Event
from runner.journal.incidents import parse_utc
from runner.journal.payloads import Payload, event_payload
from runner.journal.store import Journal

ACTION_ITEM = "incident.action_item"
TITLE_MAX = 200  # a line in a table and a checklist entry, not a document
NOTE_MAX = 4000
SCAN_LIMIT = 100_000  # `all_items` reads this many item events at once; a bigger store is read per incident
_ID = re.compile(r"^(INC-\d{4}-\d{3,})-A([1-9]\d{0,5})$", re.IGNORECASE)
_OWNER = re.compile(r"^[^\s,][^\x00-\x1f\x7f]{0,99}$")
_SCENARIO = re.compile(r"^[a-z0-9]([a-z0-9-]{0,98}[a-z0-9])?$")  # a game day's metadata.name
_DUE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class Priority(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class ItemType(StrEnum):
    CORRECTIVE = "corrective"  # fixes the cause
    PREVENTIVE = "preventive"  # keeps it (or its kind) from happening again
    DETECTIVE = "detective"  # finds it sooner next time


class ItemStatus(StrEnum):
    NOT_STARTED = "not-started"
    IN_PROGRESS = "in-progress"
    DONE = "done"
    WONT_DO = "wont-do"


OPEN = frozenset({ItemStatus.NOT_STARTED, ItemStatus.IN_PROGRESS})


class ItemInvalid(UsageError):
    """A field of an action item that cannot be taken as given (exit 2)."""


class UnknownItem(UsageError):
    """No action item of that id in this store."""


class VerificationRefused(FirelineError):
    """The item may not be done yet: its game day has not proven the fix (exit 1: a refusal, not a typo)."""


# -- the event ------------------------------------------------------------------------------------------------


@event_payload
class ActionItemRecorded(Payload):
    """One change to an action item: `added` carries every field, `updated` the fields it changed. `fields`
    keys: title, owner, due (YYYY-MM-DD), priority, type, status, verify_gameday, verified_by."""

    TYPE: ClassVar[str] = ACTION_ITEM
    MISSING: ClassVar[Mapping[str, Any]] = {"item_id": "?", "change": "updated"}
    item_id: str
    change: str  # added | updated
    fields: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""
    source: str = "command"  # command | postmortem FILE


# -- the item --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionItem:
    id: str
    incident_id: str
    title: str
    owner: str | None
    due: date | None
    priority: Priority
    type: ItemType
    status: ItemStatus
    verify_gameday: str | None
    verified_by: str | None
    created_at: datetime
    updated_at: datetime
    created_by: str | None = None
    source: str = "command"
    notes: tuple[str, ...] = ()

    @property
    def number(self) -> int:
        found = _ID.match(self.id)
        return int(found.group(2)) if found else 0

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def overdue(self, today: date) -> bool:
        """Open and due before `today` (a UTC date: an item due today is not late yet)."""
        return self.is_open and self.due is not None and self.due < today

    def days_late(self, today: date) -> int | None:
        return (today - self.due).days if self.overdue(today) and self.due is not None else None

    def to_json(self, today: date) -> dict[str, Any]:
        return {
            "id": self.id,
            "incident": self.incident_id,
            "title": self.title,
            "owner": self.owner,
            "due": self.due.isoformat() if self.due else None,
            "priority": str(self.priority),
            "type": str(self.type),
            "status": str(self.status),
            "verify": {"gameday": self.verify_gameday} if self.verify_gameday else None,
            "verified_by": self.verified_by,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "overdue": self.overdue(today),
            "days_late": self.days_late(today),
            "notes": list(self.notes),
        }


def today_utc() -> date:
    return datetime.now(UTC).date()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# -- reading ---------------------------------------------------------------------------------------------------


def items_of(journal: Journal, incident_id: str) -> list[ActionItem]:
    """The incident's action items, in id order (A1, A2, …)."""
    return fold(journal.events(incident_id.strip().upper(), (ACTION_ITEM,)))


def all_items(journal: Journal) -> list[ActionItem]:
    """Every action item in the store, by incident then id."""
    events = journal.first_events(ACTION_ITEM, SCAN_LIMIT)
    if len(events) >= SCAN_LIMIT:  # more than one read holds: each incident's events whole, so none is cut off
        incidents = sorted({e.run_id for e in events})
        return [item for i in incidents for item in items_of(journal, i)]
    return fold(reversed(events))


def fold(events: Iterable[Event]) -> list[ActionItem]:
    """Action items from their events (in seq order, of any number of incidents)."""
    items: dict[tuple[str, str], ActionItem] = {}
    for event in events:
        if event.type != ACTION_ITEM:
            continue
        payload = ActionItemRecorded.of(event)
        key = (event.run_id, payload.item_id.upper())
        current = items.get(key)
        if payload.change == "added" and current is None:
            items[key] = _created(event, payload)
        elif current is not None:
            items[key] = _changed(current, event, payload)
    return sorted(items.values(), key=lambda i: (_incident_order(i.incident_id), i.number, i.id))


def _incident_order(incident_id: str) -> tuple[int, int, str]:
    """INC-2026-999 before INC-2026-1000: by year and number, not as text."""
    parts = incident_id.split("-")
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return int(parts[1]), int(parts[2]), incident_id
    return 0, 0, incident_id


def _created(event: Event, payload: ActionItemRecorded) -> ActionItem:
    at = parse_utc(event.ts_wall) or datetime.fromtimestamp(0, UTC)
    base = ActionItem(
        id=payload.item_id.upper(),
        incident_id=event.run_id,
        title="?",
        owner=None,
        due=None,
        priority=Priority.HIGH,
        type=ItemType.CORRECTIVE,
        status=ItemStatus.NOT_STARTED,
        verify_gameday=None,
        verified_by=None,
        created_at=at,
        updated_at=at,
        created_by=event.actor,
        source=payload.source,
    )
    return _changed(base, event, payload)


def _changed(item: ActionItem, event: Event, payload: ActionItemRecorded) -> ActionItem:
    """`item` with the fields `payload` sets. Values this version cannot read keep what the item had (a newer
    fireline may write values this one does not know: skipped, not misread)."""
    values: dict[str, Any] = {"updated_at": parse_utc(event.ts_wall) or item.updated_at}
    given = payload.fields
    if isinstance(given.get("title"), str) and given["title"]:
        values["title"] = given["title"]
    for name in ("owner", "verify_gameday", "verified_by"):
        if name in given and (given[name] is None or isinstance(given[name], str)):
            values[name] = given[name] or None
    if "due" in given:
        values["due"] = _stored_date(given["due"], item.due)
    for name, kind in (("priority", Priority), ("type", ItemType), ("status", ItemStatus)):
        known = _known(kind, given.get(name))
        if known is not None:
            values[name] = known
    if payload.note:
        values["notes"] = (*item.notes, payload.note)
    return replace(item, **values)


def _stored_date(value: Any, before: date | None) -> date | None:
    if value is None:
        return None
    if isinstance(value, str) and _DUE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return before
    return before


def _known(kind: type[StrEnum], value: Any) -> Any:
    if not isinstance(value, str):
        return None
    try:
        return kind(value)
    except ValueError:
        return None


def find(journal: Journal, item_id: str) -> ActionItem:
    """The item of this id; a usage error naming what exists when there is none."""
    incident_id, _ = parse_item_id(item_id)
    wanted = item_id.strip().upper()
    items = items_of(journal, incident_id)
    for item in items:
        if item.id == wanted:
            return item
    incident_events(journal, incident_id)  # an unknown incident says so itself
    known = ", ".join(i.id for i in items[:5]) + (" …" if len(items) > 5 else "")
    raise UnknownItem(
        f"no action item {wanted} in {incident_id}" + (f" (it has {known})" if items else " (it has none)"),
        hint=f"see `fireline actions list --incident {incident_id}`",
    )


def parse_item_id(text: str) -> tuple[str, int]:
    """(incident id, number) of `INC-2026-001-A3`; a usage error for anything else."""
    found = _ID.match(text.strip())
    if found is None:
        raise ItemInvalid(f"{_shown(text)} is not an action item id", hint="ids look like INC-2026-001-A1")
    return found.group(1).upper(), int(found.group(2))


# -- validating what people give -------------------------------------------------------------------------------


def clean_title(text: str) -> str:
    if _CONTROL.search(text.strip()) or "\n" in text.strip():
        raise ItemInvalid("the title holds control characters or line breaks: one line of text")
    cleaned = " ".join(text.split())
    if not cleaned:
        raise ItemInvalid("the title is empty")
    if len(cleaned) > TITLE_MAX:
        raise ItemInvalid(
            f"the title is {len(cleaned)} characters long: at most {TITLE_MAX}",
            hint="say what is to be done in one line; details go in --note",
        )
    return cleaned


def clean_owner(text: str) -> str:
    cleaned = text.strip()
    if not _OWNER.match(cleaned):
        raise ItemInvalid(f"owner {_shown(cleaned)} is not a name (one line, at most 100 characters)")
    return cleaned


def parse_due(text: str) -> date:
    """A due date, `YYYY-MM-DD` exactly (a date, not a time: items are due on a day)."""
    cleaned = text.strip()
    if not _DUE.match(cleaned):
        raise ItemInvalid(f"due date {_shown(cleaned)} is not YYYY-MM-DD", hint="e.g. --due 2026-12-18")
    try:
        due = date.fromisoformat(cleaned)
    except ValueError as exc:
        raise ItemInvalid(f"due date {cleaned}: {exc}") from None
    if not 2000 <= due.year <= 2199:
        raise ItemInvalid(f"due date {cleaned} is not a plausible date for work to be done")
    return due


def clean_scenario(text: str) -> str:
    cleaned = text.strip()
    if not _SCENARIO.match(cleaned):
        raise ItemInvalid(
            f"{_shown(cleaned)} is not a game-day scenario name",
            hint="the scenario's metadata.name, e.g. checkout-db-exhaustion",
        )
    return cleaned


def clean_note(text: str) -> str:
    cleaned = text.strip()
    if _CONTROL.search(cleaned):
        raise ItemInvalid("the note holds control characters")
    if len(cleaned) > NOTE_MAX:
        raise ItemInvalid(f"the note is {len(cleaned)} characters long: at most {NOTE_MAX}")
    return cleaned


def parse_choice(kind: type[StrEnum], text: str, what: str) -> Any:
    cleaned = text.strip().lower()
    for member in kind:
        if member.value == cleaned:
            return member
    raise ItemInvalid(f"{_shown(text.strip())} is not a {what}: choose one of {', '.join(m.value for m in kind)}")


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


# -- writing ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewItem:
    title: str
    priority: Priority
    owner: str | None = None
    due: date | None = None
    type: ItemType = ItemType.CORRECTIVE
    status: ItemStatus = ItemStatus.NOT_STARTED
    verify_gameday: str | None = None


def fields_of(item: ActionItem | NewItem) -> dict[str, Any]:
    """An item's fields as the journal records them (an item added, a sync's agreed snapshot); a new item is
    verified by nobody yet."""
    return {
        "title": item.title,
        "owner": item.owner,
        "due": item.due.isoformat() if item.due else None,
        "priority": str(item.priority),
        "type": str(item.type),
        "status": str(item.status),
        "verify_gameday": item.verify_gameday,
        "verified_by": item.verified_by if isinstance(item, ActionItem) else None,
    }


def item_id(incident_id: str, number: int) -> str:
    return f"{incident_id}-A{number}"


def add_item(
    journal: Journal, incident_id: str, new: NewItem, actor: str | None, source: str = "command", note: str = ""
) -> str:
    """Record a new item on the incident (open or closed); returns its id."""
    note = clean_note(note)
    if new.status is ItemStatus.DONE and new.verify_gameday:
        raise VerificationRefused(
            f"a new item cannot be done already: it says verify: {{gameday: {new.verify_gameday}}}",
            hint="add it as not-started, then `fireline actions update ID --status done --verified-by GAMEDAY_ID`",
        )
    if new.status is ItemStatus.WONT_DO and not note:
        raise ItemInvalid("an item that will not be done says why", hint="give --note")
    found = incident_events(journal, incident_id.strip().upper())
    incident = found[0].run_id
    number = journal.next_number(f"action-items-{incident}")
    new_id = item_id(incident, number)
    append(journal, incident, ActionItemRecorded(new_id, "added", fields_of(new), note, source), actor)
    return new_id


@dataclass(frozen=True)
class ItemChange:
    """What an update asks for; None: unchanged. `clear_verify` drops the item's game-day condition."""

    status: ItemStatus | None = None
    owner: str | None = None
    due: date | None = None
    title: str | None = None
    priority: Priority | None = None
    type: ItemType | None = None
    verify_gameday: str | None = None
    clear_verify: bool = False
    verified_by: str | None = None


def update_item(
    journal: Journal,
    item: ActionItem,
    change: ItemChange,
    actor: str | None,
    note: str = "",
    source: str = "command",
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """Record what `change` changes of `item` (with `note`); returns the fields changed, or None when nothing
    changed and there is no note (nothing is written). Refuses `done` for an item whose game day has not
    proven it (VerificationRefused), before anything is written."""
    note = clean_note(note)
    fields = _differences(item, change)
    gameday = check_change(journal, item, change, note)
    if gameday is not None and gameday != item.verified_by:
        fields["verified_by"] = gameday
    status = change.status or item.status
    if item.status is ItemStatus.DONE and status is not ItemStatus.DONE and item.verified_by:
        fields["verified_by"] = None  # reopened: the old proof no longer says it is done
    if not fields and not note:
        return None
    append(journal, item.incident_id, ActionItemRecorded(item.id, "updated", fields, note, source), actor)
    return fields


class Unproven(VerificationRefused):
    """The change makes an item done that a game day is to verify, and names none."""


def check_change(journal: Journal, item: ActionItem, change: ItemChange, note: str) -> str | None:
    """What `update_item` refuses, checked without writing anything (a sync checks all its changes first);
    returns the whole id of the game day that proves the item done, when the change names one."""
    status = change.status or item.status
    # Dropping the game-day condition in the same change does not lift it: it is dropped once the item is open
    verify = change.verify_gameday or item.verify_gameday
    gameday = None
    if change.verified_by is not None:
        if status is not ItemStatus.DONE:
            raise ItemInvalid("--verified-by names the game day that proves an item done: give --status done too")
        gameday = check_verification(journal, item, change.verified_by, verify)
    elif status is ItemStatus.DONE and item.status is not ItemStatus.DONE and verify:
        raise Unproven(
            f"{item.id} can be done only once a game day of {verify} has passed after it was created "
            f"({_iso(item.created_at)})",
            hint=f"run `fireline gameday run` on the {verify} scenario, then `fireline actions update {item.id} "
            "--status done --verified-by GAMEDAY_ID` (`fireline gameday history` lists game days)",
        )
    if status is ItemStatus.WONT_DO and item.status is not ItemStatus.WONT_DO and not note:
        raise ItemInvalid(f"{item.id}: an item that will not be done says why", hint="give --note")
    return gameday


def _differences(item: ActionItem, change: ItemChange) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    pairs: Sequence[tuple[str, Any, Any]] = (
        ("title", change.title, item.title),
        ("owner", change.owner, item.owner),
        ("due", change.due, item.due),
        ("priority", change.priority, item.priority),
        ("type", change.type, item.type),
        ("status", change.status, item.status),
        ("verify_gameday", change.verify_gameday, item.verify_gameday),
    )
    for name, new, old in pairs:
        if new is not None and new != old:
            fields[name] = new.isoformat() if isinstance(new, date) else str(new)
    if change.clear_verify and item.verify_gameday is not None:
        fields["verify_gameday"] = None
    return fields


# -- proving an item done with a game day -----------------------------------------------------------------------


def check_verification(journal: Journal, item: ActionItem, gameday_id: str, scenario: str | None) -> str:
    """The whole id of game day `gameday_id` when it proves `item` done: a game day (of `scenario`, when the
    item names one) that passed and started after the item was created. Otherwise VerificationRefused with
    the reason."""
    wanted = gameday_id.strip()
    if not wanted or _CONTROL.search(wanted) or len(wanted) > 200:
        raise ItemInvalid(f"{_shown(wanted)} is not a game day id", hint="`fireline gameday history` lists them")
    full = journal.find_run(wanted) or wanted
    events = journal.events(full, (gev.GAMEDAY_STARTED, gev.FINISHED))
    started = next((e for e in events if e.type == gev.GAMEDAY_STARTED), None)
    if started is None:
        raise VerificationRefused(
            f"{_shown(wanted)} is not a game day in the journal at {journal.location}",
            hint="`fireline gameday history` lists the game days",
        )
    return _proves(item, full, started, events, scenario)


def _proves(item: ActionItem, gameday: str, started: Event, events: Sequence[Event], scenario: str | None) -> str:
    ran = gev.GameDayStarted.of(started).scenario
    if scenario and ran != scenario:
        raise VerificationRefused(
            f"game day {gameday} ran scenario {ran}, not {scenario}: it does not verify {item.id}",
            hint=f"`fireline gameday history --scenario {scenario}` lists that scenario's game days",
        )
    finished = next((e for e in events if e.type == gev.FINISHED), None)
    status = gev.GameDayFinished.of(finished).status if finished else None
    if status is not gev.Status.PASSED:
        ended = f"ended {status}" if status is not None else "has not finished"
        raise VerificationRefused(f"game day {gameday} {ended}: only a passed game day verifies {item.id}")
    began = parse_utc(started.ts_wall)
    if began is None or began <= item.created_at:
        raise VerificationRefused(
            f"game day {gameday} started {_iso(began) if began else 'at an unreadable time'}, before {item.id} was "
            f"created ({_iso(item.created_at)}): only a game day run after the item proves its fix",
            hint=f"run the {ran} scenario again and name that game day",
        )
    return gameday


# -- the timeline ----------------------------------------------------------------------------------------------


def describe(event: Event) -> str:
    """One timeline line for an `incident.action_item` event."""
    payload = ActionItemRecorded.of(event)
    short = payload.item_id.rsplit("-", 1)[-1] if _ID.match(payload.item_id) else _clean(payload.item_id)
    by = f" by {_clean(event.actor)}" if event.actor else ""
    given = payload.fields
    parts = []
    if payload.change == "added":
        title = _clean(str(given.get("title", "?")))
        parts.append(f"action item {short} added{by}: {title!r}")
        details = [str(given.get(k)) for k in ("priority", "type") if given.get(k)]
        details += [f"{label} {_clean(str(given[k]))}" for k, label in (("owner", "owner"), ("due", "due"))
                    if given.get(k)]  # fmt: skip
        if given.get("verify_gameday"):
            details.append(f"verified by a game day of {_clean(str(given['verify_gameday']))}")
        text = parts[0] + (f" ({', '.join(details)})" if details else "")
    else:
        changed = [f"{k.replace('_', ' ')} {_clean(str(v)) if v is not None else 'cleared'}" for k, v in given.items()]
        text = f"action item {short} updated{by}" + (f": {'; '.join(changed)}" if changed else "")
    if payload.note:
        text += f" — {_clean(payload.note)[:240]}"
    if payload.source != "command":
        text += f" (from {_clean(payload.source)})"
    return text


def _clean(text: str | None) -> str:
    return " ".join(_CONTROL.sub(" ", text or "").split())
