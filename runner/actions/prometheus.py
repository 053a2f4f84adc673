"""prometheus.query, prometheus.wait and alertmanager.alerts: read-only checks over the HTTP APIs.

The checks are small pure functions (`evaluate_expect`, `check_sample`, `matching_alerts`, `is_firing`) so
game-day detection and guardrails can reuse them without an ActionContext. Standard library only.
"""

from __future__ import annotations

import json
import math
import operator
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from runner.actions.base import ActionContext, BaseAction, Outcome, Params
from runner.durations import is_duration, parse_duration
from runner.errors import ActionError, StepTimeout

DEFAULT_HTTP_TIMEOUT = 10.0
DEFAULT_WAIT_TIMEOUT = 300.0
DEFAULT_WAIT_INTERVAL = 5.0


# -- HTTP (shared with runner.actions.flags) ----------------------------------------------------------------
class HttpStatusError(ActionError):
    """The server answered with an error status; `status` and the server's own message are kept."""

    def __init__(self, message: str, status: int, body: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.body = body


class ServerUnreachable(ActionError):
    """No HTTP answer at all (refused, timed out, DNS): worth retrying in a polling loop."""


def http_json(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    timeout: float = DEFAULT_HTTP_TIMEOUT,
) -> Any:
    """One JSON request. Errors name the method and URL, never the headers (they carry tokens)."""
    data = None if body is None else json.dumps(body).encode()
    all_headers = {"Accept": "application/json", **(headers or {})}
    if data is not None:
        all_headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=max(timeout, 0.05)) as response:
            raw = response.read()
    except urllib.error.HTTPError as err:
        text = err.read().decode(errors="replace")
        raise HttpStatusError(f"{method} {url}: HTTP {err.code}: {_server_message(text)}", err.code, text) from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise ServerUnreachable(f"{method} {url}: cannot reach server: {reason}") from None
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise ActionError(f"{method} {url}: answer is not JSON: {raw[:200]!r}") from None


def _server_message(text: str) -> str:
    """The useful part of an error body: Prometheus `error`, Unleash `message`/`details`, else the start."""
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:300] or "(empty body)"
    if isinstance(data, dict):
        details = data.get("details")
        if isinstance(details, list) and details and isinstance(details[0], dict):
            return str(details[0].get("message") or details[0].get("description") or data)[:300]
        for key in ("error", "message"):
            if data.get(key):
                return str(data[key])[:300]
    return text[:300]


def _http_settings(ctx: ActionContext, connection: str, family: str) -> tuple[str, dict[str, str]]:
    settings = ctx.connection(connection, family)
    headers = {str(k): str(v) for k, v in (settings.get("headers") or {}).items()}
    if settings.get("token"):
        headers["Authorization"] = f"Bearer {settings['token']}"
    return str(settings["url"]).rstrip("/"), headers


def _request_timeout(ctx: ActionContext, url: str) -> float:
    return ctx.budget(DEFAULT_HTTP_TIMEOUT, before=f"asking {url}")


# -- expectations (pure) ------------------------------------------------------------------------------------
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def evaluate_expect(value: float, expect: Mapping[str, Any]) -> bool:
    """True when `value <op> expect.value` holds. NaN never satisfies anything but `!=`, as in IEEE."""
    compare = OPERATORS.get(str(expect.get("op")))
    if compare is None:
        raise ActionError(f"unknown comparison {expect.get('op')!r}", hint=f"use one of {' '.join(OPERATORS)}")
    return compare(float(value), float(expect["value"]))


@dataclass(frozen=True)
class Check:
    """The verdict of one expectation over a query answer, with a sentence saying why."""

    ok: bool
    message: str


def describe_expect(expect: Mapping[str, Any]) -> str:
    if "that" in expect:
        return f"that {expect['that']}"
    return f"{expect.get('op')} {expect.get('value')}"


