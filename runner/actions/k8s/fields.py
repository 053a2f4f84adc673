"""Reading fields out of API objects by path, and describing what a change does to them."""

from __future__ import annotations

import json
import re
from typing import Any

NONE = "<none>"


def split_path(path: str) -> list[str]:
    """`status.readyReplicas`, `spec.template.spec.containers[0].image`, `metadata.labels["app"]`.

    Bracketed parts are separate segments (quotes stripped), so keys with dots can be written either
    quoted (`annotations["deployment.kubernetes.io/revision"]`) or plainly (resolved in `lookup`).
    """
    segments: list[str] = []
    for part in re.findall(r'\["[^"]*"\]|\[\'[^\']*\'\]|\[[^\]]*\]|[^.\[]+', path):
        if part.startswith("["):
            segments.append(part[1:-1].strip("\"'"))
        else:
            segments.append(part)
    return segments


def lookup(obj: Any, path: str) -> Any:
    """The value at `path`, or None when any part is missing (the API omits zero values: readyReplicas)."""
    return _walk(obj, split_path(path))


def _walk(node: Any, segments: list[str]) -> Any:
    if not segments:
        return node
    if isinstance(node, list):
        head = segments[0]
        if head.lstrip("-").isdigit() and -len(node) <= int(head) < len(node):
            return _walk(node[int(head)], segments[1:])
        # containers[app]: list elements named like the segment (merge key `name`).
        named = [item for item in node if isinstance(item, dict) and item.get("name") == head]
        return _walk(named[0], segments[1:]) if named else None
    if isinstance(node, dict):
        # Keys may contain dots (annotation keys): try the longest run of segments that names a key.
        for end in range(len(segments), 0, -1):
            key = ".".join(segments[:end])
            if key in node:
                return _walk(node[key], segments[end:])
    return None


def diff(before: Any, after: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(path, before, after) for every leaf that differs. Lists of named items are compared by name."""
    if _mapping_or_none(before) and _mapping_or_none(after) and (before is not None or after is not None):
        # A missing map is an empty one: report the keys added, not the whole new map.
        before, after = before or {}, after or {}
        out: list[tuple[str, Any, Any]] = []
        for key in sorted(set(before) | set(after)):
            path = f"{prefix}.{key}" if prefix else key
            out.extend(diff(before.get(key), after.get(key), path))
        return out
    if _named_list(before) and _named_list(after):
        out = []
        names = [i["name"] for i in before] + [i["name"] for i in after if i["name"] not in _names(before)]
        for name in names:
            out.extend(diff(_by_name(before, name), _by_name(after, name), f"{prefix}[{name}]"))
        return out
    return [] if before == after else [(prefix, before, after)]


def render_diff(changes: list[tuple[str, Any, Any]], limit: int = 30) -> tuple[str, ...]:
    lines = [f"{path}: {show(old)} → {show(new)}" for path, old, new in changes[:limit]]
    if len(changes) > limit:
        lines.append(f"… and {len(changes) - limit} more changed fields")
    return tuple(lines)


def show(value: Any) -> str:
    if value is None:
        return NONE
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _mapping_or_none(value: Any) -> bool:
    return value is None or isinstance(value, dict)


def _named_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(i, dict) and "name" in i for i in value)


def _names(items: list[Any]) -> set[Any]:
    return {i["name"] for i in items}


def _by_name(items: list[Any], name: Any) -> Any:
    return next((i for i in items if i["name"] == name), None)
