"""Regular expressions written by people: an input's `pattern`, a log filter.

Python's `re` backtracks, so a pattern such as `(a+)+b` against a long input takes exponential time — one
mistyped pattern and a runbook hangs in the worst hour, and no timeout can stop `re` once it has started.
These patterns go to RE2 instead, whose matching time is linear in the text. RE2 refuses the few features
that need backtracking (back-references, look-around); validation reports that at the pattern's own line.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol

from runner.errors import FirelineError


class CompiledPattern(Protocol):
    def search(self, text: str) -> object | None: ...


class PatternError(FirelineError):
    """A pattern RE2 cannot read."""


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> CompiledPattern:
    import re2  # type: ignore[import-untyped]  # 2 ms, only for the steps and inputs that have a pattern

    options = re2.Options()
    options.log_errors = False  # RE2 would otherwise print its own message to stderr
    try:
        compiled: CompiledPattern = re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise PatternError(
            f"{pattern[:60]!r} is not a usable regular expression: {reason}",
            hint="back-references (\\1) and look-around ((?=...), (?<!...)) are not supported: "
            "patterns run in linear time, so a pattern can never hang a run",
        ) from None
    return compiled


def pattern_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be used, or None."""
    try:
        compile_pattern(pattern)
    except PatternError as exc:
        return str(exc)
    return None


def finds(pattern: str, text: str) -> bool:
    """Whether `pattern` occurs anywhere in `text` (like `re.search`), in time linear in the text."""
    return compile_pattern(pattern).search(text) is not None
