"""Durations as people write them: 500ms, 30s, 5m, 1h, 1h30m."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def is_duration(text: str) -> bool:
    return bool(_WHOLE.match(text))


def parse_duration(text: str | int | float) -> float:
    """Seconds in `text`. Bare numbers are seconds (values arriving from templates)."""
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        return float(text)
    value = text.strip()
    if not _WHOLE.match(value):
        raise ValueError(f"not a duration: {text!r} (use e.g. 500ms, 30s, 5m, 1h)")
    return sum(float(num) * _UNIT_SECONDS[unit] for num, unit in _PART.findall(value))


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
