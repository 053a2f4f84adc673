"""What a game day shows while it runs: timestamped lines relative to the fault, the response runbook's
progress among them, and the measured times at the end."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO, cast

from runner.actions.base import Plan
from runner.document.model import Runbook, Step
from runner.durations import format_duration
from runner.engine.context import StepState
from runner.engine.runner import Reporter
from runner.gameday.metrics import LABELS, Metric
from runner.secrets import Redactor


class Printer:
    """Plain, timestamped lines relative to the fault: readable live and in CI logs."""

    def __init__(self, out: TextIO, redactor: Redactor) -> None:
        self.out, self.redactor = out, redactor
        self.origin: float | None = None
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        stamp = f"[+{time.monotonic() - self.origin:7.2f}s] " if self.origin is not None else "[  setup  ] "
        with self._lock:
            self.out.write(self.redactor.text(stamp + text) + "\n")
            self.out.flush()


def brief(state: Mapping[str, Any]) -> str:
    text = ", ".join(f"{k}={v}" for k, v in state.items() if not isinstance(v, dict | list))
    # Cut with an ellipsis: the printer's redactor then also masks the start of a secret cut there.
    return (text if len(text) <= 160 else text[:159] + "…") or "done"


# What the response runbook's progress is shown with: the presentation layer passes its own (the CLI passes
# its plain-lines reporter); called with the runbook, the redactor and a stream into the game day's printer.
ReporterFactory = Callable[[Runbook, Redactor, TextIO], Reporter]


def response_reporter(
    factory: ReporterFactory | None, runbook: Runbook, redactor: Redactor, printer: Printer
) -> Reporter:
    """The response runbook's progress, in the game day's timeline."""
    return (factory or StepLines)(runbook, redactor, cast(TextIO, _PrinterStream(printer)))


class StepLines:
    """The response's steps as short lines, for a game day run without a presentation layer (in-process)."""

    def __init__(self, runbook: Runbook, redactor: Redactor, out: TextIO) -> None:
        self.redactor, self.out = redactor, out

    def _line(self, text: str) -> None:
        self.out.write(self.redactor.text(text) + "\n")

    def header(self, run_id: str, dry_run: bool) -> None:
        self._line(f"run {run_id}")

    def step_started(self, step: Step) -> None:
        self._line(f"{step.id} started ({step.action})")

    def step_log(self, step: Step, line: str) -> None:
        pass

    def step_finished(self, step: Step, state: StepState) -> None:
        self._line(f"{step.id} {state.status}" + (f": {state.summary}" if state.summary else ""))

    def step_planned(self, step: Step, plan: Plan) -> None:
        pass

    def approval_needed(self, step: Step, plan: Plan | None, why: str) -> None:
        self._line(f"{step.id} needs approval ({why})")

    def ask(self, step: Step, question: str, timeout: float | None) -> str | None:
        return None  # nobody at a terminal: the gate fails closed

    def note(self, text: str) -> None:
        self._line(text)

    def plan_path(self, label: str, depth: int) -> None:
        pass


class _PrinterStream:
    def __init__(self, printer: Printer) -> None:
        self.printer = printer
        self.buffer = ""

    def write(self, text: str) -> int:
        self.buffer += text
        while "\n" in self.buffer:
            line, self.buffer = self.buffer.split("\n", 1)
            self.printer.line(f"  runbook | {line}")
        return len(text)

    def flush(self) -> None:
        pass


def metric_lines(metrics: tuple[Metric, ...], interval: float) -> list[str]:
    lines = []
    for m in metrics:
        measured = format_duration(m.seconds) if m.seconds is not None else "never"
        objective = format_duration(m.objective) if m.objective is not None else "-"
        verdict = {True: "PASS", False: "FAIL", None: ""}[m.passed]
        lines.append(f"  {LABELS[m.name]:<20} {measured:>9}   objective {objective:>7}   {verdict}")
    lines.append(f"  (measured at a resolution of {format_duration(interval)}: the probe interval)")
    return lines
