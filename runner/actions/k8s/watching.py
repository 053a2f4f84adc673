"""List-then-watch a set of objects until a check says done, within a deadline, stoppable at any moment.

The state is a dict of the objects by name, kept current from watch events, and handed to `check` after
the initial list and after every event. Watches run in short windows (server-side timeoutSeconds plus a
client read timeout), so a server that never closes a watch cannot hold the step past its deadline; a
step cancellation shuts the socket down so that a blocked read returns at once.
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from runner.actions.base import ActionContext, Cancelled
from runner.actions.k8s.cluster import Cluster, Obj

# Longest single watch request. Short enough that even if shutting the socket down fails to wake a
# blocked read, cancellation is noticed soon; long enough to cost one request per window.
WATCH_WINDOW = 10.0
# Grace on top of the server's timeoutSeconds before the client gives up reading.
READ_GRACE = 2.0


class Deadline(Exception):
    # A signal between functions, never shown to users.
    """The wait's own deadline passed before `check` was satisfied."""


@dataclass(frozen=True)
class Listing:
    """What to watch: a list function of the client, its positional args and selectors."""

    list_fn: Callable[..., Any]
    args: tuple[Any, ...]
    label_selector: str | None = None
    field_selector: str | None = None

    def selectors(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.label_selector:
            out["label_selector"] = self.label_selector
        if self.field_selector:
            out["field_selector"] = self.field_selector
        return out


class _Current:
    """The watch response being read, so a cancel hook registered once can close whichever is open."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.resp: Any = None

    def set(self, resp: Any) -> None:
        with self.lock:
            self.resp = resp

    def close(self) -> None:
        with self.lock:
            resp = self.resp
        if resp is not None:
            _shutdown(resp)


def watch_until(
    cluster: Cluster, ctx: ActionContext, listing: Listing, until: float, check: Callable[[dict[str, Obj]], bool]
) -> dict[str, Obj]:
    """Return the objects once `check(objects)` is true; raise Deadline at `until` (time.monotonic())."""
    current = _Current()
    ctx.on_cancel(current.close)
    objects, rv = _list(cluster, ctx, listing)
    while not check(objects):
        left = until - time.monotonic()
        if left <= 0:
            raise Deadline()
        resume = _watch_window(cluster, ctx, listing, objects, rv, min(left, WATCH_WINDOW), current, check)
        if resume is None:  # history expired (410): start over from a fresh list
            objects, rv = _list(cluster, ctx, listing)
        else:
            rv = resume
    return objects


def _list(cluster: Cluster, ctx: ActionContext, listing: Listing) -> tuple[dict[str, Obj], str]:
    body = cluster.call(ctx, listing.list_fn, *listing.args, **listing.selectors())
    objects = {item["metadata"]["name"]: item for item in body.get("items") or []}
    return objects, str((body.get("metadata") or {}).get("resourceVersion") or "")


def _watch_window(
    cluster: Cluster,
    ctx: ActionContext,
    listing: Listing,
    objects: dict[str, Obj],
    rv: str,
    window: float,
    current: _Current,
    check: Callable[[dict[str, Obj]], bool],
) -> str | None:
    """Apply events to `objects` for up to `window` seconds; stop early when `check` holds.

    Returns the resourceVersion to resume from, or None when the server says it is too old (410 Gone).
    """
    from urllib3.exceptions import HTTPError

    seconds = max(1, math.ceil(window))
    resp = cluster.open_watch(
        ctx,
        listing.list_fn,
        *listing.args,
        read_timeout=seconds + READ_GRACE,
        resource_version=rv or None,
        timeout_seconds=seconds,
        allow_watch_bookmarks=True,
        **listing.selectors(),
    )
    current.set(resp)
    try:
        for event in _events(resp):
            ctx.check_cancelled()
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    return None
                raise cluster.translate(_status_exception(obj), None, seconds)
            rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
            if kind == "BOOKMARK":
                continue
            name = obj["metadata"]["name"]
            if kind == "DELETED":
                objects.pop(name, None)
            else:
                objects[name] = obj
            if check(objects):
                return rv
    except (HTTPError, OSError):
        # A read timeout or a socket shut down by cancellation ends the window; anything else is retried
        # by the next window, whose request reports a dead server properly.
        if ctx.cancelled.is_set():
            raise Cancelled("step was cancelled") from None
    finally:
        current.set(None)
        _shutdown(resp)
    ctx.check_cancelled()
    return rv


def _events(resp: Any) -> Iterator[Obj]:
    from kubernetes.watch.watch import iter_resp_lines

    for line in iter_resp_lines(resp):  # type: ignore[no-untyped-call]
        if line.strip():
            yield json.loads(line)


def _status_exception(status: Obj) -> Exception:
    from kubernetes.client.exceptions import ApiException

    return ApiException(status=status.get("code"), reason=status.get("reason"), body=json.dumps(status))


def _shutdown(resp: Any) -> None:
    """Close a streaming response so that a read blocked in another thread returns now.

    Closing the file object alone does not wake a thread blocked in recv(); shutting the socket down does.
    """
    sock = getattr(getattr(resp, "connection", None), "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    # Best effort: the response is being thrown away.
    with contextlib.suppress(Exception):
        resp.close()
        resp.release_conn()
