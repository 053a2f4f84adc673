"""`fireline actions sync FILE`: the post-mortem file's `action_items` and the journal's items become the same.

A three-way merge. Each sync records what both sides agreed on (`incident.action_items_synced`, the base);
the next one compares each field of each item on both sides with it:

- an item in the file without an `id` is new: it is added to the journal and its id written into the file;
- an item only in the journal (added with `actions add`) is added to the file;
- a field changed on one side only is copied to the other (a file edit becomes an `incident.action_item`
  event whose source is the file; a journal change is written into the file);
- a field changed on BOTH sides (or differing on an item never synced before) is a conflict. The journal
  wins, and the file's value is printed so it is not lost: the journal is the audited record (who changed
  what, when, and a done item there was checked against its game day), the file is a document anyone may
  have edited. `--on-conflict refuse` changes nothing at all instead.

Everything is checked before anything is written (field values, ids, game days proving items done): a sync
either applies whole or refuses with every problem. A second sync with no edits in between changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from runner.errors import FirelineError, UsageError
from runner.incident import action_items as ai
from runner.incident.store import append, incident_events
from runner.journal.lease import hold
from runner.journal.payloads import Payload, event_payload
from runner.journal.store import Journal

if TYPE_CHECKING:
    from runner.postmortem.document import PostMortem

SYNCED = "incident.action_items_synced"
FIELDS = ("title", "owner", "due", "priority", "type", "status", "verify_gameday", "verified_by")


@event_payload
class ActionItemsSynced(Payload):
    """What the file and the journal agreed on after a sync: item id → its FIELDS (the next sync's base)."""

    TYPE: ClassVar[str] = SYNCED
    path: str
    digest: str = ""  # of the file as written (or found, when nothing had to change in it)
    items: Mapping[str, Any] = field(default_factory=dict)


class SyncRefused(FirelineError):
    """The file and the journal cannot be made the same as they stand (exit 1); nothing was written."""


@dataclass(frozen=True)
class Conflict:
    item_id: str
    name: str
    file_value: Any
    journal_value: Any


@dataclass
class SyncReport:
    path: Path
    incident_id: str
    added_to_journal: list[str] = field(default_factory=list)
    added_to_file: list[str] = field(default_factory=list)
    journal_updates: list[str] = field(default_factory=list)  # "ID: field a → b"
    file_updates: list[str] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)  # file items without an id found in the journal by title
    file_written: bool = False

    def lines(self) -> list[str]:
        out = [f"{i}: added to the journal (from {self.path}; id written into the file)" for i in self.added_to_journal]
        out += [f"{i}: added to {self.path}" for i in self.added_to_file]
        out += [f"{i}: the file's item of this title had no id: id written into the file" for i in self.matched]
        out += [f"journal: {line}" for line in self.journal_updates]
        out += [f"{self.path}: {line}" for line in self.file_updates]
        out += [
            f"conflict: {c.item_id} {c.name}: the file says {_shown(c.file_value)}, the journal says "
            f"{_shown(c.journal_value)} (both changed since the last sync): kept the journal's"
            for c in self.conflicts
        ]
        changed = (self.added_to_journal or self.added_to_file or self.journal_updates or self.file_updates
                   or self.matched)  # fmt: skip
        out.append(
            f"{self.incident_id}: {self.path} and the journal agree"
            + ("" if changed or self.conflicts else " already: nothing changed")
        )
        return out


def _shown(value: Any) -> str:
    return "nothing" if value is None else repr(str(value))


# -- the two sides, as comparable values --------------------------------------------------------------------


@dataclass(frozen=True)
class FileItem:
    index: int
    id: str | None
    fields: Mapping[str, Any]
    note: str


