"""Time in templates: `now()`, `duration('60m')`, `parse_time(text)` and arithmetic between them.

    {{ now() - parse_time(steps.history.outputs.deployed_at) < duration('1h') }}

Inside a template a time is a `Time` (a UTC instant) and a length of time a `Duration`: they subtract, add,
compare and scale as people expect (time - time = duration, time ± duration = time, duration * 2, a duration
compared with a number of seconds). When a value leaves a template (`plain`) a time becomes its ISO 8601 text
(`2026-12-04T10:00:00Z`) and a duration its number of seconds, so outputs journal, print and resume as plain
JSON; read a time back with `parse_time()`.

`parse_time` reads RFC 3339 (ISO 8601 with a date, a time and a zone), as Kubernetes, Prometheus and most
APIs write it. A time without a zone is refused rather than guessed: "10:00" on a responder's laptop and on
the cluster are different instants. Every problem is a ValueError or TypeError with a message for the runbook
author, which the template module turns into a TemplateError naming the template.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from runner.durations import parse_duration

# Longer text is no time: refuse it before any pattern looks at it.
_MAX_TIME_TEXT = 64
_RFC3339 = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)"
    r"(?P<zone>[Zz]|[+-]\d{2}:?\d{2})?$",
    re.ASCII,
)
_FRACTION = re.compile(r"\.(\d{1,9})$")


def _seconds_of(value: Any, operation: str) -> float:
    """Seconds of a Duration or a plain number (a duration that left a template is its seconds)."""
    if isinstance(value, Duration):
        return value.seconds
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"{operation}: expected a duration or a number of seconds, got {_kind(value)}")


def _kind(value: Any) -> str:
    if isinstance(value, str):
        shown = repr(value) if len(value) <= 40 else repr(value[:37] + "...")
        return f"the text {shown} (read a time with parse_time(), a duration with duration())"
    return {Time: "a time", Duration: "a duration"}.get(type(value), type(value).__name__)


@dataclass(frozen=True, order=False)
class Duration:
    """A length of time, in seconds (negative when an earlier time is subtracted from a later one)."""

    seconds: float

    def __post_init__(self) -> None:
        if math.isnan(self.seconds) or math.isinf(self.seconds):
            raise ValueError("a duration must be a finite number of seconds")
        # To the microsecond, as times are: 71ms and 0.071s are the same duration, not 1e-17 apart.
        object.__setattr__(self, "seconds", round(self.seconds, 6))

    @property
    def minutes(self) -> float:
        return self.seconds / 60

    @property
    def hours(self) -> float:
        return self.seconds / 3600

    def __str__(self) -> str:
        return f"{_number(self.seconds)}s"

    def __add__(self, other: Any) -> Any:
        if isinstance(other, Time):
            return other + self
        return Duration(self.seconds + _seconds_of(other, "duration +"))

    __radd__ = __add__

    def __sub__(self, other: Any) -> Duration:
        return Duration(self.seconds - _seconds_of(other, "duration -"))

    def __rsub__(self, other: Any) -> Duration:
        return Duration(_seconds_of(other, "- duration") - self.seconds)

    def __mul__(self, other: Any) -> Duration:
        if isinstance(other, int | float) and not isinstance(other, bool):
            return Duration(self.seconds * other)
        raise TypeError(f"a duration can be multiplied by a number, not by {_kind(other)}")

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Any:
        if isinstance(other, Duration):
            return self.seconds / other.seconds  # how many times one fits in the other
        if isinstance(other, int | float) and not isinstance(other, bool):
            return Duration(self.seconds / other)
        raise TypeError(f"a duration can be divided by a number or a duration, not by {_kind(other)}")

    def __neg__(self) -> Duration:
        return Duration(-self.seconds)

    def __abs__(self) -> Duration:
        return Duration(abs(self.seconds))

    def __lt__(self, other: Any) -> bool:
        return self.seconds < _seconds_of(other, "comparing a duration")

    def __le__(self, other: Any) -> bool:
        return self.seconds <= _seconds_of(other, "comparing a duration")

    def __gt__(self, other: Any) -> bool:
        return self.seconds > _seconds_of(other, "comparing a duration")

    def __ge__(self, other: Any) -> bool:
        return self.seconds >= _seconds_of(other, "comparing a duration")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Duration) or (isinstance(other, int | float) and not isinstance(other, bool)):
            return self.seconds == _seconds_of(other, "comparing a duration")
        return False

    def __hash__(self) -> int:
        return hash(self.seconds)


@dataclass(frozen=True, order=False)
class Time:
    """An instant, kept in UTC."""

    moment: datetime

    def __post_init__(self) -> None:
        if self.moment.tzinfo is None:
            raise ValueError("a time needs a zone")
        object.__setattr__(self, "moment", self.moment.astimezone(UTC))

    @property
    def epoch(self) -> float:
        """Seconds since 1970-01-01T00:00:00Z."""
        return self.moment.timestamp()

    @property
    def iso(self) -> str:
        return str(self)

    def __str__(self) -> str:
        return self.moment.isoformat().replace("+00:00", "Z")

    def __sub__(self, other: Any) -> Any:
        if isinstance(other, Time):
            return Duration((self.moment - other.moment).total_seconds())
        return self._shifted(-_seconds_of(other, "time -"))

    def __add__(self, other: Any) -> Time:
        if isinstance(other, Time):
            raise TypeError("two times cannot be added: subtract them for the duration between them")
        return self._shifted(_seconds_of(other, "time +"))

    def _shifted(self, seconds: float) -> Time:
        try:
            return Time(self.moment + timedelta(seconds=seconds))
        except OverflowError:
            raise ValueError(f"{self} moved by {_number(seconds)}s falls outside the years 1 to 9999") from None

    __radd__ = __add__

    def _other(self, other: Any) -> datetime:
        if isinstance(other, Time):
            return other.moment
        raise TypeError(f"a time can be compared with a time, not with {_kind(other)}")

    def __lt__(self, other: Any) -> bool:
        return self.moment < self._other(other)

    def __le__(self, other: Any) -> bool:
        return self.moment <= self._other(other)

    def __gt__(self, other: Any) -> bool:
        return self.moment > self._other(other)

    def __ge__(self, other: Any) -> bool:
        return self.moment >= self._other(other)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Time) and self.moment == other.moment

    def __hash__(self) -> int:
        return hash(self.moment)


def _number(seconds: float) -> str:
    """Plain decimal seconds (never an exponent, which no duration syntax reads), to the microsecond."""
    return str(int(seconds)) if seconds == int(seconds) else f"{seconds:.6f}".rstrip("0").rstrip(".")


def now() -> Time:
    """The current time, UTC."""
    return Time(datetime.now(UTC))


def duration(text: Any) -> Duration:
    """A duration in fireline's syntax (`500ms`, `30s`, `5m`, `1h30m`), or a number of seconds."""
    if isinstance(text, Duration):
        return text
    if not isinstance(text, str | int | float) or isinstance(text, bool):
        raise TypeError(f"duration() reads text such as '60m' or a number of seconds, not {_kind(text)}")
    try:
        return Duration(parse_duration(text))
    except ValueError as exc:
        raise ValueError(f"duration(): {exc}") from None


