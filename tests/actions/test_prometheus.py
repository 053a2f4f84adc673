"""prometheus.query / prometheus.wait / alertmanager.alerts against real Prometheus and Alertmanager servers
scraping an exporter whose values the test sets (tests/servers/prometheus.py). No mocks."""

from __future__ import annotations

import math
import os
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from runner.actions.base import ActionContext, Outcome
from runner.actions.prometheus import (
    Alerts,
    Query,
    Wait,
    check_sample,
    evaluate_expect,
    expected_firing,
    is_firing,
    parse_query_answer,
)
from runner.actions.registry import get_action
from runner.document.schemas import check_params_now
from runner.errors import ActionError
from runner.testing import StaticConnections
from tests.conftest import wait_for
from tests.servers.ports import free_port
from tests.servers.prometheus import (
    AlertmanagerServer,
    MetricsExporter,
    PrometheusServer,
    start_alertmanager,
    start_prometheus,
)

RULES = """
groups:
  - name: checkout
    rules:
      - alert: CheckoutErrorRateHigh
        expr: checkout_error_ratio > 0.1
        for: 1s
        labels: {severity: page}
        annotations: {summary: "checkout error ratio {{ $value }}"}
"""
METRIC = "checkout_error_ratio"
LABELS = {"service": "checkout"}


class Lab:
    def __init__(self, exporter: MetricsExporter, prometheus: PrometheusServer, alertmanager: AlertmanagerServer):
        self.exporter = exporter
        self.prometheus = prometheus
        self.alertmanager = alertmanager
        self.lines: list[str] = []

    def set_ratio(self, value: float) -> None:
        """Set the exporter's value and wait until Prometheus has scraped it (twice, to be sure)."""
        self.exporter.set(METRIC, value, labels=LABELS)
        self.exporter.wait_for_scrapes(2)

    def context(self, timeout: float = 30.0, **extra: Mapping[str, Any]) -> ActionContext:
        settings = {
            "prom": {"type": "prometheus", "url": self.prometheus.url, "headers": {"X-Scope-OrgID": "t1"}},
            "am": {"type": "alertmanager", "url": self.alertmanager.url, "token": "not-needed-but-sent"},
            **extra,
        }
        return ActionContext(
            "prom-test", StaticConnections(settings), deadline=time.monotonic() + timeout, emit=self.lines.append
        )

    def query(self, **params: Any) -> Outcome:
        return Query().run({"connection": "prom", **params}, self.context())

    def alerts(self, **params: Any) -> Outcome:
        return Alerts().run({"connection": "am", **params}, self.context())


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    workdir = tmp_path_factory.mktemp("prom")
    with (
        MetricsExporter() as exporter,
        start_alertmanager(workdir) as alertmanager,
        start_prometheus(workdir, [exporter.target], RULES, alertmanager.url) as prometheus,
    ):
        exporter.set(METRIC, 0.0, labels=LABELS)
        prometheus.wait_for_targets_up()
        yield Lab(exporter, prometheus, alertmanager)


# -- prometheus.query ---------------------------------------------------------------------------------------
def test_query_returns_the_scraped_value_and_series(lab: Lab) -> None:
    lab.set_ratio(0.02)
    result = lab.query(query=METRIC).result
    assert result["value"] == pytest.approx(0.02)
    [series] = result["series"]
    assert series["labels"]["service"] == "checkout" and series["labels"]["job"] == "fireline-test"
    assert series["value"] == pytest.approx(0.02)
    scalar = lab.query(query=f"scalar({METRIC}) * 100").result
    assert scalar["value"] == pytest.approx(2.0)


def test_query_expect_passes_and_fails_on_real_values(lab: Lab) -> None:
    lab.set_ratio(0.02)
    ok = lab.query(query=METRIC, expect={"op": "<", "value": 0.05})
    assert ok.result["check"] == "value 0.02 satisfies < 0.05"
    lab.set_ratio(0.3)
    with pytest.raises(ActionError, match=r"checkout_error_ratio: value 0\.3 does not satisfy < 0\.05"):
        lab.query(query=METRIC, expect={"op": "<", "value": 0.05})
    assert lab.query(query=METRIC, expect={"op": ">=", "value": 0.3}).result["value"] == pytest.approx(0.3)


