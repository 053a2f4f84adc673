"""What the responder sees: a live step list on a terminal, plain lines in CI logs, JSON for machines."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

from runner.actions.base import Plan, Verdict
from runner.actions.registry import traits
from runner.cli.identity import approver_hint
from runner.display import output_lines
from runner.durations import format_duration

if TYPE_CHECKING:
    from runner.document.model import Runbook, Step
    from runner.engine.context import StepState
    from runner.engine.runner import RunResult
    from runner.secrets import Redactor

ICONS = {
    "pending": "·",
    "running": "▶",
    "awaiting-approval": "?",
    "ok": "✓",
    "failed": "✗",
    "skipped": "–",
    "rolled-back": "↺",
}
STATE_STYLES = {
    "ok": "green",
    "failed": "bold red",
    "running": "cyan",
    "awaiting-approval": "bold yellow",
    "skipped": "dim",
    "rolled-back": "magenta",
    "pending": "dim",
}
VERDICT_LABEL = {
    Verdict.WOULD_CHANGE: "WOULD-CHANGE",
    Verdict.READ: "READ",
    Verdict.CANNOT_CHECK: "CANNOT-CHECK",
    Verdict.NO_CHANGE: "NO-CHANGE",
    Verdict.DEPENDS: "DEPENDS",
}


class PlainReporter:
    """One line per event, flushed at once: good for CI logs and pipes. Every line is redacted."""

    def __init__(
        self, runbook: Runbook, redactor: Redactor, out: TextIO | None = None, signed: bool | None = None
    ) -> None:
        self.runbook = runbook
        # Whether approvals of this run are signed, as the command worked it out (its --policy included);
        # None: as the environment configures it.
        self.signed = signed
        self.redactor = redactor
        self.out = out or sys.stdout
        self.total = len(runbook.steps)
        self.run_id = ""  # known once the run is recorded (header)
        # The step whose line was printed last: a step's output goes under its own header, so a step that
        # logs below another step's lines (a read run by a plan, a step of the live view) gets one first.
        self.current: str | None = None

    def _print(self, text: str) -> None:
        self.out.write(self.redactor.text(text) + "\n")
        self.out.flush()

    def header(self, run_id: str, dry_run: bool) -> None:
        self.run_id = run_id
        mode = "plan (dry-run: nothing will be changed)" if dry_run else "run"
        self._print(f"fireline {mode}: {self.runbook.title} [{self.runbook.name}] id {run_id}")

    def _n(self, step: Step) -> str:
        return f"[{step.index + 1}/{self.total}]"

    def _step_header(self, step: Step) -> str:
        return f"{self._n(step)} {ICONS['running']} {step.id}: {step.title} ({step.action})"

    def _under(self, step: Step) -> None:
        """What follows belongs to `step`: its header first, unless its line is the last one printed."""
        if self.current != step.id:
            self._print(self._step_header(step))
            self.current = step.id

    def step_started(self, step: Step) -> None:
        self._print(self._step_header(step))
        self.current = step.id

    def step_log(self, step: Step, line: str) -> None:
        self._under(step)
        for part in line.rstrip("\n").splitlines() or [""]:
            self._print(f"      {part}")

    def step_finished(self, step: Step, state: StepState) -> None:
        took = f" in {format_duration(state.duration)}" if state.duration else ""
        summary = f": {state.summary}" if state.summary else ""
        self._print(f"{self._n(step)} {ICONS.get(state.status, '?')} {step.id} {state.status}{took}{summary}")
        self.current = step.id
        for line in output_lines(state.outputs, self.redactor):
            self._print(f"      {line}")

    def step_planned(self, step: Step, plan: Plan) -> None:
        self.current = step.id
        self._print(f"{self._n(step)} {VERDICT_LABEL[plan.verdict]:<12} {step.id} ({step.action}): {plan.summary}")
        for line in plan.details:
            for part in str(line).splitlines():
                self._print(f"      {part}")

    def approval_needed(self, step: Step, plan: Plan | None, why: str) -> None:
        self._print(f"{self._n(step)} {ICONS['awaiting-approval']} {step.id} needs approval ({why})")
        self.current = step.id
        if step.notes:
            for part in step.notes.strip().splitlines():
                self._print(f"      {part}")
        if plan is not None:
            # The plan of an action a person does says what they are asked to do.
            label = "what to do" if traits(step.action).waits_for_person else "what will change"
            self._print(f"      {label}: {plan.summary}")
            for line in plan.details:
                for part in str(line).splitlines():
                    self._print(f"        {part}")

    def ask(self, step: Step, question: str, timeout: float | None) -> str | None:
        self.out.write(f"{question}: ")
        self.out.flush()
        line = _read_line(sys.stdin.fileno(), timeout)
        if line is None and timeout is not None:
            self._print("\nno answer in time: the step does not run")
        return line

    def note(self, text: str) -> None:
        self._print(f"      {text}")

    def plan_path(self, label: str, depth: int) -> None:
        """A plan shows each path an undecided branch may take: the steps after this line are on it."""
        if label:
            self._print(f"{'   ' * (depth - 1)}── {label}")

    def close(self) -> None:
        """Give the terminal back (the live view stops); safe to call twice."""

    def finished(self, result: RunResult) -> None:
        if result.status == "paused" and result.failed_step and result.paused_for == "outputs":
            step = result.failed_step
            self._print(f"paused after {step}: {result.message}")
            self._print("  the change was made and is recorded as succeeded: it is not retried or rolled back")
            self._print(f"  see what it returned:  fireline runs show {result.run_id}")
            self._print(f"  then go on after it:   fireline resume {result.run_id}  (missing outputs stay missing)")
        elif result.status == "paused" and result.failed_step and result.paused_for == "interrupted":
            step = result.failed_step
            self._print(f"paused at {step}: {result.message}")
            self._print(f"  check the system, then run it again:  fireline resume {result.run_id} --retry-step")
            self._print(f"  or, if it already took effect:        fireline resume {result.run_id} --skip-step")
        elif result.status == "paused" and result.failed_step:
            step = result.failed_step
            self._print(f"paused at {step}: {result.message}")
            who = approver_hint() if self.signed is None else ("--key PATH" if self.signed else "--as NAME")
            self._print(f"  approve from any terminal:  fireline approve {result.run_id} {step} {who} --reason TEXT")
            self._print(f"  then continue:              fireline resume {result.run_id}")
        elif result.status == "failed":
            self._print(f"run {result.run_id} FAILED at {result.failed_step}: {result.message}")
        elif result.status == "planned":
            self._print(f"plan {result.run_id}: {result.message}. Nothing was changed.")
        else:
            self._print(f"run {result.run_id} succeeded")
        for failed in result.failed_steps:
            kind = "" if failed.critical else " (critical: false)"
            self._print(f"  failed step {failed.step_id}{kind}: {failed.summary}")


class RichReporter(PlainReporter):
    """A live list of every step with its state and duration, redrawn in place (fits 80 columns)."""

    def __init__(self, runbook: Runbook, redactor: Redactor, signed: bool | None = None) -> None:
        super().__init__(runbook, redactor, signed=signed)
        from rich.console import Console
        from rich.live import Live

        self.console = Console(highlight=False)
        self.states: dict[str, str] = {s.id: "pending" for s in runbook.steps}
        self.durations: dict[str, float] = {}
        self.started: dict[str, float] = {}
        self.live = Live(
            self._table(), console=self.console, refresh_per_second=8, transient=False, get_renderable=self._table
        )
        self.live.start()

    def _table(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        # Text objects, not markup strings: Rich re-renders the live table while printing other lines, with
        # those lines' options, and markup=False there would show "[dim]" literally.
        table = Table(show_header=False, box=None, pad_edge=False, expand=False)
        table.add_column(width=2)
        table.add_column(overflow="ellipsis", max_width=44)
        table.add_column(width=18)
        table.add_column(justify="right", width=8)
        for step in self.runbook.steps:
            state = self.states[step.id]
            took = self.durations.get(step.id)
            if state == "running":
                took = time.monotonic() - self.started.get(step.id, time.monotonic())
            name = Text(f"{step.id} ")
            name.append(step.action, style="dim")
            table.add_row(
                ICONS[state],
                name,
                Text(state, style=STATE_STYLES[state]),
                format_duration(took) if took is not None else "",
            )
        return table

    def _print(self, text: str) -> None:
        from rich.text import Text

        self.live.console.print(Text(self.redactor.text(text)), highlight=False)

    def _step_header(self, step: Step) -> str:
        return f"{ICONS['running']} {step.id} ({step.action})"

    def step_started(self, step: Step) -> None:
        # The table shows it; a header line is printed only when the step prints something (step_log).
        self.states[step.id] = "running"
        self.started[step.id] = time.monotonic()

    def step_finished(self, step: Step, state: StepState) -> None:
        self.states[step.id] = state.status
        self.durations[step.id] = state.duration
        if state.status == "failed" or state.summary or state.outputs:
            self._print(f"{ICONS.get(state.status, '?')} {step.id}: {state.summary or state.status}")
            self.current = step.id
        for line in output_lines(state.outputs, self.redactor):
            self._print(f"    {line}")

    def approval_needed(self, step: Step, plan: Plan | None, why: str) -> None:
        self.states[step.id] = "awaiting-approval"
        super().approval_needed(step, plan, why)

    def ask(self, step: Step, question: str, timeout: float | None) -> str | None:
        self.live.stop()
        try:
            return super().ask(step, question, timeout)
        finally:
            self.live.start()

    def finished(self, result: RunResult) -> None:
        self.live.stop()
        super().finished(result)

    def close(self) -> None:
        self.live.stop()


class JsonReporter(PlainReporter):
    """Collects everything and prints one JSON document at the end (for machines)."""

    def __init__(self, runbook: Runbook, redactor: Redactor) -> None:
        super().__init__(runbook, redactor)
        self.steps: dict[str, dict[str, Any]] = {}
        self.notes: list[str] = []
        self.run_id = ""
        self.dry_run = False
        self.path = ""  # a plan: the path of an undecided branch being planned

    def header(self, run_id: str, dry_run: bool) -> None:
        self.run_id, self.dry_run = run_id, dry_run

    def step_started(self, step: Step) -> None:
        self.steps.setdefault(step.id, {"id": step.id, "action": step.action, "log": []})

    def step_log(self, step: Step, line: str) -> None:
        self.steps.setdefault(self._key(step), {"id": step.id, "action": step.action, "log": []})["log"].append(line)

    def step_finished(self, step: Step, state: StepState) -> None:
        entry = self.steps.setdefault(step.id, {"id": step.id, "action": step.action, "log": []})
        entry.update(
            status=state.status,
            summary=state.summary,
            outputs=state.outputs,
            duration_s=round(state.duration, 6),
            changed=state.changed,
        )

    def step_planned(self, step: Step, plan: Plan) -> None:
        # One entry per step and path: a step on two paths of an undecided branch is planned on each.
        self.steps[self._key(step)] = {
            "id": step.id,
            "action": step.action,
            "verdict": plan.verdict.value,
            "summary": plan.summary,
            "details": list(plan.details),
            **({"path": self.path} if self.path else {}),
        }

    def plan_path(self, label: str, depth: int) -> None:
        self.path = label

    def _key(self, step: Step) -> str:
        return f"{self.path}/{step.id}" if self.path else step.id

    def approval_needed(self, step: Step, plan: Plan | None, why: str) -> None:
        entry = self.steps.setdefault(step.id, {"id": step.id, "action": step.action, "log": []})
        entry.update(status="awaiting-approval", why=why, would_change=plan.summary if plan else None)

    def ask(self, step: Step, question: str, timeout: float | None) -> str | None:
        return None  # machines cannot approve: fail closed

    def note(self, text: str) -> None:
        self.notes.append(text)

    def finished(self, result: RunResult) -> None:
        doc = {
            "run_id": result.run_id,
            "status": result.status,
            "exit_code": result.exit_code,
            "failed_step": result.failed_step,
            "message": result.message,
            "failed_steps": [
                {"id": f.step_id, "critical": f.critical, "summary": f.summary} for f in result.failed_steps
            ],
            "dry_run": self.dry_run,
            "steps": list(self.steps.values()),
            "notes": self.notes,
        }
        # Indented only for a person: the C encoder (no indent) is several times faster for machines.
        text = json.dumps(self.redactor.data(doc), default=str, indent=2 if self.out.isatty() else None)
        self.out.write(self.redactor.text(text) + "\n")


def _read_line(fd: int, timeout: float | None) -> str | None:
    """One line typed at the terminal, read from the descriptor itself: a buffered reader may hold a second
    answer typed ahead, which `select` would then not see. None at end of input or after `timeout` seconds."""
    import select  # only when a person is asked something at a terminal

    deadline = None if timeout is None else time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        if deadline is not None:
            ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                return None
        chunk = os.read(fd, 1)
        if not chunk:
            return line.decode(errors="replace") or None
        line += chunk
    return line.decode(errors="replace")


def make_reporter(runbook: Runbook, redactor: Redactor, output: str, signed: bool | None = None) -> PlainReporter:
    if output == "json":
        return JsonReporter(runbook, redactor)  # prints no hints: the JSON says the run paused and where
    if output == "auto" and sys.stdout.isatty():
        return RichReporter(runbook, redactor, signed=signed)
    return PlainReporter(runbook, redactor, signed=signed)