def check_sample(
    value: float | None,
    expect: Mapping[str, Any],
    empty: str = "fail",
    that: Callable[[float | None], bool] | None = None,
) -> Check:
    """Apply `expect` to the first sample of a query. `empty` says what an empty vector means:
    fail (the check fails), pass (the check passes), zero (compare 0 instead).

    `that` evaluates a template expectation (see `Query`); an {op, value} expectation needs none.
    """
    if value is None:
        if empty == "pass":
            return Check(True, "no samples (empty: pass)")
        if empty != "zero":
            return Check(False, "the query returned no samples (set `empty: zero` or `empty: pass` if expected)")
        value = 0.0
    wanted = describe_expect(expect)
    if "that" in expect:
        holds = bool(expect["that"]) if that is None else that(value)
    else:
        holds = evaluate_expect(value, expect)
    return Check(holds, f"value {_fmt(value)} {'satisfies' if holds else 'does not satisfy'} {wanted}")


def _fmt(value: float) -> str:
    return f"{value:.6g}"


# -- Prometheus answers -------------------------------------------------------------------------------------
def _sample_value(raw: str) -> float:
    return float(raw)  # Prometheus writes "NaN", "+Inf", "-Inf": float() reads all of them


def _json_number(value: float) -> float | None:
    # result must be plain JSON: NaN and infinities have no JSON spelling, so they become null.
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class QueryAnswer:
    """An instant query's answer: every series, and the first sample as `value` (None when empty)."""

    series: list[dict[str, Any]]
    value: float | None

    def as_result(self) -> dict[str, Any]:
        return {"value": None if self.value is None else _json_number(self.value), "series": self.series}


def parse_query_answer(data: Mapping[str, Any]) -> QueryAnswer:
    """Turn `/api/v1/query` data into a QueryAnswer; a range vector is refused with a hint."""
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list):
        value = _sample_value(result[1])
        return QueryAnswer([{"labels": {}, "value": _json_number(value), "raw": result[1]}], value)
    if kind == "vector" and isinstance(result, list):
        series = [
            {
                "labels": dict(s.get("metric", {})),
                "value": _json_number(_sample_value(s["value"][1])),
                "raw": s["value"][1],
            }
            for s in result
        ]
        first = _sample_value(result[0]["value"][1]) if result else None
        return QueryAnswer(series, first)
    shown = "range vector (matrix)" if kind == "matrix" else str(kind)
    raise ActionError(
        f"the query returned a {shown}, not an instant vector or scalar",
        hint="wrap a range selector in a function, e.g. rate(x[5m]) or max_over_time(x[5m])",
    )


def _query_time(at: Any) -> str:
    """`at` as Prometheus' `time` parameter: a duration means that long ago; else unix time or RFC 3339."""
    if isinstance(at, str) and is_duration(at):
        return f"{time.time() - parse_duration(at):.3f}"
    if isinstance(at, datetime):
        return at.isoformat()
    return str(at)


def run_query(ctx: ActionContext, connection: str, query: str, at: Any = None) -> QueryAnswer:
    url, headers = _http_settings(ctx, connection, "prometheus")
    form = {"query": query}
    if at is not None:
        form["time"] = _query_time(at)
    try:
        answer = http_json(
            "GET",
            f"{url}/api/v1/query?{urllib.parse.urlencode(form)}",
            headers=headers,
            timeout=_request_timeout(ctx, url),
        )
    except HttpStatusError as err:
        if err.status in (400, 422):  # a bad expression: say so plainly, with Prometheus' words
            raise ActionError(f"Prometheus rejected the query {query!r}: {_server_message(err.body)}") from None
        raise
    if not isinstance(answer, dict) or answer.get("status") != "success":
        raise ActionError(f"Prometheus answered without success: {str(answer)[:300]}")
    return parse_query_answer(answer["data"])


def _that_evaluator(expect: Mapping[str, Any], answer: QueryAnswer) -> Callable[[float | None], bool] | None:
    """A template expectation the engine left unrendered (it needs `result`) is evaluated here."""
    that = expect.get("that")
    if not isinstance(that, str):
        return None

    def evaluate(value: float | None) -> bool:
        from runner.templating import evaluate as evaluate_template

        context = {"result": {**answer.as_result(), "value": value}, "value": value}
        return bool(evaluate_template(that, context))

    return evaluate


