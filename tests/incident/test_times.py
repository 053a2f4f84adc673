"""Times responders type: RFC 3339 with a zone, never in the future; shown with full UTC dates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runner.errors import UsageError
from runner.incident.times import parse_after, parse_when, span, utc

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def test_a_time_with_a_zone_is_read_as_utc() -> None:
    assert parse_when("2026-12-04T10:30:00+01:00", "--started-at", NOW) == datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    assert utc(parse_when("2026-12-04T09:00:00Z", "x", NOW)) == "2026-12-04 09:00:00 UTC"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-12-04T09:00:00", "no time zone"),
        ("2026-12-04 09:00", "no time zone"),
        ("09:00", "RFC 3339"),
        ("", "RFC 3339"),
        ("2026-02-30T09:00:00Z", "not a valid date"),
        ("2026-12-04T10:10:00Z", "in the future"),
        ("9" * 5000, "RFC 3339"),
        ("0001-01-01T00:00:00Z", "before 1970"),  # shown as '1-01-01' and out of range in zones east of UTC
        ("1969-12-31T23:59:59Z", "before 1970"),
    ],
)
def test_ambiguous_or_impossible_times_are_refused(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_when(text, "--started-at", NOW)


def test_durations_and_spans() -> None:
    assert parse_after("30m", "--next-update") == 1800
    for bad in ("0s", "soon", "-5m"):
        with pytest.raises(UsageError):
            parse_after(bad, "--next-update")
    assert (span(0.2), span(45), span(3 * 3600 + 20 * 60), span(2 * 86400 + 4 * 3600)) == ("0s", "45.0s", "3h20m",
                                                                                            "2d04h")  # fmt: skip
