"""Timeouts and retries, kept out of the run loop."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar, overload

from runner.actions.base import ActionContext
from runner.durations import MAX_DURATION_SECONDS, format_duration
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


class BackoffDelays(Sequence[float]):
    """The wait before each retry, computed when asked: a list of a billion retries would exhaust memory,
    and delay × backoff^n overflows a float long before n reaches 400. Each wait is capped at the longest
    duration fireline accepts (validation refuses policies that would wait longer in total)."""

    def __init__(self, count: int, delay: float, backoff: float) -> None:
        self._count, self._delay, self._backoff = max(count, 0), delay, backoff

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> float: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[float]: ...
    def __getitem__(self, index: int | slice) -> float | Sequence[float]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(index)
        try:
            wait = self._delay * self._backoff**index
        except OverflowError:
            return MAX_DURATION_SECONDS
        return min(wait, MAX_DURATION_SECONDS)


def backoff_delays(count: int, delay: float, backoff: float) -> Sequence[float]:
    return BackoffDelays(count, delay, backoff)
