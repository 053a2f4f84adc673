"""shell.run: a local command. Mutating unless the step says read_only: true."""

from __future__ import annotations

import contextlib
import errno
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


def refuse_nul(params: Params) -> None:
    """A NUL byte cannot reach a program (argv, environment and paths are C strings): say so before
    anything starts, naming the parameter (its value may be a secret)."""
    fields: list[tuple[str, object]] = [(f"argv[{i}]", a) for i, a in enumerate(params.get("argv") or ())]
    fields += [(name, params.get(name)) for name in ("command", "cwd")]
    for key, value in (params.get("env") or {}).items():
        fields += [("a name in env", key), (f"env.{key}", value)]
    for name, value in fields:
        if isinstance(value, str) and "\x00" in value:
            raise ActionError(
                f"{name} contains a NUL byte, which no command line can carry",
                hint="remove it from the value (or the input it came from)",
            )


def _start_failure(exc: OSError, params: Params) -> str:
    """Why the command did not start, blaming the right thing: a missing working directory is reported by
    exec as ENOENT just like a missing program."""
    cwd = params.get("cwd")
    if cwd and exc.filename == cwd:
        if exc.errno == errno.ENOENT:
            return f"the working directory {cwd} does not exist (cwd)"
        if exc.errno == errno.ENOTDIR:
            return f"the working directory {cwd} is not a directory (cwd)"
        return f"cannot enter the working directory {cwd} (cwd): {exc.strerror}"
    if "argv" in params and exc.errno == errno.ENOENT:
        return f"cannot start {display(params)!r}: program {str(params['argv'][0])!r} not found"
    return f"cannot start {display(params)!r}: {exc.strerror}"


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
        # `timeout: 0s` means no timeout of its own, as for a step.
        own = parse_duration(params["timeout"]) if params.get("timeout") else None
        refuse_nul(params)
        timeout = ctx.budget(own or None, before="starting the command")
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
            raise ActionError(_start_failure(exc, params)) from None
        except ValueError as exc:  # what exec itself refuses, e.g. an env name with "="
            raise ActionError(f"cannot start {display(params)!r}: {exc}") from None
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
