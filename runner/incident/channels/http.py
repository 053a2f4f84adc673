"""One JSON request over HTTP(S), as the web channels need it: bounded in time and in what is read, never
following a redirect (a redirect would carry the body, and a status page's key, somewhere else), and turned
into an `Answer` that says whether trying again makes sense (429, Statuspage's old 420, 5xx, no connection)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from runner.incident.channels.base import DETAIL_LIMIT, MAX_BODY, Answer
from runner.secrets import shorten

USER_AGENT = "fireline"
RETRY_STATUSES = frozenset({420, 429})  # 420: Statuspage's rate limit before 2021


@dataclass(frozen=True)
class Reply:
    status: int
    body: str
    retry_after: float | None


def request(method: str, url: str, body: Any, headers: Mapping[str, str], timeout_s: float) -> Reply | Answer:
    """Send `body` as JSON; the reply, or the Answer of a request that got none (retry)."""
    import http.client
    import urllib.error
    import urllib.request

    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    sent = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT, **headers}
    req = urllib.request.Request(url, data=data, method=method, headers=sent)
    opener = urllib.request.build_opener(_no_redirect_handler())
    try:
        with opener.open(req, timeout=timeout_s) as resp:
            return Reply(resp.status, _text(resp.read(MAX_BODY)), None)
    except urllib.error.HTTPError as err:
        with err:
            text = _text(err.read(MAX_BODY)) if err.fp is not None else ""
        return Reply(err.code, text, retry_after(err.headers.get("Retry-After") if err.headers else None))
    except urllib.error.URLError as err:
        return Answer(False, f"cannot connect: {err.reason}", retry=True)
    except (OSError, http.client.HTTPException) as err:  # connected, then no (whole) answer: a timeout, a reset
        return Answer(False, f"no answer: {type(err).__name__}: {err}", retry=True)


def answer(reply: Reply, error_text: str | None = None) -> Answer:
    """A reply as an Answer: 2xx delivered; 420/429/5xx worth a retry; anything else is final."""
    if 200 <= reply.status < 300:
        return Answer(True, f"HTTP {reply.status}")
    said = error_text if error_text is not None else first_line(reply.body)
    detail = f"HTTP {reply.status}" + (f": {said}" if said else "")
    if 300 <= reply.status < 400:
        detail += " (redirects are not followed)"
    retry = reply.status in RETRY_STATUSES or reply.status >= 500
    return Answer(False, detail, retry=retry, retry_after=reply.retry_after if retry else None)


def json_error(body: str) -> str | None:
    """The message of a JSON error body ({"error": ...} or {"message": ...}), else None."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, Mapping):
        for key in ("error", "message", "errors"):
            value = data.get(key)
            if value:
                return first_line(value if isinstance(value, str) else json.dumps(value))
    return None


def first_line(text: str) -> str:
    return shorten(next((s.strip() for s in text.splitlines() if s.strip()), ""), DETAIL_LIMIT)


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (a number of seconds, or an HTTP date)."""
    if not value:
        return None
    from email.utils import parsedate_to_datetime

    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


@cache
def _no_redirect_handler() -> Any:
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None  # the 3xx reaches the caller as an HTTPError

    return NoRedirect
