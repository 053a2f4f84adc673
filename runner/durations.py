"""Durations as people write them: 500ms, 30s, 5m, 1h, 1h30m.

Every duration fireline accepts — a step's timeout, a sleep, a retry delay, a game-day objective, an input of
type duration — is at most MAX_DURATION_SECONDS. Past it, timers, sleeps and date arithmetic overflow
(`99999999999h` does not fit a C time_t); below it, no runbook has a real use for more.
"""

from __future__ import annotations

import math
import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}

MAX_DURATION_SECONDS = 10 * 365 * 24 * 3600.0
MAX_DURATION_TEXT = "87600h (10 years)"


def is_duration(text: str | int | float) -> bool:
    """Written as a duration and within the limit."""
    return duration_problem(text) is None


def duration_problem(text: str | int | float) -> str | None:
    """Why `text` is not an acceptable duration, or None when it is."""
    try:
        parse_duration(text)
    except ValueError as exc:
        return str(exc)
    return None


def is_too_long(text: str) -> bool:
    """Written as a duration, but longer than the limit (what validation reports with its own message)."""
    return _sum_if_duration(text) > MAX_DURATION_SECONDS


def parse_duration(text: str | int | float) -> float:
    """Seconds in `text`. Bare numbers are seconds (values arriving from templates)."""
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        seconds = float(text) if not isinstance(text, int) or abs(text) <= 2**63 else math.inf
    else:
        value = text.strip()
        if not _WHOLE.match(value):
            raise ValueError(f"not a duration: {_quote(text)} (use e.g. 500ms, 30s, 5m, 1h)")
        seconds = _sum(value)
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"not a duration: {_quote(text)} (a duration is zero or more)")
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"duration {_quote(text)} is too long: at most {MAX_DURATION_TEXT}")
    return seconds


def _sum(value: str) -> float:
    # float() of a very long digit string is inf, never an error; inf is then refused as too long.
    return sum(float(num) * _UNIT_SECONDS[unit] for num, unit in _PART.findall(value))


def _sum_if_duration(text: str) -> float:
    value = text.strip()
    return _sum(value) if _WHOLE.match(value) else 0.0


def _quote(text: str | int | float) -> str:
    shown = repr(text)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def format_duration(seconds: float) -> str:
    """Short human form for output: 850ms, 12.3s, 4m05s, 1h02m."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
