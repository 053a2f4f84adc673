"""What a game day shows while it runs: timestamped lines relative to the fault, the response runbook's
progress among them, and the measured times at the end."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any, TextIO, cast

from runner.durations import format_duration
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


class PrefixedReporter:
    """The response runbook's progress, in the game day's timeline."""

    def __init__(self, runbook: Any, redactor: Redactor, printer: Printer) -> None:
        from runner.cli.render import PlainReporter

        self.inner = PlainReporter(runbook, redactor, out=cast(TextIO, _PrinterStream(printer)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


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
