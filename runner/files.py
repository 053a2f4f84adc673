"""Writing a file people asked for (a runbook skeleton, a rehearsal scenario): never over an existing file
unless they said so; the paths in it relative to where it is written."""

from __future__ import annotations

import os
from pathlib import Path

from runner.errors import UsageError


def write_new(path: Path, text: str, force: bool) -> bool:
    """Write `text` at `path`, creating its directory. An existing file is refused unless `force`, then replaced
    atomically (through a temporary file beside it). True when a file was replaced."""
    existed = path.exists()
    if existed and not force:
        raise UsageError(f"{path} exists; not overwritten", hint="pass --force to replace it, or -o another file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if force:
            temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            temporary.write_text(text, encoding="utf-8")
            os.replace(temporary, path)
        else:
            with path.open("x", encoding="utf-8") as out:  # "x": a file created meanwhile is not overwritten
                out.write(text)
    except FileExistsError:
        raise UsageError(f"{path} exists; not overwritten", hint="pass --force to replace it") from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    return existed


def relative(path: Path, where: Path) -> str:
    """`path` as a file written in directory `where` names it (absolute when there is no relative way: another
    drive)."""
    try:
        return os.path.relpath(path.resolve(), where)
    except ValueError:
        return str(path.resolve())