def test_query_template_expectation_is_evaluated_with_the_answer(lab: Lab) -> None:
    lab.set_ratio(0.02)
    assert lab.query(query=METRIC, expect={"that": "{{ value < 0.05 and result.series | length == 1 }}"})
    with pytest.raises(ActionError, match="does not satisfy that"):
        lab.query(query=METRIC, expect={"that": "{{ value > 0.05 }}"})


def test_query_empty_vector_handling_is_explicit(lab: Lab) -> None:
    absent = 'checkout_error_ratio{service="nope"}'
    assert lab.query(query=absent).result == {"value": None, "series": []}
    with pytest.raises(ActionError, match="no samples"):
        lab.query(query=absent, expect={"op": "<", "value": 1})
    assert (
        lab.query(query=absent, expect={"op": ">", "value": 1}, empty="pass").result["check"].startswith("no samples")
    )
    assert lab.query(query=absent, expect={"op": "==", "value": 0}, empty="zero")
    with pytest.raises(ActionError, match="value 0 does not satisfy > 0"):
        lab.query(query=absent, expect={"op": ">", "value": 0}, empty="zero")


def test_query_at_a_time_before_the_data(lab: Lab) -> None:
    assert lab.query(query=METRIC, at="1h").result["series"] == []  # Prometheus started seconds ago
    assert lab.query(query=METRIC, at=time.time()).result["value"] is not None


def test_query_errors_are_plain(lab: Lab) -> None:
    with pytest.raises(ActionError, match=r"Prometheus rejected the query 'sum\(': .*parse error"):
        lab.query(query="sum(")
    with pytest.raises(ActionError, match="range vector") as caught:
        lab.query(query=f"{METRIC}[1m]")
    assert caught.value.hint is not None and "rate(" in caught.value.hint
    dead = {"dead": {"type": "prometheus", "url": f"http://127.0.0.1:{free_port()}"}}
    with pytest.raises(ActionError, match="cannot reach server"):
        Query().run({"connection": "dead", "query": "up"}, lab.context(**dead))


# -- prometheus.wait ----------------------------------------------------------------------------------------
def test_wait_polls_until_the_value_recovers(lab: Lab) -> None:
    lab.set_ratio(0.4)
    threading.Timer(1.5, lambda: lab.exporter.set(METRIC, 0.01, labels=LABELS)).start()
    started = time.monotonic()
    outcome = Wait().run(
        {
            "connection": "prom",
            "query": METRIC,
            "expect": {"op": "<", "value": 0.05},
            "interval": "250ms",
            "timeout": "20s",
        },
        lab.context(),
    )
    assert outcome.result["value"] == pytest.approx(0.01)
    assert outcome.result["attempts"] > 1
    assert 1.5 <= time.monotonic() - started < 15


def test_wait_times_out_with_the_last_value(lab: Lab) -> None:
    lab.set_ratio(0.4)
    started = time.monotonic()
    with pytest.raises(ActionError, match=r"still not < 0\.05 after .*last: value 0\.4 does not satisfy"):
        Wait().run(
            {
                "connection": "prom",
                "query": METRIC,
                "expect": {"op": "<", "value": 0.05},
                "interval": "200ms",
                "timeout": "1s",
            },
            lab.context(),
        )
    assert time.monotonic() - started < 5


def test_wait_honours_the_step_deadline_and_cancel(lab: Lab) -> None:
    lab.set_ratio(0.4)
    params = {"connection": "prom", "query": METRIC, "expect": {"op": "<", "value": 0.05}, "interval": "5s"}
    started = time.monotonic()
    with pytest.raises(ActionError, match="still not"):
        Wait().run(params, lab.context(timeout=1.0))
    assert time.monotonic() - started < 4
    ctx = lab.context()
    threading.Timer(0.5, ctx.cancel).start()
    started = time.monotonic()
    with pytest.raises(ActionError, match="cancelled"):
        Wait().run(params, ctx)
    assert time.monotonic() - started < 3


