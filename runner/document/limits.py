"""Limits a schema cannot say: a duration's size, the total wait of a retry policy.

The JSON Schemas describe a duration by its form only (`^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$`), so
`99999999999h` is well-formed. Wherever a schema expects that form, the value must also be within
MAX_DURATION_SECONDS; this walks a schema and a value side by side and reports every duration past it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from runner.document.diagnostics import Diagnostic
from runner.document.yamlsource import Document, PathKey
from runner.durations import (
    MAX_DURATION_SECONDS,
    MAX_DURATION_TEXT,
    format_duration,
    is_duration,
    is_too_long,
    parse_duration,
)

DURATION_PATTERN = "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
_BRANCHES = ("allOf", "anyOf", "oneOf", "then", "else")
# retries.count's maximum in runbook.schema.json (a test keeps the two equal). Each retry is a journal event
# and a wait; a hundred is already more than any real step needs.
MAX_RETRIES = 100


def long_durations(schema: Mapping[str, Any] | None, value: Any, at: PathKey = ()) -> list[tuple[PathKey, str]]:
    """(path, message) for every value in a duration position of `schema` that is longer than the limit."""
    if schema is None or not _holds_long_duration(value):
        return []  # the common case, found without walking the schema (this runs for every templated step)
    found = dict.fromkeys(_walk(schema, value, at))  # a value under several schema branches is told once
    return [(path, f"duration {text!r} is too long: at most {MAX_DURATION_TEXT}") for path, text in found]


def check_long_durations(doc: Document, schema: Mapping[str, Any] | None, value: Any, at: PathKey) -> list[Diagnostic]:
    if "long_duration" not in doc.facts:
        doc.facts["long_duration"] = _holds_long_duration(doc.data)
    if not doc.facts["long_duration"]:
        return []  # nothing in the document could be too long: no need to look at each part
    return [
        doc.diagnostic(path, message, "a timeout or wait that long is a typo; write e.g. 30s, 5m or 2h")
        for path, message in long_durations(schema, value, at)
    ]


def _holds_long_duration(value: Any) -> bool:
    # A walk with a list of what is left to look at, not a recursion of generators: it runs over the whole
    # document and over every templated step's parameters, and this is a third faster.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if item[-1:] in ("s", "m", "h") and is_too_long(item):
                return True
        elif isinstance(item, Mapping):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


@cache
def document_schema(kind: str) -> dict[str, Any]:
    """A document schema with its references resolved, as the validator sees it."""
    from runner.document.schemas import inline_refs, load_schema

    schema: dict[str, Any] = inline_refs(load_schema(kind), kind)
    schema.pop("$defs", None)
    return schema


def _walk(schema: Any, value: Any, path: PathKey) -> Iterator[tuple[PathKey, str]]:
    if not isinstance(schema, Mapping):
        return
    if isinstance(value, str) and schema.get("pattern") == DURATION_PATTERN:
        if is_too_long(value):
            yield path, value
        return
    for key in _BRANCHES:
        branch = schema.get(key)
        for sub in branch if isinstance(branch, list) else [branch]:
            yield from _walk(sub, value, path)
    if isinstance(value, Mapping):
        yield from _walk_mapping(schema, value, path)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            yield from _walk(schema["items"], item, (*path, index))


def _walk_mapping(schema: Mapping[str, Any], value: Mapping[str, Any], path: PathKey) -> Iterator[tuple[PathKey, str]]:
    properties = schema.get("properties") or {}
    patterns = schema.get("patternProperties") or {}
    for key, item in value.items():
        at = (*path, key)
        if key in properties:
            yield from _walk(properties[key], item, at)
            continue
        matched = [sub for pattern, sub in patterns.items() if re.search(pattern, str(key))]
        for sub in matched:
            yield from _walk(sub, item, at)
        if not matched:
            yield from _walk(schema.get("additionalProperties"), item, at)


def check_retries(doc: Document, retries: Any, at: PathKey) -> list[Diagnostic]:
    """The waits of a (schema-valid) retry policy, all together, stay within the duration limit."""
    count = retries.get("count") if isinstance(retries, Mapping) else None
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_RETRIES:
        return []  # the schema reports a count out of range
    delay, backoff = retries.get("delay", "1s"), retries.get("backoff", 1.0)
    if not isinstance(delay, str) or not is_duration(delay) or not isinstance(backoff, int | float):
        return []  # reported by the schema or as a long duration (is_duration includes the limit)
    problem = retries_wait_problem(count, parse_duration(delay), backoff)
    hint = "use fewer retries, a smaller delay or a smaller backoff"
    return [doc.diagnostic(at, problem, hint)] if problem else []


def retries_wait_problem(count: int, delay: float, backoff: float) -> str | None:
    """Why retries whose waits between attempts add up past the duration limit are refused, or None.
    (delay × backoff^n grows fast: 400 retries with backoff 10 would wait 10^399 s.)"""
    try:
        factor = float(backoff)
    except OverflowError:
        factor = math.inf
    total, wait = 0.0, delay
    for _ in range(count):
        total += wait
        if total > MAX_DURATION_SECONDS:
            return (
                f"these retries would wait more than {MAX_DURATION_TEXT} in total between attempts "
                f"(delay {format_duration(delay)}, backoff {_number(backoff)}, {count} retries)"
            )
        wait *= factor
    return None


def _number(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e15 else "a huge number"
