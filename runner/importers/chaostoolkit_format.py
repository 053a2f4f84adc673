"""What a Chaos Toolkit experiment is, as far as fireline needs to know before mapping one: the checks Chaos
Toolkit itself makes (an experiment has a method; each activity has a type, a name and a provider of a known
type with the fields it needs), made all at once, each problem with its JSON path."""

from __future__ import annotations

from typing import Any

from runner.document.diagnostics import Diagnostic, DocumentInvalid

WHAT = "a Chaos Toolkit experiment"


def check_experiment(data: dict[str, Any], name: str) -> None:
    problems: list[tuple[str, str, str | None]] = []
    if data.get("apiVersion") == "fireline/v1" or data.get("kind") in ("GameDay", "Runbook"):
        kind = "game day" if data.get("kind") == "GameDay" else "runbook"
        raise _invalid(
            name, f"this is a fireline {kind}, not {WHAT}", f"nothing to import: run fireline validate {name}"
        )
    if "method" not in data:
        problems.append(("", f"not {WHAT}: there is no method", "an experiment lists its actions under method:"))
    elif not isinstance(data["method"], list):
        problems.append(("method", "method must be a list of activities", None))
    hypothesis = data.get("steady-state-hypothesis")
    if hypothesis is not None and not isinstance(hypothesis, dict):
        problems.append(("steady-state-hypothesis", "must be a mapping with title and probes", None))
    elif isinstance(hypothesis, dict) and not isinstance(hypothesis.get("probes", []), list):
        problems.append(("steady-state-hypothesis.probes", "must be a list of probes", None))
    for key in ("rollbacks",):
        if key in data and not isinstance(data[key], list):
            problems.append((key, f"{key} must be a list of activities", None))
    for key in ("configuration", "secrets", "runtime"):
        if key in data and data[key] is not None and not isinstance(data[key], dict):
            problems.append((key, f"{key} must be a mapping", None))
    for at, activity in _activities(data):
        problems += [(f"{at}.{below}" if below else at, m, h) for below, m, h in _activity_problems(activity, data)]
    if problems:
        raise DocumentInvalid([Diagnostic(name, 1, 1, _json_path_text(at), m, h) for at, m, h in problems])


def _activities(data: dict[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    hypothesis = data.get("steady-state-hypothesis")
    probes = hypothesis.get("probes") if isinstance(hypothesis, dict) else None
    for section, items in (
        ("steady-state-hypothesis.probes", probes),
        ("method", data.get("method")),
        ("rollbacks", data.get("rollbacks")),
    ):
        if isinstance(items, list):
            out += [(f"{section}[{i}]", item) for i, item in enumerate(items)]
    return out


def _activity_problems(activity: Any, data: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """What Chaos Toolkit itself would refuse in one activity: (path below the activity, message, hint)."""
    if not isinstance(activity, dict):
        return [("", "an activity must be a mapping", None)]
    if "ref" in activity:
        if not isinstance(activity["ref"], str) or lookup(data, activity["ref"]) is None:
            return [("ref", f"refers to an activity named {activity['ref']!r} that is not declared", None)]
        return []
    out: list[tuple[str, str, str | None]] = []
    if activity.get("type") not in ("action", "probe"):
        out.append(("type", "an activity's type must be action or probe", None))
    if not isinstance(activity.get("name"), str) or not activity.get("name"):
        out.append(("name", "an activity needs a name", None))
    if "pauses" in activity:
        out += _pauses_problems(activity["pauses"])
    if "tolerance" in activity and not isinstance(activity["tolerance"], bool | int | str | list | dict):
        out.append(("tolerance", "a tolerance is a boolean, a number, text, a list or a mapping", None))
    provider = activity.get("provider")
    if not isinstance(provider, dict):
        return [*out, ("provider", "an activity needs a provider", None)]
    kind = provider.get("type")
    if kind not in ("http", "process", "python"):
        return [*out, ("provider.type", f"unknown provider type {kind!r}", "Chaos Toolkit knows http, process, python")]
    for key, types, required in _PROVIDER_FIELDS[kind]:
        if key not in provider:
            if required:
                out.append((f"provider.{key}", f"a {kind} provider needs {key}", None))
        elif not isinstance(provider[key], types) or (required and provider[key] == ""):
            names = " or ".join(_TYPE_NAMES[t] for t in types)
            out.append((f"provider.{key}", f"a {kind} provider's {key} must be {names}", None))
    return out


def _pauses_problems(pauses: Any) -> list[tuple[str, str, str | None]]:
    if not isinstance(pauses, dict):
        return [("pauses", "pauses must be a mapping with before and/or after", None)]
    out: list[tuple[str, str, str | None]] = []
    for key, value in pauses.items():
        number = _number(value) and value >= 0
        reference = isinstance(value, str) and value.startswith("${") and value.endswith("}")
        if key not in ("before", "after") or not (number or reference):
            out.append((f"pauses.{key}", "a pause is before or after: a number of seconds or ${name}", None))
    return out


_TYPE_NAMES: dict[type, str] = {str: "text", list: "a list", dict: "a mapping", int: "a number", float: "a number"}
# Per provider type: (field, accepted types, required).
_PROVIDER_FIELDS: dict[str, tuple[tuple[str, tuple[type, ...], bool], ...]] = {
    "http": (
        ("url", (str,), True),
        ("method", (str,), False),
        ("headers", (dict,), False),
        ("timeout", (int, float, list), False),
    ),
    "process": (("path", (str,), True), ("arguments", (list, dict, str), False), ("timeout", (int, float), False)),
    "python": (("module", (str,), True), ("func", (str,), True), ("arguments", (dict,), False)),
}


def lookup(data: dict[str, Any], name: Any) -> dict[str, Any] | None:
    for _, activity in _activities(data):
        if isinstance(activity, dict) and "ref" not in activity and activity.get("name") == name:
            return activity
    return None


def _invalid(name: str, message: str, hint: str | None = None) -> DocumentInvalid:
    return DocumentInvalid([Diagnostic(name, 1, 1, "", message, hint)])


def _json_path_text(at: str) -> str:
    return "$." + at if at else "$"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
