"""Probes and detection signals, each watched in its own thread at a fixed rate."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from runner.actions.base import ActionContext, ConnectionSource
from runner.actions.registry import get_action
from runner.engine.policies import call_with_timeout
from runner.errors import FirelineError
from runner.secrets import Redactor
from runner.templating import TemplateError, render_params


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str
    at: float  # CLOCK_MONOTONIC when the answer came
    bug: str | None = None  # the traceback when the action raised something other than a FirelineError


def run_check(
    name: str,
    action_name: str,
    params: Mapping[str, Any],
    timeout: float,
    connections: ConnectionSource,
    context: Mapping[str, Any],
    redactor: Redactor,
) -> ProbeResult:
    """Run a read-only action as a check: it passes when the action succeeds (the action checks `expect`).
    A user or system failure (a FirelineError) fails the check; any other exception is a bug, returned as
    `bug` so the caller stops instead of taking it for the system's answer."""
    ctx = ActionContext(name, connections, deadline=time.monotonic() + timeout, redact=redactor.text)
    try:
        # Only shell text is shell-quoted (as in runbook steps); argv elements are passed as they are.
        rendered = render_params(action_name, params, context)
        action = get_action(action_name)
        outcome = call_with_timeout(lambda: action.run(rendered, ctx), ctx, timeout)
        return ProbeResult(True, redactor.text(outcome.summary), time.monotonic())
    except (FirelineError, TemplateError) as exc:
        return ProbeResult(False, redactor.text(str(exc)), time.monotonic())
    except Exception as exc:  # a bug in the action, not the system failing: never counted as a failed check
        trace = redactor.text(traceback.format_exc())
        return ProbeResult(False, redactor.text(f"{type(exc).__name__}: {exc}"), time.monotonic(), bug=trace)


class Ticker(threading.Thread):
    """Calls `tick` at a fixed rate (start + k·interval, not sleep-after-work, so the resolution holds)."""

    def __init__(self, name: str, interval: float, tick: Callable[[], None], stop: threading.Event) -> None:
        super().__init__(name=f"probe-{name}", daemon=True)
        self.interval = interval
        self.tick = tick
        self.stop_event = stop

    def run(self) -> None:
        start = time.monotonic()
        k = 0
        while not self.stop_event.is_set():
            self.tick()
            k += 1
            next_at = start + k * self.interval
            delay = next_at - time.monotonic()
            if delay < 0:  # a slow probe: skip the missed ticks instead of bunching up
                k += int(-delay // self.interval) + 1
                delay = start + k * self.interval - time.monotonic()
            if self.stop_event.wait(max(0.0, delay)):
                return
