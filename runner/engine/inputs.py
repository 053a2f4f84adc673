"""Typed inputs from `-i key=value` and `--inputs-file`, checked before the first step runs."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runner.document.diagnostics import DocumentInvalid
from runner.document.model import InputSpec
from runner.document.schemas import did_you_mean
from runner.document.yamlsource import load_document
from runner.durations import duration_problem, is_duration, is_too_long
from runner.errors import UsageError
from runner.patterns import PatternError, finds


def parse_assignments(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"input {pair!r} is not key=value", hint="e.g. -i deployment=checkout")
        out[key.strip()] = value
    return out


def read_inputs_file(path: Path) -> dict[str, Any]:
    """Read through the runbook loader: the same limits (size, values, depth, aliases, tags), the same
    refusal of FIFOs and devices, and problems with file:line:col."""
    try:
        data = load_document(path, first_line="an inputs file is a mapping such as `deployment: checkout`").data
    except DocumentInvalid as exc:
        raise UsageError(f"cannot read inputs file {path}:\n{exc}", hint=_INPUTS_FILE_HINT) from None
    if not isinstance(data, dict):
        raise UsageError(f"inputs file {path} must hold a mapping of input names to values", hint=_INPUTS_FILE_HINT)
    return data


_INPUTS_FILE_HINT = "a YAML or JSON mapping of input names to values, e.g. deployment: checkout"


def resolve_inputs(specs: Mapping[str, InputSpec], given: Mapping[str, Any]) -> dict[str, Any]:
    """Coerce and check every input; all problems are reported together."""
    problems: list[str] = []
    values: dict[str, Any] = {}
    for name in given:
        if name not in specs:
            hint = did_you_mean(name, specs)
            problems.append(f"unknown input {name!r}" + (f" ({hint})" if hint else ""))
    for name, spec in specs.items():
        if name in given:
            try:
                values[name] = _check(spec, _coerce(spec, _refuse_nul(given[name])))
            except ValueError as exc:
                problems.append(f"input {name!r}: {exc}")
        elif spec.has_default:
            values[name] = spec.default
        elif spec.required:
            problems.append(f"input {name!r} is required" + (f" ({spec.description})" if spec.description else ""))
        else:
            values[name] = None
    if problems:
        raise UsageError("; ".join(problems), hint="pass inputs with -i name=value or --inputs-file FILE")
    return values


def _coerce(spec: InputSpec, raw: Any) -> Any:
    kind = spec.type
    if not isinstance(raw, str):
        if kind == "integer" and isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if kind == "number" and isinstance(raw, int | float) and not isinstance(raw, bool):
            return raw
        if kind == "boolean" and isinstance(raw, bool):
            return raw
        if kind == "list" and isinstance(raw, list):
            return raw
        if kind in ("string", "duration") and isinstance(raw, int | float) and not isinstance(raw, bool):
            return _coerce(spec, str(raw))
        raise ValueError(f"expected {kind}, got {_shown(raw)}")
    text = raw.strip()
    if kind == "string":
        return raw
    if kind == "integer":
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ValueError(f"expected an integer, got {raw!r}")
        return int(text)
    if kind == "number":
        try:
            return float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            raise ValueError(f"expected a number, got {raw!r}") from None
    if kind == "boolean":
        lowered = text.lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
        raise ValueError(f"expected true or false, got {raw!r}")
    if kind == "duration":
        if is_too_long(text):
            raise ValueError(str(duration_problem(text)))
        if not is_duration(text):
            raise ValueError(f"expected a duration such as 30s or 5m, got {raw!r}")
        return text
    if kind == "list":
        return [item.strip() for item in text.split(",") if item.strip()]
    raise ValueError(f"unsupported input type {kind}")


def _refuse_nul(raw: Any) -> Any:
    """A NUL byte cannot reach a command (argv and the environment are C strings) or most files: refuse
    it here, named, rather than as `embedded null byte` from deep inside a step."""
    texts = raw if isinstance(raw, list) else [raw]
    if any(isinstance(text, str) and "\0" in text for text in texts):
        raise ValueError("contains a NUL character (\\0), which no command or file name can carry")
    return raw


def _shown(raw: Any) -> str:
    try:
        text = json.dumps(raw)
    except (TypeError, ValueError):
        text = repr(raw)  # e.g. a date, which YAML reads from 2024-01-01
    return text if len(text) <= 60 else text[:57] + "..."


def _check(spec: InputSpec, value: Any) -> Any:
    if spec.enum and value not in spec.enum:
        raise ValueError(f"{value!r} is not one of {list(spec.enum)}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if spec.minimum is not None and value < spec.minimum:
            raise ValueError(f"{value} is below the minimum {spec.minimum}")
        if spec.maximum is not None and value > spec.maximum:
            raise ValueError(f"{value} is above the maximum {spec.maximum}")
    if spec.pattern and isinstance(value, str) and not _matches(spec.pattern, value):
        raise ValueError(f"{value!r} does not match {spec.pattern}")
    return value


def _matches(pattern: str, value: str) -> bool:
    try:
        return finds(pattern, value)
    except PatternError as exc:  # validation reports it too; a runbook loaded without validation must not crash
        raise ValueError(f"the runbook's pattern is not usable: {exc}") from None
