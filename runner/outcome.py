"""How a fireline command ends: its exit code, and what is said on the way out. Shared by the click
application (runner/cli) and the console script's own `validate` (runner/console.py); free of click."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from runner.errors import FirelineError


class Interrupted(KeyboardInterrupt):
    """An interruption whose consequences the command has already told the user."""


# How a line reaches the user: `echo(text)` to standard output, `echo(text, err=True)` to standard error.
Echo = Callable[..., None]


def echo(text: str, err: bool = False) -> None:
    """A line and its newline, flushed: what click.echo does with plain text."""
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n")
    stream.flush()


def guarded(command: Callable[[], int], interrupted: Callable[[], str], say: Echo = echo) -> int:
    """The exit code of `command`, whatever it raised: a FirelineError is its message and exit code, an
    interruption 130, a closed pipe 0 (the reader has what it wanted), anything else an internal error (4)."""
    try:
        return command()
    except FirelineError as exc:
        say(f"error: {exc}", err=True)
        if exc.hint:
            say(f"  hint: {exc.hint}", err=True)
        return exc.exit_code
    except Interrupted:
        return 130
    except KeyboardInterrupt:
        say("\n" + interrupted(), err=True)
        return 130
    except BrokenPipeError:
        return 0
    except Exception:
        import traceback

        detail = traceback.format_exc()
        if os.environ.get("FIRELINE_DEBUG"):
            say(detail, err=True)
        else:
            say(
                f"internal error (this is a bug in fireline): {detail.strip().splitlines()[-1]}\n"
                "  set FIRELINE_DEBUG=1 to see the traceback",
                err=True,
            )
        return 4


def sigterm_interrupts(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
