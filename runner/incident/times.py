"""Times as responders type and read them: RFC 3339 with a zone in, full UTC dates out. An incident spans
machines, zones and days, so a time without a zone is refused rather than guessed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runner.durations import format_duration, parse_duration
from runner.errors import UsageError
from runner.templatetime import parse_time

# A time given as "in the past" may be ahead of this machine's clock by a little (another machine's clock).
FUTURE_SLACK = timedelta(minutes=5)
# Before it, a time is a mistake, not an incident's (and year 1 cannot even be shown in a zone east of UTC).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


def parse_when(text: str, what: str, now: datetime | None = None) -> datetime:
    """A moment the responder gives (`--started-at`, a correction): RFC 3339 with a zone, not in the future."""
    try:
        moment = parse_time(text).moment
    except (ValueError, TypeError) as exc:
        message = str(exc).removeprefix("parse_time(): ")
        raise UsageError(
            f"{what}: {message}",
            hint="write e.g. 2026-12-04T09:50:00Z (UTC) or 2026-12-04T10:50:00+01:00; a time without a zone is "
            "ambiguous and refused",
        ) from None
    current = now or datetime.now(UTC)
    if moment < EARLIEST:
        raise UsageError(f"{what}: {text.strip()[:40]} is before 1970", hint="write e.g. 2026-12-04T09:50:00Z")
    if moment > current + FUTURE_SLACK:
        raise UsageError(f"{what}: {utc(moment)} is in the future (it is {utc(current)} now)")
    return moment


def parse_after(text: str, what: str) -> float:
    """A duration such as 30m (`--next-update`), more than zero."""
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from None
    if seconds <= 0:
        raise UsageError(f"{what}: give a duration after now, such as 30m")
    return seconds


def utc(moment: datetime) -> str:
    """A full date and time in UTC, for people: 2026-12-04 10:00:12 UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def span(seconds: float) -> str:
    """A duration for people: 45s, 12m05s, 3h20m, 2d04h."""
    seconds = max(0.0, seconds)
    if seconds >= 86400:
        days, rest = divmod(int(seconds), 86400)
        return f"{days}d{rest // 3600:02d}h"
    return format_duration(seconds) if seconds >= 1 else "0s"
