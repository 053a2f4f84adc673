"""Time in templates: now(), duration(), parse_time() inside the sandbox; what leaves a template is plain JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.templating import TemplateError, evaluate, render_string
from tests.conftest import write

aware_times = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))
offsets = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
seconds = st.integers(0, 315_360_000)  # up to the longest duration fireline accepts (10 years)


def rfc3339(moment: datetime) -> str:
    return moment.isoformat()


@settings(max_examples=200, deadline=None)
@given(aware_times, offsets)
def test_a_time_read_back_from_its_text_is_the_same_instant(moment: datetime, zone: timezone) -> None:
    text = rfc3339(moment.astimezone(zone))
    shown = evaluate("parse_time(t)", {"t": text})
    assert isinstance(shown, str) and shown.endswith("Z")  # it leaves the template as UTC text
    assert datetime.fromisoformat(shown) == moment
    assert evaluate("parse_time(t) == parse_time(u)", {"t": text, "u": shown}) is True


@settings(max_examples=200, deadline=None)
@given(aware_times, aware_times)
def test_ordering_and_difference_agree_with_python_datetime(a: datetime, b: datetime) -> None:
    context = {"a": a.isoformat(), "b": b.isoformat()}
    assert evaluate("parse_time(a) < parse_time(b)", context) is (a < b)
    assert evaluate("parse_time(a) >= parse_time(b)", context) is (a >= b)
    assert evaluate("parse_time(a) - parse_time(b)", context) == pytest.approx((a - b).total_seconds())


@settings(max_examples=200, deadline=None)
@given(aware_times, seconds, seconds)
def test_duration_arithmetic(moment: datetime, x: int, y: int) -> None:
    context = {"t": moment.isoformat(), "x": f"{x}s", "y": f"{y}s"}
    assert evaluate("(parse_time(t) + duration(x)) - parse_time(t) == duration(x)", context) is True
    assert evaluate("duration(x) + duration(y) - duration(y) == duration(x)", context) is True
    assert evaluate("duration(x) * 2 == duration(x) + duration(x)", context) is True
    assert evaluate("(duration(x) < duration(y)) == (duration(y) > duration(x))", context) is True
    assert evaluate("duration(x) < duration(y)", context) is (x < y)
    shifted = evaluate("parse_time(t) - duration(x)", context)
    assert datetime.fromisoformat(shifted) == moment - timedelta(seconds=x)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 315_360_000_000))
def test_a_duration_read_back_from_its_text_is_the_same(milliseconds: int) -> None:
    text = evaluate("duration(d) | string", {"d": f"{milliseconds}ms"})
    assert text.endswith("s") and "e" not in text
    assert evaluate("duration(t) == duration(d)", {"t": text, "d": f"{milliseconds}ms"}) is True
    assert evaluate("duration(d)", {"d": f"{milliseconds}ms"}) == pytest.approx(milliseconds / 1000)


NEAR_TIMES = r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d{1,12})?)?[Zz+-]?.{0,8}"  # almost RFC 3339, often not


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=80), st.from_regex(NEAR_TIMES)))
def test_hostile_text_is_a_template_error_or_a_time(text: str) -> None:
    try:
        value = evaluate("parse_time(t)", {"t": text})
    except TemplateError as exc:
        assert "parse_time()" in str(exc)
    else:
        assert datetime.fromisoformat(value).tzinfo is not None


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("parse_time('2026-12-04T10:00:00')", "has no time zone: add Z for UTC"),
        ("parse_time('2026-12-04')", "is not a time such as 2026-12-04T10:00:00Z"),
        ("parse_time('2026-02-30T10:00:00Z')", "is not a valid date and time"),
        ("parse_time('9999-12-31T23:59:59-23:59')", "is not a valid date and time"),
        ("parse_time(42)", "parse_time() reads text"),
        ("parse_time('2026-12-04T10:00:00Z') < '2026-12-05'", "read a time with parse_time()"),
        ("now() + now()", "two times cannot be added"),
        ("duration('soon')", "not a duration: 'soon'"),
        ("duration('1h') * 'x'", "multiplied by a number"),
        ("now() + duration('87600h') * 900", "falls outside the years 1 to 9999"),
        ("duration('87600h') * 1e308 * 10", "finite number of seconds"),
        ("parse_time('x' * 2000000)", "size budget"),
    ],
)
def test_mistakes_are_template_errors(expression: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        evaluate(expression, {})
    assert message in str(caught.value)


def test_now_is_utc_and_values_leave_templates_as_plain_json() -> None:
    before = datetime.now(UTC)
    now = evaluate("now()", {})
    assert now.endswith("Z") and before <= datetime.fromisoformat(now) <= datetime.now(UTC)
    assert evaluate("duration('1h30m')", {}) == 5400 and evaluate("duration('500ms')", {}) == 0.5
    k8s = "2026-12-04T10:00:00Z"
    assert render_string("deployed {{ parse_time(t) }}, {{ duration('2m') }} ago", {"t": k8s}) == (
        "deployed 2026-12-04T10:00:00Z, 120s ago"
    )
    assert json.loads(json.dumps(evaluate("[parse_time(t), duration('1m')]", {"t": k8s}))) == [k8s, 60]
    # A duration that left a template (seconds) still compares with one inside it.
    assert evaluate("d < duration('1h') and d > 60", {"d": 600}) is True
    assert evaluate("(parse_time(t) - parse_time('2026-12-04T09:00:00Z')).minutes", {"t": k8s}) == 60


def test_shell_commands_get_the_text_of_a_time(tmp_path: Path) -> None:
    line = render_string("echo {{ parse_time(t) + duration('1h') }}", {"t": "2026-12-04T10:00:00+01:00"}, shell=True)
    assert line == "echo 2026-12-04T10:00:00Z"


RUNBOOK = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: recent-deploy}
inputs:
  deployed_at: {type: string, required: true}
steps:
  - id: decide
    action: control.sleep
    with: {duration: 0s}
    outputs:
      age: "{{ now() - parse_time(inputs.deployed_at) }}"
      recent: "{{ now() - parse_time(inputs.deployed_at) < duration('1h') }}"
      since: "{{ parse_time(inputs.deployed_at) }}"
  - id: report
    action: control.assert
    with: {that: "{{ steps.decide.outputs.recent and steps.decide.outputs.age < duration('1h') }}"}
"""


def test_a_runbook_uses_time_functions_validated_and_journalled(tmp_path: Path, cli, fireline_home: Any) -> None:
    path = write(tmp_path / "recent.yaml", RUNBOOK)
    checked = cli("validate", str(path))
    assert checked.code == 0, checked.out  # the functions are known names, not unknown variables
    ten_minutes_ago = (datetime.now(UTC) - timedelta(minutes=10)).replace(microsecond=0)
    result = cli("run", str(path), "-i", f"deployed_at={ten_minutes_ago.isoformat()}", "--output", "json")
    assert result.code == 0, result.out
    outputs = {step["id"]: step.get("outputs") for step in result.json()["steps"]}["decide"]
    assert outputs["recent"] is True and 600 <= outputs["age"] < 3600
    assert outputs["since"] == ten_minutes_ago.isoformat().replace("+00:00", "Z")
    old = cli("run", str(path), "-i", "deployed_at=2020-01-01T00:00:00Z", "--output", "json")
    assert old.code == 1  # the assertion on a two-year-old deployment fails, as a step failure
    naive = cli("run", str(path), "-i", "deployed_at=2026-12-04T10:00:00", "--output", "plain")
    assert naive.code == 1 and "has no time zone" in naive.out + naive.err
    assert "Traceback" not in naive.out + naive.err