def _file_item(index: int, raw: Mapping[str, Any], where: str) -> FileItem:
    """A file item's fields, checked as the commands check them (the schema has checked the shapes)."""
    verify = raw.get("verify")
    try:
        values = {
            "title": ai.clean_title(str(raw.get("title", ""))),
            "owner": ai.clean_owner(str(raw["owner"])) if raw.get("owner") else None,
            "due": ai.parse_due(str(raw["due"])).isoformat() if raw.get("due") else None,
            "priority": str(ai.parse_choice(ai.Priority, str(raw.get("priority", "high")), "priority")),
            "type": str(ai.parse_choice(ai.ItemType, str(raw.get("type", "corrective")), "type")),
            "status": str(ai.parse_choice(ai.ItemStatus, str(raw.get("status", "not-started")), "status")),
            "verify_gameday": ai.clean_scenario(str(verify["gameday"])) if isinstance(verify, Mapping) else None,
            "verified_by": str(raw["verified_by"]).strip() if raw.get("verified_by") else None,
        }
        note = ai.clean_note(str(raw.get("note") or ""))
    except UsageError as exc:
        raise SyncRefused(f"{where}: action_items[{index}]: {exc}") from None
    ident = raw.get("id")
    return FileItem(index, str(ident).strip().upper() if ident else None, values, note)


def file_entry(values: Mapping[str, Any], item_id: str, note: str) -> dict[str, Any]:
    """An item as the post-mortem file writes it (the schema's shape)."""
    entry: dict[str, Any] = {"id": item_id}
    entry.update({name: values[name] for name in ("title", "owner", "due", "priority", "type", "status")})
    if values["verify_gameday"]:
        entry["verify"] = {"gameday": values["verify_gameday"]}
    if values["verified_by"]:
        entry["verified_by"] = values["verified_by"]
    if note:
        entry["note"] = note
    return entry


def base_of(journal: Journal, incident_id: str) -> Mapping[str, Mapping[str, Any]]:
    """What the last sync of the incident's items recorded as agreed (empty before the first)."""
    found = journal.events(incident_id, (SYNCED,))
    if not found:
        return {}
    items = ActionItemsSynced.of(found[-1]).items
    return {str(k): v for k, v in items.items() if isinstance(v, Mapping)}


# -- the merge ------------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    to_add: list[FileItem] = field(default_factory=list)
    to_update: list[tuple[ai.ActionItem, dict[str, Any], str]] = field(default_factory=list)  # item, fields, note
    problems: list[str] = field(default_factory=list)


def sync(journal: Journal, path: Path, actor: str | None, refuse_conflicts: bool = False) -> SyncReport:
    """Sync the file with the journal. One sync of an incident's items at a time (a lease on the store): two
    run at once would both add the file's new items; the second waits, then reads what the first wrote."""
    from runner.postmortem import document

    if not path.is_file():
        what = "not a file" if path.exists() else "no such post-mortem file"
        raise UsageError(f"{path}: {what}", hint="write one with `fireline postmortem draft ID`")
    incident_id = incident_events(journal, document.load(path).incident.strip().upper())[0].run_id
    with hold(journal, f"{incident_id}/action-items-sync", actor or "?", what="action item sync of", wait=True):
        return _sync(journal, document.load(path), incident_id, actor, refuse_conflicts)


