"""Checking what a template reads from an action's result (`result.rows[0].active`, `steps.x.result.count`)
against the shape the action declares, before anything runs.

Only what the shape closes is judged: an object with `additionalProperties: false` has exactly the fields it
lists; an open object, an untyped value or an action that declares nothing is taken at its word. A name
that goes past a string or a number (`result.stdout.strip`) is a method, not a field, and is not judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.document.schemas import did_you_mean

# What templates may call on any mapping (`result.get('x')`, `result.items()`).
_MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})


def result_field_problem(
    action: str, schema: Mapping[str, Any] | None, chain: tuple[str | int, ...]
) -> tuple[str, str | None] | None:
    """(message, hint) when `result.<chain>` names a field the declared shape of `action`'s result does not
    have; None when it may (or when nothing is declared)."""
    if not isinstance(schema, Mapping):
        return None
    defs = schema.get("$defs") or {}
    node: Mapping[str, Any] = schema
    walked = "result"
    for part in chain:
        node = _resolve(node, defs)
        if isinstance(part, int):
            items = node.get("items")
            if _types(node) != {"array"} or not isinstance(items, Mapping):
                return None
            node, walked = items, f"{walked}[{part}]"
            continue
        properties = node.get("properties")
        if _types(node) - {"object", "null"} or not isinstance(properties, Mapping):
            return None  # not (only) an object, or one whose fields are not listed
        if part in properties:
            node, walked = properties[part], f"{walked}.{part}"
            continue
        extra = node.get("additionalProperties")
        if isinstance(extra, Mapping):
            node, walked = extra, f"{walked}.{part}"
            continue
        if extra is not False or part in _MAPPING_METHODS:
            return None
        return _no_such_field(action, walked, part, list(properties))
    return None


def _no_such_field(action: str, walked: str, field: str, fields: list[str]) -> tuple[str, str | None]:
    whose = f"the result of {action}" if walked == "result" else f"{walked} (of {action})"
    return f"{whose} has no field {field!r}", did_you_mean(field, fields) or f"it has: {', '.join(fields)}"


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    """A local `#/$defs/name` reference followed (a few levels; the shapes are not recursive)."""
    for _ in range(8):
        ref = node.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
            return node
        target = defs.get(ref.removeprefix("#/$defs/"))
        if not isinstance(target, Mapping):
            return node
        node = target
    return node


def _types(node: Mapping[str, Any]) -> set[str]:
    declared = node.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {str(t) for t in declared}
    return {"object"} if "properties" in node else set()
