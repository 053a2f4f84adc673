from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.durations import MAX_DURATION_SECONDS, format_duration, is_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"), [("500ms", 0.5), ("30s", 30), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("1.5s", 1.5)]
)
def test_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "5 minutes", "1d", "-1s", "s"])
def test_rejects(text: str) -> None:
    assert not is_duration(text)
    with pytest.raises(ValueError):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=87_600), st.sampled_from(["ms", "s", "m", "h"]))
def test_round_trip_units(n: int, unit: str) -> None:
    factor = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    assert parse_duration(f"{n}{unit}") == pytest.approx(n * factor)
    assert format_duration(n * factor)


@pytest.mark.parametrize(
    "text", ["99999999999h", "87601h", "87600h1s", "9" * 400 + "s", 10**400, 1e300, float("inf"), float("nan")]
)
def test_longer_than_ten_years_is_refused_with_the_limit(text: str | float) -> None:
    """`99999999999h` used to be accepted and overflow the timer (OverflowError, exit 4) when the step ran."""
    with pytest.raises(ValueError, match=r"at most 87600h \(10 years\)|zero or more"):
        parse_duration(text)
    assert not is_duration(text)
    assert parse_duration("87600h") == MAX_DURATION_SECONDS


def test_a_negative_number_of_seconds_is_not_a_duration() -> None:
    with pytest.raises(ValueError, match="zero or more"):
        parse_duration(-1)