def _sync(journal: Journal, pm: PostMortem, incident_id: str, actor: str | None, refuse_conflicts: bool) -> SyncReport:
    from runner.postmortem import document

    path = pm.path
    source = f"postmortem {path}"
    where = str(path)
    journal_items = {item.id: item for item in ai.items_of(journal, incident_id)}
    report = SyncReport(path, incident_id)
    file_items = _matched([_file_item(i, raw, where) for i, raw in enumerate(pm.action_items)], journal_items, report)
    base = base_of(journal, incident_id)
    plan = _plan(file_items, journal_items, base, incident_id, where, report)
    if refuse_conflicts and report.conflicts:
        listed = "; ".join(f"{c.item_id} {c.name}" for c in report.conflicts)
        raise SyncRefused(f"{where}: changed both in the file and in the journal since the last sync: {listed}; "
                          "nothing was changed", hint="settle them with `fireline actions update` or by editing "
                          "the file, or sync with --on-conflict journal")  # fmt: skip
    _check(journal, plan)
    if plan.problems:
        raise SyncRefused(f"{where}: nothing was synced:\n" + "\n".join(f"  - {p}" for p in plan.problems))
    new_ids = _apply(journal, plan, incident_id, actor, source, report)
    agreed = {item.id: item for item in ai.items_of(journal, incident_id)}
    entries = _entries(file_items, new_ids, agreed)
    data = dict(pm.data)
    if data.get("action_items") != entries:
        data["action_items"] = entries
        try:
            digest = document.write(path, data)
        except OSError as exc:
            raise SyncRefused(
                f"{where}: cannot write it ({exc.strerror or exc}); the journal has the changes: "
                + "; ".join(report.lines()[:-1] or ["none"]),
                hint="make the file writable and sync again: items it lacks the ids of are matched by title",
            ) from None
        report.file_written = True
    else:
        digest = _digest(path)
    synced = ActionItemsSynced(where, digest, {i: ai.fields_of(item) for i, item in agreed.items()})
    if base != synced.items:
        append(journal, incident_id, synced, actor)
    return report


def _matched(
    file_items: Sequence[FileItem], journal_items: Mapping[str, ai.ActionItem], report: SyncReport
) -> list[FileItem]:
    """File items without an id that are a journal item the file does not name, recognised by the same title:
    one written into the file by hand, or added by a sync whose file could not be written. Adding it again
    would make a duplicate; it gets the journal item's id instead."""
    named = {item.id for item in file_items if item.id}
    unnamed = {_key(j.title): j.id for j in reversed(list(journal_items.values())) if j.id not in named}
    found = []
    for item in file_items:
        same = unnamed.pop(_key(str(item.fields["title"])), None) if item.id is None else None
        if same is not None:
            report.matched.append(same)
            item = FileItem(item.index, same, item.fields, item.note)
        found.append(item)
    return found


def _key(title: str) -> str:
    return " ".join(title.split()).casefold()


def _plan(
    file_items: Sequence[FileItem],
    journal_items: Mapping[str, ai.ActionItem],
    base: Mapping[str, Mapping[str, Any]],
    incident_id: str,
    where: str,
    report: SyncReport,
) -> _Plan:
    plan = _Plan()
    seen: set[str] = set()
    for item in file_items:
        if item.id is None:
            plan.to_add.append(item)
            continue
        seen.add(item.id)
        current = journal_items.get(item.id)
        if current is None:
            plan.problems.append(
                f"action_items[{item.index}]: {item.id} is not an action item of {incident_id} in this journal "
                "(remove its id to add it as a new item)"
            )
            continue
        fields = _merge(item, current, base.get(item.id), report)
        notes = current.notes
        note = item.note if item.note and item.note not in notes else ""
        if fields or note:
            plan.to_update.append((current, fields, note))
    report.added_to_file = [i for i in journal_items if i not in seen]
    return plan


def _merge(
    item: FileItem, current: ai.ActionItem, base: Mapping[str, Any] | None, report: SyncReport
) -> dict[str, Any]:
    """The fields the journal takes from the file; fields the file takes from the journal are reported."""
    theirs = ai.fields_of(current)
    to_journal: dict[str, Any] = {}
    for name in FIELDS:
        mine, journal_value = item.fields[name], theirs[name]
        if mine == journal_value:
            continue
        if base is not None:
            file_changed, journal_changed = mine != base.get(name), journal_value != base.get(name)
        else:  # never synced: a side that says nothing (no owner yet) has nothing to say against the other
            file_changed, journal_changed = mine is not None, journal_value is not None
        if not file_changed:
            report.file_updates.append(
                f"{current.id}: {name.replace('_', ' ')} {_shown(mine)} → {_shown(journal_value)}"
            )
        elif not journal_changed:
            to_journal[name] = mine
            report.journal_updates.append(
                f"{current.id}: {name.replace('_', ' ')} {_shown(journal_value)} → {_shown(mine)}"
            )
        else:
            report.conflicts.append(Conflict(current.id, name, mine, journal_value))
    return to_journal


