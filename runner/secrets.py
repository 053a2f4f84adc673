"""Secret references and redaction.

Runbooks name where a secret lives, never its value. Every value resolved is registered with one Redactor,
and every path to the outside (terminal, journal, JSON output, error messages) goes through it.
"""

from __future__ import annotations

import json
import os
import shlex
import threading
from collections.abc import Callable, Mapping
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
    """A secret a document names: where its value comes from (a variable or a file), never the value."""

    name: str
    source: str  # "env" | "file"
    key: str  # variable name or file path
    optional: bool = False


# What a cut line ends with. A cut that happened before masking (in code that had no redactor at hand)
# can leave the start of a secret just before it; `Redactor.text` masks such a remnant too.
ELLIPSES = ("...", "…")
# The shortest remnant of a secret before an ellipsis that is masked (shorter ones would mask words).
_MIN_REMNANT = 4


# Jinja's `tojson` escapes these on top of JSON; its `|e` (markupsafe) escapes quotes as numeric entities.
_TOJSON_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027"})
_MARKUPSAFE_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "'": "&#39;", '"': "&#34;"})


def encoded_forms(value: str) -> set[str]:
    """The forms in which a template or an output path can show a value without changing it.

    URL encodings (Jinja's `urlencode` keeps "/"; in a query string spaces become "+"), JSON string
    contents (`tojson`'s extra escapes; plain JSON with and without ASCII escapes), HTML escaping (`|e`
    and the standard library's), shell quoting (the engine's automatic quoting of templated values) and
    Python's repr (error messages)."""
    import html  # only with a secret to hide: its table of entities costs ~2 ms at every start

    as_json = json.dumps(value)[1:-1]
    return {
        value,
        quote(value, safe=""),
        quote(value, safe="/"),
        quote_plus(value),
        as_json,
        as_json.translate(_TOJSON_ESCAPES),
        json.dumps(value, ensure_ascii=False)[1:-1],
        html.escape(value, quote=True),
        html.escape(value, quote=False),
        value.translate(_MARKUPSAFE_ESCAPES),
        shlex.quote(value),
        repr(value)[1:-1],
    }


class Redactor:
    """Replaces every known secret value, and its encoded forms, with ***."""

    def __init__(self) -> None:
        self._values: list[str] = []
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        with self._lock:
            for form in encoded_forms(value):
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
        if "..." in text or "…" in text:
            text = self._remnants(text)
        return text

    def shorten(self, text: str, limit: int, ellipsis: str = "...") -> str:
        """Mask, then cut to `limit` characters: cutting first can leave part of a secret that no longer
        matches it whole."""
        return shorten(self.text(text), limit, ellipsis)

    def _remnants(self, text: str) -> str:
        """Mask the start of a secret (in any of its forms) left just before an ellipsis by a cut made
        before masking."""
        for form in self._values:
            for mark in ELLIPSES:
                at = text.find(mark)
                while at != -1:
                    length = _remnant_length(text, at, form)
                    if length:
                        text = text[: at - length] + MASK + text[at:]
                        at += len(MASK) - length
                    at = text.find(mark, at + len(mark))
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


def shorten(text: str, limit: int, ellipsis: str = "...", redact: Callable[[str], str] | None = None) -> str:
    """`text` cut to at most `limit` characters, masked first when a redactor is given."""
    if redact is not None:
        text = redact(text)
    return text if len(text) <= limit else text[: max(limit - len(ellipsis), 0)] + ellipsis


def _remnant_length(text: str, end: int, form: str) -> int:
    """Length of the longest start of `form` (at least _MIN_REMNANT) that `text[:end]` ends with; else 0."""
    for length in range(min(len(form), end), _MIN_REMNANT - 1, -1):
        if text.endswith(form[:length], 0, end):
            return length
    return 0


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