# -- alertmanager.alerts ------------------------------------------------------------------------------------
def test_alert_fires_and_clears(lab: Lab) -> None:
    lab.set_ratio(0.5)
    wait_for(lambda: lab.alerts(name="CheckoutErrorRateHigh").result["firing"], "alert firing", 30, every=0.2)
    firing = lab.alerts(name="CheckoutErrorRateHigh", labels={"service": "checkout"}, state="firing")
    [alert] = firing.result["alerts"]
    assert alert["labels"]["severity"] == "page" and alert["state"] == "active"
    assert alert["annotations"]["summary"].startswith("checkout error ratio 0.")
    assert lab.alerts(name="CheckoutErrorRateHigh", labels={"service": "payments"}).result == {
        "firing": False,
        "alerts": [],
    }
    with pytest.raises(ActionError, match="is firing, expected resolved"):
        lab.alerts(name="CheckoutErrorRateHigh", state="resolved")

    lab.set_ratio(0.0)
    wait_for(lambda: not lab.alerts(name="CheckoutErrorRateHigh").result["firing"], "alert resolved", 40, every=0.2)
    assert lab.alerts(name="CheckoutErrorRateHigh", expect_firing=False).result["firing"] is False
    with pytest.raises(ActionError, match="is not firing, expected firing"):
        lab.alerts(name="CheckoutErrorRateHigh", state="firing")


# -- pure checks --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "op", "threshold", "holds"),
    [
        (1, "<", 2, True),
        (2, "<", 2, False),
        (2, "<=", 2, True),
        (3, ">", 2, True),
        (2, ">=", 3, False),
        (2, "==", 2.0, True),
        (2, "!=", 2, False),
        (math.nan, "<", 1, False),
        (math.nan, "!=", 1, True),
        (math.inf, ">", 1e300, True),
    ],
)
def test_evaluate_expect(value: float, op: str, threshold: float, holds: bool) -> None:
    assert evaluate_expect(value, {"op": op, "value": threshold}) is holds


def test_check_sample_and_alert_helpers() -> None:
    assert not check_sample(None, {"op": "<", "value": 1}).ok
    assert check_sample(None, {"op": "<", "value": 1}, empty="zero").ok
    assert check_sample(None, {"op": ">", "value": 1}, empty="pass").ok
    with pytest.raises(ActionError, match="unknown comparison"):
        evaluate_expect(1, {"op": "=~", "value": 1})
    alerts = [
        {"labels": {"alertname": "A", "service": "x"}, "status": {"state": "active"}},
        {"labels": {"alertname": "B"}, "status": {"state": "suppressed"}},
    ]
    assert is_firing(alerts, "A") and is_firing(alerts, "A", {"service": "x"})
    assert not is_firing(alerts, "A", {"service": "y"}) and not is_firing(alerts, "B")
    assert is_firing(alerts, "B", include_silenced=True)
    assert expected_firing({"state": "resolved"}) is False and expected_firing({}) is None
    with pytest.raises(ActionError, match="contradicts"):
        expected_firing({"state": "firing", "expect_firing": False})
    nan = parse_query_answer({"resultType": "vector", "result": [{"metric": {}, "value": [0, "NaN"]}]})
    assert nan.as_result()["value"] is None and math.isnan(nan.value or 0.0)