def _change(fields: Mapping[str, Any]) -> ai.ItemChange:
    def value(name: str) -> Any:
        return fields.get(name)

    return ai.ItemChange(
        status=ai.ItemStatus(value("status")) if value("status") else None,
        owner=value("owner"),
        due=date.fromisoformat(value("due")) if value("due") else None,
        title=value("title"),
        priority=ai.Priority(value("priority")) if value("priority") else None,
        type=ai.ItemType(value("type")) if value("type") else None,
        verify_gameday=value("verify_gameday"),
        clear_verify="verify_gameday" in fields and not value("verify_gameday"),
        verified_by=value("verified_by"),
    )


def _check(journal: Journal, plan: _Plan) -> None:
    """What the journal would refuse, found before anything is written."""
    for item in plan.to_add:
        status = item.fields["status"]
        if status == ai.ItemStatus.DONE and item.fields["verify_gameday"]:
            plan.problems.append(f"action_items[{item.index}] ({item.fields['title']}): a new item cannot be done "
                                 "already when a game day is to verify it; add it as not-started")  # fmt: skip
        if status == ai.ItemStatus.WONT_DO and not item.note:
            plan.problems.append(f"action_items[{item.index}]: a wont-do item says why (a note)")
    for current, fields, note in plan.to_update:
        if ("owner" in fields and fields["owner"] is None) or ("due" in fields and fields["due"] is None):
            plan.problems.append(f"{current.id}: an owner or a due date cannot be removed, only changed")
        change = _change(fields)
        try:
            ai.check_change(journal, current, change, note)
        except ai.Unproven:
            verify = change.verify_gameday or current.verify_gameday  # not lifted by dropping it in the same sync
            plan.problems.append(f"{current.id} is done in the file but names no game day that verifies it "
                                 f"(verified_by: a passed game day of {verify})")  # fmt: skip
        except FirelineError as exc:
            plan.problems.append(str(exc))


def _apply(
    journal: Journal, plan: _Plan, incident_id: str, actor: str | None, source: str, report: SyncReport
) -> dict[int, str]:
    new_ids = {}
    for item in plan.to_add:
        f = item.fields
        new = ai.NewItem(
            title=f["title"], priority=ai.Priority(f["priority"]), owner=f["owner"],
            due=date.fromisoformat(f["due"]) if f["due"] else None, type=ai.ItemType(f["type"]),
            status=ai.ItemStatus(f["status"]), verify_gameday=f["verify_gameday"],
        )  # fmt: skip
        new_ids[item.index] = ai.add_item(journal, incident_id, new, actor, source=source, note=item.note)
        report.added_to_journal.append(new_ids[item.index])
    for current, fields, note in plan.to_update:
        ai.update_item(journal, current, _change(fields), actor, note=note, source=source)
    return new_ids


def _entries(
    file_items: Sequence[FileItem], new_ids: Mapping[int, str], agreed: Mapping[str, ai.ActionItem]
) -> list[dict[str, Any]]:
    """The file's action_items after the sync: its own order, then the items only the journal had."""
    order = [new_ids.get(item.index) or item.id or "" for item in file_items]
    order += [i for i in agreed if i not in order]
    entries = []
    for item_id in order:
        item = agreed.get(item_id)
        if item is not None:
            entries.append(file_entry(ai.fields_of(item), item.id, item.notes[-1] if item.notes else ""))
    return entries


def _digest(path: Path) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def describe(event: Any) -> str:
    """The timeline's line for a sync."""
    payload = ActionItemsSynced.of(event)
    by = f" by {event.actor}" if event.actor else ""
    count = len(payload.items)
    return f"action items synced with {payload.path}{by} ({count} item{'' if count == 1 else 's'} agree)"
