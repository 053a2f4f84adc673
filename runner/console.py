"""The `fireline` console script.

Every command goes to the click application (runner/cli), except the one typed most often by pre-commit
hooks and editors, one file at a time: `fireline validate PATH... [--format FORMAT]`. That one is run here
directly, without importing click, which is a tenth of its time (~8 ms of ~80). It is the same code
(runner/validating.py), prints the same bytes and ends with the same exit codes; any other shape of the
command line (an option other than --format, `--help`, `--`, no path) goes to click, which answers as always.
"""

from __future__ import annotations

import signal
import sys
from typing import NoReturn

from runner.outcome import echo, guarded, sigterm_interrupts


def validate_request(args: list[str]) -> tuple[tuple[str, ...], str] | None:
    """(paths, format) when `args` is a plain `validate PATH... [--format FORMAT]` this module runs itself;
    None for everything else."""
    if not args or args[0] != "validate":
        return None
    from runner.validating import FORMATS

    paths: list[str] = []
    fmt: str | None = None
    rest = iter(args[1:])
    for arg in rest:
        if arg == "--format" or arg.startswith("--format="):
            value = arg.partition("=")[2] if "=" in arg else next(rest, None)
            if fmt is not None or value not in FORMATS:
                return None  # repeated, missing or unknown: click says what is wrong
            fmt = value
        elif arg.startswith("-"):
            return None
        else:
            paths.append(arg)
    if not paths or not _plain_streams():
        return None
    return tuple(paths), fmt or "text"


def _plain_streams() -> bool:
    """Standard output and error are UTF-8 text streams, written as click would write them."""
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        if not isinstance(encoding, str) or encoding.lower().replace("-", "") != "utf8":
            return False
    return True


def main() -> NoReturn:
    request = validate_request(sys.argv[1:])
    if request is None:
        from runner.cli import run_main

        run_main()  # which first of all makes SIGTERM interrupt, as below
        sys.exit(0)  # not reached: run_main exits
    # SIGTERM (a cancelled CI job, a stopped pod) stops fireline the way Ctrl-C does, with the same account
    # of what was left behind. (Until here, it ends the process as by default: nothing was done yet.)
    signal.signal(signal.SIGTERM, sigterm_interrupts)

    def validate() -> int:
        from runner.validating import report

        return report(*request, echo, own_process=True)

    sys.exit(guarded(validate, lambda: "interrupted"))
