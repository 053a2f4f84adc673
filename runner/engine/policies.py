"""Timeouts and retries, kept out of the run loop."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from runner.actions.base import ActionContext
from runner.durations import format_duration
from runner.errors import StepTimeout

T = TypeVar("T")

# How long a cancelled step gets to wind down (kill its process, cancel its query) before we give up on it.
CANCEL_GRACE_SECONDS = 5.0


class WorkNotStopped(StepTimeout):
    """The attempt timed out and its work could not be stopped: it may still be changing things. Nothing
    may run in its place (a retry, a rollback, the next step) until a person has looked; the engine pauses
    the run as interrupted. Callers that only read (game-day probes) may treat it as a plain timeout."""


def call_with_timeout(fn: Callable[[], T], ctx: ActionContext, timeout: float | None) -> T:
    """Run `fn`; past `timeout` the action is cancelled (its hooks kill processes, cancel queries) and the
    step fails. Without a timeout the call runs inline: cheaper, and Ctrl-C reaches it directly."""
    if timeout is None:
        return fn()
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=target, name=f"step-{ctx.step_id}", daemon=True)
    worker.start()
    try:
        worker.join(timeout)
    except BaseException:
        ctx.cancel()  # Ctrl-C: stop the work too, not only the waiting
        worker.join(CANCEL_GRACE_SECONDS)
        raise
    if worker.is_alive():
        ctx.cancel()
        worker.join(CANCEL_GRACE_SECONDS)
        if worker.is_alive():
            raise WorkNotStopped(
                f"step timed out after {format_duration(timeout)} and could not be stopped; it may still be running"
            )
        raise StepTimeout(f"step timed out after {format_duration(timeout)} and was stopped")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def backoff_delays(count: int, delay: float, backoff: float) -> list[float]:
    return [delay * (backoff**attempt) for attempt in range(count)]