def _warn_many_series(ctx: ActionContext, answer: QueryAnswer) -> None:
    if len(answer.series) > 1:
        ctx.log(
            f"note: {len(answer.series)} series returned; the expectation checks the first "
            f"({answer.series[0]['labels']}). Aggregate (sum/max) to be explicit."
        )


def _check_answer(params: Params, answer: QueryAnswer) -> Check:
    expect = params["expect"]
    return check_sample(answer.value, expect, str(params.get("empty", "fail")), _that_evaluator(expect, answer))


# -- actions ------------------------------------------------------------------------------------------------
class Query(BaseAction):
    """Instant query; with `expect`, the step fails unless the first sample satisfies it."""

    name: ClassVar[str] = "prometheus.query"
    mutates: ClassVar[bool] = False
    idempotent: ClassVar[bool] = True

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        answer = run_query(ctx, params["connection"], params["query"], params.get("at"))
        result = answer.as_result()
        shown = "no samples" if answer.value is None else _fmt(answer.value)
        ctx.log(f"{params['query']} = {shown} ({len(answer.series)} series)")
        if "expect" not in params:
            return Outcome(result=result, summary=f"{params['query']} = {shown}", changed=False)
        _warn_many_series(ctx, answer)
        check = _check_answer(params, answer)
        if not check.ok:
            raise ActionError(f"{params['query']}: {check.message}")
        return Outcome(result={**result, "check": check.message}, summary=check.message, changed=False)


class Wait(BaseAction):
    """Poll an instant query until `expect` holds, or fail at the timeout with the last value."""

    name: ClassVar[str] = "prometheus.wait"
    mutates: ClassVar[bool] = False
    idempotent: ClassVar[bool] = True

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        timeout = parse_duration(params.get("timeout", DEFAULT_WAIT_TIMEOUT))
        interval = parse_duration(params.get("interval", DEFAULT_WAIT_INTERVAL))
        started = time.monotonic()
        deadline = started + ctx.budget(timeout, before=f"waiting for {params['query']}")
        attempts, last = 0, "no answer yet"
        while True:
            ctx.check_cancelled()
            attempts += 1
            try:
                answer = run_query(ctx, params["connection"], params["query"])
                check = _check_answer(params, answer)
            except StepTimeout:
                if attempts == 1:
                    raise
                # The step's deadline ended the wait while it slept: say how the wait ended, as at its own end.
                raise StepTimeout(_still_not(params, time.monotonic() - started, attempts - 1, last)) from None
            except (ServerUnreachable, HttpStatusError) as err:
                # A restart or a 5xx hiccup of Prometheus is not an answer: keep polling. 4xx is final.
                if isinstance(err, HttpStatusError) and err.status < 500:
                    raise
                check, answer = Check(False, str(err)), None
            elapsed = time.monotonic() - started
            ctx.log(f"[{attempts}] {elapsed:.1f}s: {check.message}")
            if check.ok and answer is not None:
                result = {**answer.as_result(), "attempts": attempts, "elapsed_s": round(elapsed, 3)}
                return Outcome(result=result, summary=f"after {elapsed:.1f}s: {check.message}", changed=False)
            last = check.message
            left = deadline - time.monotonic()
            if left <= 0:
                raise ActionError(_still_not(params, elapsed, attempts, last))
            ctx.sleep(min(interval, left))


def _still_not(params: Params, elapsed: float, attempts: int, last: str) -> str:
    return (
        f"{params['query']}: still not {describe_expect(params['expect'])} after "
        f"{elapsed:.1f}s ({attempts} checks); last: {last}"
    )


# -- Alertmanager -------------------------------------------------------------------------------------------
def alert_matches(alert: Mapping[str, Any], name: str, labels: Mapping[str, str] | None = None) -> bool:
    """Same alertname and every given label equal (exact match, as Alertmanager's `=` matcher)."""
    have = alert.get("labels") or {}
    if have.get("alertname") != name:
        return False
    return all(have.get(key) == str(value) for key, value in (labels or {}).items())


