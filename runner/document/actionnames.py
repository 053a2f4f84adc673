"""Suggestions for an unknown action name: by meaning first (`kubernetes.rollback` → kubernetes.rollout_undo,
`k8s.restart` → kubernetes.rollout_restart), from the table in schemas/action-synonyms.json, then by spelling.
Only asked when a name is unknown, so the table is read on that path alone."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from runner.actions.declarations import schema_dir
from runner.actions.registry import has_action, known_actions
from runner.document.schemas import did_you_mean


def suggest_action(name: str) -> str | None:
    """A hint for an unknown action `name`, or None when nothing comes close."""
    family, _, short = name.partition(".")
    table = _table()
    family = _lookup(table.get("families"), family) or family
    if short and has_action(f"{family}.{short}"):
        return f"did you mean '{family}.{short}'?"
    meant = [a for a in _meanings(table.get("words") or {}, short or family) if has_action(a)]
    ours = [a for a in meant if a.startswith(family + ".")]
    spelled = did_you_mean(name, known_actions())
    if ours or (meant and not (spelled or "").startswith("did you mean")):
        return "did you mean " + " or ".join(f"'{a}'" for a in (ours or meant)[:2]) + "?"
    return spelled


def _meanings(words: Mapping[str, Any], short: str) -> list[str]:
    """The actions the table lists for the whole name, else for each of its words, in order."""
    key = short.lower().replace("-", "_")
    found = list(_lookup(words, key) or [])
    if not found:
        for word in key.split("_"):
            found += [a for a in _lookup(words, word) or [] if a not in found]
    return [str(a) for a in _unique(found)]


def _lookup(mapping: Any, key: str) -> Any:
    return mapping.get(key.lower()) if isinstance(mapping, Mapping) else None


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


@cache
def _table() -> dict[str, Any]:
    try:
        with (schema_dir() / "action-synonyms.json").open(encoding="utf-8") as fh:
            data: dict[str, Any] = json.load(fh)
    except (OSError, ValueError):
        return {}  # without the table, suggestions are by spelling alone
    return data