def test_schema_agrees_with_the_actions() -> None:
    assert isinstance(get_action("prometheus.query"), Query)
    assert isinstance(get_action("prometheus.wait"), Wait)
    assert isinstance(get_action("alertmanager.alerts"), Alerts)
    good = {"connection": "p", "query": "up", "expect": {"op": "<", "value": 1}, "empty": "zero", "at": "5m"}
    assert check_params_now("prometheus.query", good) == []
    assert check_params_now("prometheus.query", {**good, "expect": {"op": "~", "value": 1}})
    assert check_params_now("prometheus.query", {**good, "expect": {"op": "<"}})
    assert check_params_now("prometheus.query", {**good, "expect": {"that": "{{ value < 1 }}"}}) == []
    assert check_params_now("prometheus.wait", {"connection": "p", "query": "up"})  # expect is required
    wait = {"connection": "p", "query": "up", "expect": {"op": "==", "value": 1}, "timeout": "2m", "interval": "5s"}
    assert check_params_now("prometheus.wait", wait) == []
    alerts = {"connection": "a", "name": "X", "labels": {"service": "c"}, "state": "resolved"}
    assert check_params_now("alertmanager.alerts", alerts) == []
    assert check_params_now("alertmanager.alerts", {**alerts, "state": "pending"})
    for action in ("prometheus.query", "prometheus.wait", "alertmanager.alerts"):
        assert get_action(action).is_mutating({}) is False


def test_headers_and_token_reach_the_server_without_leaking(lab: Lab, tmp_path: Path) -> None:
    # Prometheus ignores unknown headers; the point is that a configured token never shows in results/logs.
    outcome = lab.alerts(name="Nothing")
    assert "not-needed-but-sent" not in str(outcome.result) + outcome.summary + "".join(lab.lines)


# -- the runbook, end to end through the CLI ----------------------------------------------------------------
REPO = Path(__file__).resolve().parents[2]
FIRELINE = REPO / ".venv" / "bin" / "fireline"


class Traffic:
    """A background 'service': request and latency counters growing every 100ms, errors on demand."""

    def __init__(self, exporter: MetricsExporter) -> None:
        self.exporter = exporter
        self.error_share = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.1):
            errors = round(10 * self.error_share)
            base = {"service": "checkout"}
            self.exporter.inc("http_requests_total", 10 - errors, {**base, "code": "200"})
            self.exporter.inc("http_requests_total", errors, {**base, "code": "500"})
            for le, count in (("0.1", 10), ("0.5", 10), ("+Inf", 10)):
                self.exporter.inc("http_request_duration_seconds_bucket", count, {**base, "le": le})

    def __enter__(self) -> Traffic:
        for code in ("200", "500"):
            self.exporter.set("http_requests_total", 0, {"service": "checkout", "code": code})
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)


def _fireline(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FIRELINE_HOME": str(tmp_path / "home"), "NO_COLOR": "1"}
    return subprocess.run(
        [str(FIRELINE), *args], capture_output=True, text=True, timeout=120, env=env, cwd=REPO, check=False
    )


@pytest.mark.skipif(not FIRELINE.exists(), reason="the fireline CLI is not installed in .venv")
def test_check_error_rate_runbook_end_to_end(lab: Lab, tmp_path: Path) -> None:
    runbook = str(REPO / "runbooks" / "check-error-rate.yaml")
    inputs = [
        "-i",
        "service=checkout",
        "-i",
        f"prometheus_url={lab.prometheus.url}",
        "-i",
        f"alertmanager_url={lab.alertmanager.url}",
        "--output",
        "plain",
    ]
    with Traffic(lab.exporter) as traffic:
        lab.exporter.wait_for_scrapes(4)
        healthy = _fireline(tmp_path, "run", runbook, *inputs)
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
        traffic.error_share = 0.5
        wait_for(
            lambda: (lab.query(query='sum(rate(http_requests_total{code="500"}[5m]))').result["value"] or 0) > 0,
            "errors visible in Prometheus",
            20,
            every=0.2,
        )
        unhealthy = _fireline(tmp_path, "run", runbook, *inputs)
    assert unhealthy.returncode != 0
    output = unhealthy.stdout + unhealthy.stderr
    assert "does not satisfy <= 0.01" in output, output
    assert "above its threshold" in output
