"""Which fields of a post-mortem fireline wrote, and whether people have changed them since.

A draft records, under `generated`, a digest of every field it filled as it filled it (for a list, one
digest per item) and one digest over all of them. A later draft compares the file with those digests:
- nothing changed by people: the file is regenerated (only `status` and `authors`, which people own, are kept);
- changed by people: the draft is refused, unless forced; forced, it regenerates what people left as fireline
  wrote it and keeps what they wrote: a field they changed stays theirs; in a list, the items they added or
  edited stay where they are, the items fireline wrote and they deleted stay deleted, fireline's own items are
  replaced by the new draft's, and new ones are added at the end (the timeline is kept in time order).
A file with no `generated` record was written by people as a whole: forced, it keeps every field they filled
and gets the draft's values only where theirs are empty, and the draft's list items they do not have.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.incident.model import Milestone

_SUMMARY = ("what", "severity", "type", *(m.value for m in Milestone), "duration", "impact", "resolution")
SCALARS: tuple[str, ...] = (
    "title",
    *(f"summary.{key}" for key in _SUMMARY),
    "impact.duration",
    "impact.user_impact",
    "impact.users_affected",
    "impact.revenue",
    "impact.tickets",
    "root_cause",
)
LISTS: tuple[str, ...] = ("timeline", "impact.systems", "contributing_factors", "five_whys", "went_well", "went_wrong",
                          "action_items", "lessons")  # fmt: skip
PEOPLE_OWN = ("status", "authors")  # never generated after the first draft
_ABSENT = object()


@dataclass(frozen=True)
class Merged:
    data: dict[str, Any]
    kept: tuple[str, ...]  # the fields (paths) where people's text was kept


def digest(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def get(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def put(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = data
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    if value is _ABSENT:
        node.pop(last, None)
    else:
        node[last] = value


def fields(data: Mapping[str, Any]) -> dict[str, str | list[str]]:
    """The digest of each generated field of `data` as it stands (one per item for lists)."""
    out: dict[str, str | list[str]] = {}
    for path in SCALARS:
        value = get(data, path)
        out[path] = digest(None if value is _ABSENT else value)
    for path in LISTS:
        value = get(data, path)
        out[path] = [digest(item) for item in value] if isinstance(value, list) else []
    return out


def overall(recorded: Mapping[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(recorded, sort_keys=True).encode("utf-8")).hexdigest()


def seal(generated: dict[str, Any]) -> dict[str, Any]:
    """`generated` with its `generated` record: the digests of what was generated."""
    recorded = fields(generated)
    info = dict(generated.get("generated") or {})
    info.update(digest=overall(recorded), fields=recorded)
    return {**generated, "generated": info}


def edited(existing: Mapping[str, Any]) -> bool:
    """Whether people changed (or wrote) any generated field since fireline last wrote the file."""
    info = existing.get("generated")
    if not isinstance(info, Mapping) or not isinstance(info.get("digest"), str):
        return True
    return overall(fields(existing)) != str(info["digest"])


def merge(existing: Mapping[str, Any], new: Mapping[str, Any]) -> Merged:
    """The new draft (already sealed) with people's fields of `existing` kept (see the module's words)."""
    info = existing.get("generated")
    before: Mapping[str, Any] = info.get("fields") or {} if isinstance(info, Mapping) else {}
    out = json.loads(json.dumps(dict(new)))  # a deep copy of plain data
    kept: list[str] = []
    for path in PEOPLE_OWN:
        value = get(existing, path)
        if value is not _ABSENT:
            put(out, path, value)
    for path in SCALARS:
        current = get(existing, path)
        if _people_wrote(current, before.get(path)):
            kept.append(path)
            put(out, path, current)
    for path in LISTS:
        items, changed = _list(get(existing, path), get(new, path), before.get(path))
        if changed:
            kept.append(path)
        if path == "timeline":
            items.sort(key=lambda item: str(item.get("at", "")) if isinstance(item, Mapping) else "")
        put(out, path, items)
    return Merged(out, tuple(kept))


def _people_wrote(current: Any, generated: Any) -> bool:
    """Whether a field's value is people's (to keep) rather than fireline's (to regenerate)."""
    if isinstance(generated, str):
        return digest(None if current is _ABSENT else current) != generated
    # No record of what fireline wrote: people's value stands unless it is empty.
    return current is not _ABSENT and current not in (None, "")


def changed_fields(existing: Mapping[str, Any]) -> list[str]:
    """The generated fields people changed, by the file's own record (all of them without one)."""
    info = existing.get("generated")
    before: Mapping[str, Any] = info.get("fields") or {} if isinstance(info, Mapping) else {}
    now = fields(existing)
    return [path for path in (*SCALARS, *LISTS) if before.get(path) != now[path]]


def _list(current: Any, new: Any, generated: Any) -> tuple[list[Any], bool]:
    """The merged items, and whether any of people's items (or deletions) were kept."""
    fresh = list(new) if isinstance(new, list) else []
    if not isinstance(current, list):
        return fresh, False
    old = set(generated) if isinstance(generated, list) else None
    new_digests = {digest(item) for item in fresh}
    present = {digest(item) for item in current}
    deleted = (old - present) if old is not None else set()
    out: list[Any] = []
    people = False
    for item in current:
        mark = digest(item)
        if old is not None and mark in old:
            if mark in new_digests:
                out.append(item)  # fireline's, still true
        else:
            out.append(item)  # people's
            people = people or mark not in new_digests
    seen = {digest(item) for item in out}
    # An item with an id (a tracked action item) is one item however both sides changed it: people's version
    # stays, once; `actions sync` settles its fields with the journal.
    ids = {_id(item) for item in out} - {None}
    for item in fresh:
        mark = digest(item)
        if mark not in seen and mark not in deleted and _id(item) not in ids:
            out.append(item)
            seen.add(mark)
    return out, people or bool(deleted & new_digests)


def _id(item: Any) -> str | None:
    found = item.get("id") if isinstance(item, Mapping) else None
    return found if isinstance(found, str) and found else None
