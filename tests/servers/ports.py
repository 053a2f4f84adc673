"""Free loopback ports and readiness polling shared by the server helpers."""

from __future__ import annotations

import contextlib
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable

LOOPBACK = "127.0.0.1"


class ServerNotReady(RuntimeError):
    """A server did not become reachable before its deadline."""


def free_port() -> int:
    """A port the kernel just handed out on 127.0.0.1.

    The socket is closed before returning, so another process could in theory take the port before the
    server binds it; ephemeral ports are handed out round-robin, so that race is rare in practice, and
    the helpers retry a start on a fresh port when a bind fails.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    host: str,
    port: int,
    timeout: float = 10.0,
    *,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Block until a TCP connect to host:port succeeds.

    `alive`, when given, is polled too so that a server process that died (bad config, port taken) fails
    the wait at once instead of after the whole timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        if alive is not None and not alive():
            raise ServerNotReady(f"process serving {host}:{port} exited before it listened")
        if time.monotonic() >= deadline:
            raise ServerNotReady(f"nothing listening on {host}:{port} after {timeout:.1f}s")
        time.sleep(0.02)


def _default_ok(status: int, body: bytes) -> bool:
    return 200 <= status < 300


def wait_for_http(
    url: str,
    timeout: float = 30.0,
    ok: Callable[[int, bytes], bool] | None = None,
    *,
    alive: Callable[[], bool] | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """Poll `url` with GET until `ok(status, body)` is true (default: any 2xx); return the body.

    Connection errors and non-2xx answers are both treated as "not yet": servers such as Prometheus
    listen before they are ready and answer 503 on /-/ready meanwhile.
    """
    check = ok or _default_ok
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        request = urllib.request.Request(url, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=2.0) as resp:
                body = bytes(resp.read())
                if check(resp.status, body):
                    return body
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as err:
            body = err.read()
            if check(err.code, body):
                return body
            last = f"HTTP {err.code}: {body[:200]!r}"
        except (OSError, urllib.error.URLError) as err:
            last = repr(err)
        if alive is not None and not alive():
            raise ServerNotReady(f"process serving {url} exited before it was ready (last: {last})")
        if time.monotonic() >= deadline:
            raise ServerNotReady(f"{url} not ready after {timeout:.1f}s (last: {last})")
        time.sleep(0.05)
