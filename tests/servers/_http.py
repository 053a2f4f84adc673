"""Tiny JSON-over-HTTP client (stdlib only) used by the helpers and smoke tests."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class HttpError(RuntimeError):
    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        super().__init__(f"{method} {url} -> HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body


def request_json(
    method: str,
    url: str,
    payload: Any = None,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> Any:
    """Send `payload` as JSON (if not None); return the decoded JSON answer (None for an empty body)."""
    data = None if payload is None else json.dumps(payload).encode()
    all_headers = {"Accept": "application/json", **(headers or {})}
    if data is not None:
        all_headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
    except urllib.error.HTTPError as err:
        raise HttpError(method, url, err.code, err.read().decode(errors="replace")) from None
    return json.loads(body) if body.strip() else None


def get_json(url: str, *, headers: dict[str, str] | None = None, timeout: float = 10.0) -> Any:
    return request_json("GET", url, headers=headers, timeout=timeout)
