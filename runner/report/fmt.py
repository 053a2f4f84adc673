"""Small text formatters shared by the Markdown, HTML and SVG renderers."""

from __future__ import annotations

from collections.abc import Sequence

from runner.durations import format_duration
from runner.gameday.events import StepApproval
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


def approval(a: StepApproval) -> str:
    """`alice at the prompt (signed): INC-7` — who, how (prompt, --approve, --approve-all, fireline approve),
    whether the identity was verified, and why."""
    how = "at the prompt" if a.via == "prompt" else f"with {a.via}"
    signed = " (signed)" if a.signed else ""
    return f"{a.by} {how}{signed}" + (f": {a.reason}" if a.reason else "")


def approvals(given: Sequence[StepApproval]) -> str:
    """Who approved a response step, or that it passed no gate."""
    return "approved by " + "; ".join(approval(a) for a in given) if given else "no approval needed"


def clock(ts: str | None) -> str:
    """ISO UTC → `14:00:03.123`: the time of day of one event, to the millisecond."""
    return ts[11:23] if ts and len(ts) >= 23 else MISSING


def wall(ts: str | None) -> str:
    """ISO UTC with microseconds → `2024-05-01 14:00:03Z`, precise enough for people."""
    if not ts:
        return MISSING
    return ts.replace("T", " ")[:19] + "Z"
