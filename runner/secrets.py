"""Secret references and redaction.

Runbooks name where a secret lives, never its value. Every value resolved is registered with one Redactor,
and every path to the outside (terminal, journal, JSON output, error messages) goes through it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from runner.errors import UsageError

MASK = "***"
# Very short values would mask innocent text everywhere ("a", "1"); they are still secret, so refuse them
# at resolution rather than silently not redacting.
_MIN_SECRET_LENGTH = 4


@dataclass(frozen=True)
class SecretRef:
    name: str
    source: str  # "env" | "file"
    key: str  # variable name or file path
    optional: bool = False


class Redactor:
    """Replaces every known secret value, and its URL-encoded forms, with ***."""

    def __init__(self) -> None:
        self._values: list[str] = []
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        forms = {value, quote(value, safe=""), quote_plus(value)}
        with self._lock:
            for form in forms:
                if form and form not in self._values:
                    self._values.append(form)
            # Longest first, so a secret containing another is masked whole.
            self._values.sort(key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._values)

    def text(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def data(self, value: Any) -> Any:
        """Deep copy of JSON-like data with every string redacted."""
        if not self._values:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value


def resolve_secrets(
    refs: Mapping[str, SecretRef], redactor: Redactor, missing: list[str] | None = None
) -> dict[str, str]:
    """Read every referenced secret; all missing ones are reported together. With a `missing` list (a
    dry-run, e.g. in CI without production credentials) absent secrets are collected there instead: the
    steps that need them become cannot-check rather than the whole plan failing."""
    values: dict[str, str] = {}
    problems: list[str] = []
    for ref in refs.values():
        value = _read(ref)
        if value is None:
            if not ref.optional:
                where = f"environment variable {ref.key}" if ref.source == "env" else f"file {ref.key}"
                if missing is not None:
                    missing.append(f"{ref.name} ({where})")
                else:
                    problems.append(f"secret {ref.name!r}: {where} is not set")
            continue
        if len(value) < _MIN_SECRET_LENGTH:
            problems.append(f"secret {ref.name!r} is shorter than {_MIN_SECRET_LENGTH} characters")
            continue
        redactor.add(value)
        values[ref.name] = value
    if problems:
        raise UsageError("; ".join(problems), hint="set the variables or files named, then run again")
    return values


def _read(ref: SecretRef) -> str | None:
    if ref.source == "env":
        return os.environ.get(ref.key) or None
    path = Path(ref.key).expanduser()
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