def is_active(alert: Mapping[str, Any], include_silenced: bool = False) -> bool:
    """Firing: Alertmanager state `active`; silenced/inhibited (`suppressed`) alerts count only on request."""
    state = (alert.get("status") or {}).get("state")
    return state == "active" or (include_silenced and state == "suppressed")


def matching_alerts(
    alerts: Iterable[Mapping[str, Any]],
    name: str,
    labels: Mapping[str, str] | None = None,
    include_silenced: bool = False,
) -> list[Mapping[str, Any]]:
    return [a for a in alerts if alert_matches(a, name, labels) and is_active(a, include_silenced)]


def is_firing(
    alerts: Iterable[Mapping[str, Any]],
    name: str,
    labels: Mapping[str, str] | None = None,
    include_silenced: bool = False,
) -> bool:
    """The detection signal: at least one matching alert is firing."""
    return bool(matching_alerts(alerts, name, labels, include_silenced))


def _matcher(key: str, value: str) -> str:
    return f"{key}={json.dumps(str(value))}"


def fetch_alerts(ctx: ActionContext, connection: str, name: str, labels: Mapping[str, str]) -> list[Any]:
    """GET /api/v2/alerts filtered server-side by alertname and labels (the client filter re-checks)."""
    url, headers = _http_settings(ctx, connection, "alertmanager")
    query = [("active", "true"), ("silenced", "true"), ("inhibited", "true")]
    query += [("filter", _matcher(k, v)) for k, v in {"alertname": name, **labels}.items()]
    answer = http_json(
        "GET",
        f"{url}/api/v2/alerts?{urllib.parse.urlencode(query)}",
        headers=headers,
        timeout=_request_timeout(ctx, url),
    )
    if not isinstance(answer, list):
        raise ActionError(f"Alertmanager answered with {type(answer).__name__}, expected a list of alerts")
    return answer


def _summarise_alert(alert: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "labels": dict(alert.get("labels") or {}),
        "annotations": dict(alert.get("annotations") or {}),
        "state": (alert.get("status") or {}).get("state"),
        "starts_at": alert.get("startsAt"),
        "fingerprint": alert.get("fingerprint"),
        "generator_url": alert.get("generatorURL"),
    }


def expected_firing(params: Params) -> bool | None:
    """What the step asserts: `state` (firing|resolved) or `expect_firing`; None = just report."""
    by_state = None if "state" not in params else params["state"] == "firing"
    by_flag = params.get("expect_firing")
    if by_state is not None and by_flag is not None and by_state != by_flag:
        raise ActionError(f"state: {params['state']} contradicts expect_firing: {str(by_flag).lower()}")
    return by_state if by_state is not None else by_flag


class Alerts(BaseAction):
    """Is an alert firing? Optionally fail the step unless it is (state: firing) or is not (resolved)."""

    name: ClassVar[str] = "alertmanager.alerts"
    mutates: ClassVar[bool] = False
    idempotent: ClassVar[bool] = True

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        labels = {str(k): str(v) for k, v in (params.get("labels") or {}).items()}
        include_silenced = bool(params.get("include_silenced", False))
        raw = fetch_alerts(ctx, params["connection"], params["name"], labels)
        matched = matching_alerts(raw, params["name"], labels, include_silenced)
        firing = bool(matched)
        result = {"firing": firing, "alerts": [_summarise_alert(a) for a in matched]}
        what = params["name"] + ("{" + ",".join(_matcher(k, v) for k, v in labels.items()) + "}" if labels else "")
        summary = f"{what}: {'firing (' + str(len(matched)) + ')' if firing else 'not firing'}"
        ctx.log(summary)
        wanted = expected_firing(params)
        if wanted is not None and wanted != firing:
            raise ActionError(
                f"{what} is {'firing' if firing else 'not firing'}, expected {'firing' if wanted else 'resolved'}"
            )
        return Outcome(result=result, summary=summary, changed=False)
