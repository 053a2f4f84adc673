"""Ctrl-C and SIGTERM in a game day: both stop it, but never in the middle of a revert.

Two context managers, each restoring the handlers it found:
- `terminate_raises()` turns SIGTERM into `Terminated` (Ctrl-C already raises KeyboardInterrupt), so the
  `finally` that reverts the faults runs on either.
- `deferred_signals()` holds both signals back while a revert (or the final bookkeeping) runs; on the way out
  a held signal is delivered again to the handler that was there before, so the game day still stops — just
  after the revert is done and recorded. Nested deferrals compose: the inner one hands its signal to the
  outer one.

Handlers can only be installed from the main thread; elsewhere (an in-process run on a worker thread) both are
no-ops and signals reach the main thread as usual.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

STOPPING = (signal.SIGINT, signal.SIGTERM)


class Terminated(BaseException):
    """SIGTERM, turned into an exception so the `finally` that reverts runs (a BaseException, like Ctrl-C's
    KeyboardInterrupt: no `except Exception` on the way may swallow it)."""


def _can_handle() -> bool:
    return threading.current_thread() is threading.main_thread()


Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers


@contextlib.contextmanager
def _handlers(handler: Callable[[int, FrameType | None], Any], signals: tuple[signal.Signals, ...]) -> Iterator[None]:
    """Install `handler` for `signals`, then put the previous ones back. Should a restored handler raise
    between two restores (Ctrl-C right then), the handler left behind forwards its signal to the previous
    one from then on instead of swallowing it."""
    previous: dict[signal.Signals, Handler] = {}
    done = False

    def guarded(signum: int, frame: FrameType | None) -> Any:
        if done:
            sig = signal.Signals(signum)
            signal.signal(sig, previous[sig])
            signal.raise_signal(sig)
            return None
        return handler(signum, frame)

    for sig in signals:
        old = signal.signal(sig, guarded)
        # None: a handler installed outside Python; the closest we can put back is the default.
        previous[sig] = old if old is not None else signal.SIG_DFL
    try:
        yield
    finally:
        done = True
        for sig, old_handler in previous.items():
            signal.signal(sig, old_handler)


@contextlib.contextmanager
def terminate_raises() -> Iterator[None]:
    if not _can_handle():
        yield
        return

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise Terminated()

    with _handlers(on_term, (signal.SIGTERM,)):
        yield


@contextlib.contextmanager
def deferred_signals(*, redeliver: bool = True, notice: str = "") -> Iterator[list[signal.Signals]]:
    """SIGINT and SIGTERM wait until the block is done. Yields the list of signals that arrived meanwhile;
    with `redeliver`, the first of them is raised again once the previous handlers are back. `notice` is
    written to stderr when a signal is held, so nobody wonders why Ctrl-C "does nothing"."""
    held: list[signal.Signals] = []
    if not _can_handle():
        yield held
        return

    def hold(signum: int, frame: FrameType | None) -> None:
        sig = signal.Signals(signum)
        held.append(sig)
        if notice and not _redelivering:
            # os.write, not print: a handler runs between two bytecodes of the main thread, which may hold the
            # lock of sys.stderr or of the game day's printer at that moment.
            with contextlib.suppress(OSError):
                os.write(2, f"\n{describe(sig)}: {notice}\n".encode())

    with _handlers(hold, STOPPING):
        yield held
    if redeliver and held:
        _redeliver(held[0])


_redelivering = False  # an inner deferral handing its signal to an outer one: the user was told already


def _redeliver(sig: signal.Signals) -> None:
    global _redelivering
    _redelivering = True
    try:
        signal.raise_signal(sig)  # the restored handler runs here (and may raise: KeyboardInterrupt, Terminated)
    finally:
        _redelivering = False


def describe(sig: signal.Signals) -> str:
    return "Ctrl-C" if sig == signal.SIGINT else sig.name
