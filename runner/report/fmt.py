"""Small text formatters shared by the Markdown, HTML and SVG renderers."""

from __future__ import annotations

from runner.durations import format_duration
from runner.report.data import MetricRow

MISSING = "—"


def seconds(value: float | None) -> str:
    return MISSING if value is None else format_duration(value)


def resolution(value: float | None) -> str:
    """`1s` rather than `1.0s`: the interval is a setting people wrote as a round number."""
    if value is None:
        return "unknown"
    if value >= 1 and float(value).is_integer() and value < 60:
        return f"{int(value)}s"
    return format_duration(value)


def offset(t: float) -> str:
    """An offset from fault injection, as T+12.3s / T−2.0s (T+0 at the injection itself)."""
    if abs(t) < 0.0005:
        return "T+0"
    sign = "+" if t > 0 else "−"
    return f"T{sign}{format_duration(abs(t))}"


def result(metric: MetricRow) -> str:
    if metric.passed is None:
        return MISSING
    if metric.passed:
        return "pass"
    return "FAIL (never happened)" if metric.seconds is None else "FAIL"


def wall(ts: str | None) -> str:
    """ISO UTC with microseconds → `2024-05-01 14:00:03Z`, precise enough for people."""
    if not ts:
        return MISSING
    return ts.replace("T", " ")[:19] + "Z"
