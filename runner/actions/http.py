"""http.request and http.check, on the standard library (no client import cost)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from runner.actions.base import ActionContext, BaseAction, Outcome, Params, Plan, Verdict
from runner.durations import parse_duration
from runner.errors import ActionError
from runner.secrets import shorten

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_BODY = 256 * 1024
_MISSING = object()


def json_path(document: Any, path: str) -> Any:
    """Follow `a.b[0].c` through JSON; returns _MISSING when any part is absent."""
    value = document
    for part in path.replace("]", "").replace("[", ".").split("."):
        if part == "":
            continue
        if isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return _MISSING
    return value


def check_expectations(status: int, body: str, expect: Mapping[str, Any]) -> list[str]:
    """Every unmet expectation, as sentences (empty when all hold)."""
    problems: list[str] = []
    wanted = expect.get("status")
    if wanted is not None:
        allowed = wanted if isinstance(wanted, list) else [wanted]
        if status not in allowed:
            problems.append(f"status {status}, expected {' or '.join(map(str, allowed))}")
    if "body_contains" in expect and str(expect["body_contains"]) not in body:
        problems.append(f"body does not contain {expect['body_contains']!r}")
    if "json" in expect:
        try:
            document = json.loads(body)
        except ValueError:
            return [*problems, "body is not JSON"]
        for path, value in expect["json"].items():
            found = json_path(document, path)
            if found is _MISSING:
                problems.append(f"JSON path {path} is missing")
            elif found != value:
                problems.append(f"JSON path {path} is {found!r}, expected {value!r}")
    return problems


def send(
    url: str, method: str, headers: Mapping[str, str], body: bytes | None, timeout: float
) -> tuple[int, str, dict[str, str]]:
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(MAX_BODY).decode("utf-8", "replace"), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(MAX_BODY).decode("utf-8", "replace"), dict(exc.headers or {})
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ActionError(f"{method} {url} failed: {reason}") from None


class _Http(BaseAction):
    def _target(self, params: Params, ctx: ActionContext) -> tuple[str, dict[str, str]]:
        url = str(params["url"])
        headers: dict[str, str] = {}
        if params.get("connection"):
            conn = ctx.connection(params["connection"], "http")
            if not url.startswith(("http://", "https://")):
                url = str(conn["url"]).rstrip("/") + "/" + url.lstrip("/")
            headers.update(conn.get("headers") or {})
            if conn.get("token"):
                headers["Authorization"] = f"Bearer {conn['token']}"
        headers.update(params.get("headers") or {})
        return url, headers

    def _call(self, params: Params, ctx: ActionContext, method: str) -> Outcome:
        url, headers = self._target(params, ctx)
        body = None
        if "json" in params:
            body = json.dumps(params["json"]).encode()
            headers.setdefault("Content-Type", "application/json")
        elif "body" in params:
            body = str(params["body"]).encode()
        timeout = ctx.budget(parse_duration(params.get("timeout", "10s")), before=f"{method} {url}")
        status, text, _ = send(url, method, headers, body, timeout)
        problems = check_expectations(status, text, params.get("expect") or {})
        # Masked before the cut (only when cut): a cut secret would no longer be recognised whole.
        kept = text if len(text) <= 4096 else shorten(text, 4096, "…", ctx.redact)
        result: dict[str, Any] = {"status": status, "body": kept}
        try:
            result["json"] = json.loads(text) if text.strip()[:1] in ("{", "[") else None
        except ValueError:
            result["json"] = None
        if problems:
            raise ActionError(f"{method} {url}: " + "; ".join(problems))
        return Outcome(result, summary=f"{method} {url} → {status}", changed=method not in SAFE_METHODS)


class Request(_Http):
    name = "http.request"
    mutates = True

    def is_mutating(self, params: Params) -> bool:
        return str(params.get("method", "GET")).upper() not in SAFE_METHODS

    def plan(self, params: Params, ctx: ActionContext) -> Plan:
        method = str(params.get("method", "GET")).upper()
        url, _ = self._target(params, ctx)
        details = [f"{method} {url}"]
        if "json" in params:
            details.append("body: " + json.dumps(params["json"]))
        return Plan(Verdict.WOULD_CHANGE, f"would send {method} {url}", tuple(details))

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        return self._call(params, ctx, str(params.get("method", "GET")).upper())


class Check(_Http):
    name = "http.check"
    idempotent = True

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        return self._call(params, ctx, "GET")
