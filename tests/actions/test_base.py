"""ActionContext.budget: how long one call inside a step may wait, and what the actions do with it.

The helper's rules are checked directly (they are arithmetic on the monotonic clock); then real actions talk
to a local server that accepts connections and never answers, to show that a step whose time is up fails at
once instead of waiting for the call's own timeout, and that a call's own timeout holds inside a longer step.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.actions import notify
from runner.actions.base import ActionContext
from runner.actions.http import Request
from runner.actions.notify import StatusUpdate
from runner.errors import StepTimeout
from runner.testing import StaticConnections
from tests.conftest import write

HEADER = "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: t}\n"


def context(deadline: float | None) -> ActionContext:
    return ActionContext("step", StaticConnections({}), deadline=deadline)


# -- the helper ---------------------------------------------------------------------------------------------
def test_without_a_deadline_the_call_keeps_its_own_timeout() -> None:
    ctx = context(None)
    assert ctx.budget(None) is None
    assert ctx.budget(7.5) == 7.5
    assert ctx.budget(0.0) == 0.0  # an own timeout of 0 is the caller's to interpret


def test_the_smaller_of_own_timeout_and_what_is_left_of_the_step() -> None:
    ctx = context(time.monotonic() + 60)
    assert ctx.budget(5.0) == 5.0  # the step has more time than the call needs
    left = ctx.budget(None)
    assert left is not None and 59 < left <= 60  # no own timeout: what is left of the step
    capped = ctx.budget(600.0)
    assert capped is not None and 0 < capped <= 60
    assert ctx.budget(0.0) == 0.0


@pytest.mark.parametrize("own", [None, 10.0, 0.0], ids=["no-own-timeout", "own-timeout", "own-zero"])
@pytest.mark.parametrize("ago", [0.0, 1.0], ids=["just-now", "a-second-ago"])
def test_no_time_left_is_an_expired_step_never_a_missing_deadline(own: float | None, ago: float) -> None:
    ctx = context(time.monotonic() - ago)
    with pytest.raises(StepTimeout, match=r"^step deadline reached before POST http://x/y$"):
        ctx.budget(own, before="POST http://x/y")


def test_each_call_gets_what_is_left_when_it_starts() -> None:
    ctx = context(time.monotonic() + 30)
    first = ctx.budget(None)
    time.sleep(0.05)
    second = ctx.budget(None)
    assert first is not None and second is not None and second < first


# -- real actions against a server that never answers -------------------------------------------------------
@pytest.fixture
def silent() -> Iterator[socket.socket]:
    """A listening socket that completes TCP handshakes (the backlog) and never reads or answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)
        yield sock


def url_of(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


def nobody_connected(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


def test_http_request_with_the_step_time_used_up_fails_at_once_and_sends_nothing(silent: socket.socket) -> None:
    # http.* took "0 s left" for "no deadline" and waited its own 10 s for a server that never answers.
    ctx = context(time.monotonic())
    started = time.monotonic()
    with pytest.raises(StepTimeout, match=rf"^step deadline reached before POST {url_of(silent)}/freeze$"):
        Request().run({"url": f"{url_of(silent)}/freeze", "method": "POST", "json": {"on": True}}, ctx)
    assert time.monotonic() - started < 5
    assert nobody_connected(silent)


def test_status_update_webhook_with_the_step_time_used_up_fails_at_once(silent: socket.socket) -> None:
    # notify.status_update had the same "0 s left means 10 s" copy.
    ctx = context(time.monotonic())
    params = {"status": "identified", "summary": "db pool exhausted", "to": {"webhook": f"{url_of(silent)}/hook"}}
    started = time.monotonic()
    with pytest.raises(StepTimeout, match=r"^step deadline reached before posting the update to the webhook$"):
        StatusUpdate().run(params, ctx)
    assert time.monotonic() - started < 5
    assert nobody_connected(silent)


def test_status_update_webhook_keeps_its_own_timeout_inside_a_long_step(
    tmp_path: Path, cli, silent: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The webhook's own timeout used to be replaced by the step's remaining time: with `timeout: 2m` on the
    # step, a hung webhook held the run for two minutes. Its own limit is shortened here to keep the test fast.
    monkeypatch.setattr(notify, "WEBHOOK_TIMEOUT", 1.0)
    path = write(
        tmp_path / "rb.yaml",
        HEADER
        + f"""\
steps:
  - id: update
    action: notify.status_update
    approval: {{required: false}}
    timeout: 2m
    with: {{status: identified, summary: db pool exhausted, to: {{webhook: "{url_of(silent)}/hook"}}}}
""",
    )
    started = time.monotonic()
    result = cli("run", str(path), "--output", "json")
    elapsed = time.monotonic() - started
    assert result.code == 1, result.out
    [step] = result.json()["steps"]
    assert step["status"] == "failed"
    assert "POST" in step["summary"] and "timed out" in step["summary"]
    assert elapsed < 30  # the webhook's own limit (1 s), not the step's (2 min)
