"""Label and field selectors, as accepted in ``labelSelector=`` / ``fieldSelector=`` query parameters."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import bad_request

Predicate = Callable[[Mapping[str, str]], bool]

_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9._/-]+)\s+(in|notin)\s*\(([^)]*)\)\s*$")
_OP_RE = re.compile(r"^\s*([A-Za-z0-9._/-]+)\s*(==|!=|=)\s*([A-Za-z0-9._-]*)\s*$")
_EXISTS_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9._/-]+)\s*$")


def _split_terms(selector: str) -> list[str]:
    """Split on commas that are not inside ``in (a,b)`` parentheses."""
    terms: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    terms.append("".join(cur))
    return [t for t in terms if t.strip()]


def parse_label_selector(selector: str | None) -> Predicate:
    if not selector or not selector.strip():
        return lambda labels: True
    preds: list[Predicate] = []
    for term in _split_terms(selector):
        preds.append(_parse_label_term(term))
    return lambda labels: all(p(labels) for p in preds)


def _parse_label_term(term: str) -> Predicate:
    m = _SET_RE.match(term)
    if m:
        if m.group(1):
            raise bad_request(f"unable to parse requirement: {term!r}")
        key, op = m.group(2), m.group(3)
        values = {v.strip() for v in m.group(4).split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    m = _OP_RE.match(term)
    if m:
        key, op, value = m.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    m = _EXISTS_RE.match(term)
    if m:
        neg, key = m.groups()
        if neg:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise bad_request(f"unable to parse requirement: found {term!r}, expected: in, notin, =, ==, !=, gt, lt")


def selector_from_label_selector(sel: Mapping[str, Any] | None) -> Predicate:
    """A ``metav1.LabelSelector`` object (matchLabels + matchExpressions) as a predicate.

    An empty/absent selector matches nothing here, as it does for workload controllers.
    """
    if not sel:
        return lambda labels: False
    match_labels: Mapping[str, str] = sel.get("matchLabels") or {}
    exprs: list[Mapping[str, Any]] = sel.get("matchExpressions") or []
    if not match_labels and not exprs:
        return lambda labels: False

    def pred(labels: Mapping[str, str]) -> bool:
        for k, v in match_labels.items():
            if labels.get(k) != v:
                return False
        for e in exprs:
            key, op, vals = e.get("key", ""), e.get("operator", ""), e.get("values") or []
            if op == "In" and labels.get(key) not in vals:
                return False
            if op == "NotIn" and labels.get(key) in vals:
                return False
            if op == "Exists" and key not in labels:
                return False
            if op == "DoesNotExist" and key in labels:
                return False
        return True

    return pred


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def parse_field_selector(selector: str | None) -> Callable[[Mapping[str, Any]], bool]:
    """Field selectors only support ``=``, ``==`` and ``!=`` on dotted paths (metadata.name, status.phase)."""
    if not selector or not selector.strip():
        return lambda obj: True
    terms: list[tuple[str, bool, str]] = []
    for term in selector.split(","):
        if not term.strip():
            continue
        if "!=" in term:
            key, value = term.split("!=", 1)
            terms.append((key.strip(), False, value.strip()))
        elif "==" in term:
            key, value = term.split("==", 1)
            terms.append((key.strip(), True, value.strip()))
        elif "=" in term:
            key, value = term.split("=", 1)
            terms.append((key.strip(), True, value.strip()))
        else:
            raise bad_request(f"invalid selector: '{selector}'; can't understand '{term}'")

    def pred(obj: Mapping[str, Any]) -> bool:
        return all((_field_value(obj, key) == value) == eq for key, eq, value in terms)

    return pred