def parse_time(text: Any) -> Time:
    """A time written as RFC 3339 (`2026-12-04T10:00:00Z`, `2026-12-04T11:00:00.5+01:00`)."""
    if isinstance(text, Time):
        return text
    if not isinstance(text, str):
        raise TypeError(f"parse_time() reads text such as '2026-12-04T10:00:00Z', not {_kind(text)}")
    shown = repr(text) if len(text) <= 40 else repr(text[:37] + "...")
    match = _RFC3339.match(text.strip()) if len(text) <= _MAX_TIME_TEXT else None
    if match is None:
        raise ValueError(f"parse_time(): {shown} is not a time such as 2026-12-04T10:00:00Z (RFC 3339)")
    if match.group("zone") is None:
        raise ValueError(f"parse_time(): {shown} has no time zone: add Z for UTC or an offset such as +02:00")
    clock = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), match.group("time"))
    zone = match.group("zone").upper().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(f"{match.group('date')}T{clock}{zone}")
        return Time(moment)
    except (ValueError, OverflowError):
        raise ValueError(f"parse_time(): {shown} is not a valid date and time") from None


# The functions templates may call, by name (the template module installs them; validation knows them).
FUNCTIONS = {"now": now, "duration": duration, "parse_time": parse_time}


def plain(value: Any) -> Any:
    """What a template value becomes once it leaves the template: a time its ISO 8601 text, a duration its
    seconds (an int when whole). Anything else is returned as it is."""
    if isinstance(value, Time):
        return str(value)
    if isinstance(value, Duration):
        return int(value.seconds) if value.seconds == int(value.seconds) else value.seconds
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value
