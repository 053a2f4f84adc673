"""shell.run: a local command. Mutating unless the step says read_only: true."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time

from runner.actions.base import ActionContext, BaseAction, Outcome, Params, Plan, Verdict
from runner.durations import parse_duration
from runner.errors import ActionError

MAX_CAPTURE = 64 * 1024  # keep results journal-sized; the tail is what responders need


def command_line(params: Params) -> list[str]:
    if "argv" in params:
        return [str(a) for a in params["argv"]]
    # Templated values in `command` were shell-quoted by the engine when it rendered them.
    return ["/bin/sh", "-c", str(params["command"])]


def display(params: Params) -> str:
    return shlex.join(str(a) for a in params["argv"]) if "argv" in params else str(params["command"])


class Run(BaseAction):
    name = "shell.run"
    mutates = True

    def plan(self, params: Params, ctx: ActionContext) -> Plan:
        where = f" in {params['cwd']}" if params.get("cwd") else ""
        return Plan(
            Verdict.WOULD_CHANGE,
            f"would run: {display(params)}{where}",
            (f"$ {display(params)}",),
            {"argv": command_line(params)},
        )

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        timeout = parse_duration(params["timeout"]) if params.get("timeout") else None
        remaining = ctx.remaining()
        if remaining is not None:
            timeout = min(timeout, remaining) if timeout else remaining
        env = {**os.environ, **{k: str(v) for k, v in (params.get("env") or {}).items()}}
        started = time.monotonic()
        try:
            # A process group of its own, so a timeout kills the command and everything it started.
            proc = subprocess.Popen(
                command_line(params),
                cwd=params.get("cwd"),
                env=env,
                text=True,
                start_new_session=True,
                stdin=subprocess.PIPE if params.get("stdin") is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise ActionError(f"cannot start {display(params)!r}: {exc.strerror}") from None
        ctx.on_cancel(lambda: _kill_group(proc))
        try:
            stdout, stderr = proc.communicate(params.get("stdin"), timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            raise ActionError(f"command timed out after {timeout:.1f}s and was killed: {display(params)}") from None
        ctx.check_cancelled()
        for line in (stdout or "").splitlines()[-20:]:
            ctx.log(line)
        result = {
            "exit_code": proc.returncode,
            "stdout": stdout[-MAX_CAPTURE:],
            "stderr": stderr[-MAX_CAPTURE:],
            "duration_s": round(time.monotonic() - started, 3),
        }
        allowed = params.get("expect_exit") or [0]
        if proc.returncode not in allowed:
            tail = (stderr or stdout).strip().splitlines()[-3:]
            raise ActionError(f"exit code {proc.returncode}" + (f": {' | '.join(tail)}" if tail else ""))
        return Outcome(result, summary=f"exit {proc.returncode}")


def _kill_group(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
