"""Templates have a time budget and a size budget: a template that validates can still loop for minutes or
build gigabytes; it must fail fast, as a TemplateError naming the template, and fail only its step."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from runner.sandbox import SIZE_BUDGET, TIME_BUDGET_SECONDS
from runner.templating import TemplateError, render_string
from tests.conftest import write

CONTEXT = {"inputs": {"n": 3, "name": "api"}}

SLOW = [
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    # No call inside the loops: only the loop itself can notice the time.
    "{% set r = range(100000)|list %}{% for i in r %}{% for j in r %}{% endfor %}{% endfor %}",
    "{% set r = range(100000)|list %}{{ r|map('string')|map('upper')|join|length }}{% for i in r %}"
    "{{ r|select('odd')|list|length }}{% endfor %}",
]
LARGE = [
    "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    "{{ 'x' * 10**10 }}",
    "{{ [1] * 10**9 }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ '%0999999999d'|format(1) }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ 'x'.ljust(10**9) }}",
    "{{ 'x'|center(10**9) }}",
    "{{ ('a' * 100000)|replace('a', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb') }}",
    "{{ range(100000)|join('x' * 100) }}",
    "{{ lipsum(10**6) }}",
    "{{ 7 ** 1000000 }}",
    "{% set ns = namespace(x='a') %}{% for i in range(40) %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}{{ ns.x|length }}",
    "{% set ns = namespace(x='a') %}{% for i in range(40) %}{% set ns.x = ns.x + ns.x %}{% endfor %}{{ ns.x|length }}",
]


@pytest.mark.parametrize("template", SLOW)
def test_a_template_past_its_time_budget_fails_with_a_template_error(template: str) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateError, match=r"was refused by the sandbox: it ran longer than 2s") as caught:
        render_string(template, CONTEXT)
    assert time.monotonic() - started < TIME_BUDGET_SECONDS + 5
    assert str(caught.value).startswith("template ") and "{% " in str(caught.value)


@pytest.mark.parametrize("template", LARGE)
def test_a_template_past_its_size_budget_fails_before_building_the_value(template: str) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateError, match=r"refused by the sandbox: .*(size budget|integer of more than)"):
        render_string(template, CONTEXT)
    assert time.monotonic() - started < TIME_BUDGET_SECONDS + 5


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ range(10**9)|list|length }}", "Range too big"),  # the sandbox's OverflowError
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "RecursionError"),
        ("{{ 2.0 ** 10000 }}", "out of range"),
    ],
)
def test_the_sandboxs_own_failures_are_template_errors(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        render_string(template, CONTEXT)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ inputs.n > 1 and [1, 2]|length == 2 }}", True),
        ("a {{ inputs.name ~ '-x' }} b", "a api-x b"),
        (
            "{% for x in [1, 2, 3] %}{{ loop.index }}/{{ loop.length }}{% if loop.last %}!{% endif %}{% endfor %}",
            "1/32/33/3!",
        ),
        ("{{ '%s-%d'|format('a', 3) }}", "a-3"),
        ("{{ 'a-{}'.format(3) }}", "a-3"),
        ("{{ 'x' * 1000 }}", "x" * 1000),
        ("{{ [3, 1, 2]|sort|join(',') }}", "1,2,3"),
        ("{{ range(5)|map('string')|join }}", "01234"),
        ("{{ 2 ** 64 }}", 2**64),
        ("{{ ('ab' * 10)|replace('a', 'xyz')|length }}", 40),
    ],
)
def test_ordinary_templates_render_as_before(template: str, expected: Any) -> None:
    assert render_string(template, CONTEXT) == expected


def test_output_up_to_the_size_budget_is_fine() -> None:
    assert len(render_string("{% for i in range(1000) %}{{ 'y' * 999 }}{% endfor %}", CONTEXT)) == 999_000
    assert SIZE_BUDGET > 999_000


def test_a_step_whose_template_is_past_a_budget_fails_alone_and_the_journal_says_so(tmp_path: Path, cli) -> None:
    path = write(
        tmp_path / "rb.yaml",
        """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: budget}
steps:
  - id: count
    action: control.assert
    with: {that: "{{ range(10**9)|list|length }}"}
    on_failure: continue
  - id: spin
    action: control.assert
    with: {that: "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}true"}
    on_failure: continue
  - id: after
    action: control.assert
    with: {that: "{{ true }}"}
""",
    )
    assert cli("validate", str(path)).code == 0
    result = cli("run", str(path), "--output", "json")
    assert "Traceback" not in result.out + result.err and "internal error" not in result.err
    assert result.code in (0, 1)
    run_id = result.json()["run_id"]
    shown = cli("runs", "show", run_id, "--json").json()["events"]
    failed = {e["step_id"]: e["data"]["error"] for e in shown if e["type"] == "step.failed"}
    assert "Range too big" in failed["count"]
    assert "it ran longer than 2s, the time budget of a template" in failed["spin"]
    assert [e["step_id"] for e in shown if e["type"] == "step.succeeded"] == ["after"]
    assert shown[-1]["type"] == "run.finished"
