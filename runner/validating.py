"""What `fireline validate PATH...` does, without the command line: find the files, check each (from the user's
cache when nothing it read has changed, in worker processes when there are many), and report. Free of click:
the console script runs it directly for the command hooks and editors type (runner/console.py), and the
click command (runner/cli/validate.py) calls it too."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from runner.document.diagnostics import Diagnostic, DocumentInvalid, render_json, render_junit, render_text
from runner.errors import UsageError
from runner.outcome import Echo

if TYPE_CHECKING:
    from runner.document.resultcache import ResultCache


def collect(paths: tuple[str, ...]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        elif path.exists():
            files.append(path)
        else:
            raise UsageError(f"no such file or directory: {raw}")
    return files


def check_file(path: Path, warnings: list[Diagnostic] | None = None) -> list[Diagnostic]:
    from runner.document.documents import check_document

    try:
        check_document(path, warnings)
    except DocumentInvalid as exc:
        return list(exc.diagnostics)
    return []


FORMATS = ("text", "json", "junit")

def report(paths: tuple[str, ...], fmt: str, echo: Echo, *, own_process: bool) -> int:
    """Check `paths` and print the report in `fmt`; the exit code. `own_process`: the command has the process
    to itself, so that results may be read from and kept in the user's cache."""
    files = collect(paths)
    if not files:
        raise UsageError("no *.yaml or *.yml files found in " + ", ".join(paths))
    warnings: list[Diagnostic] = []
    results = dict(check_files(files, warnings, own_process=own_process))
    render = {"text": render_text, "json": render_json, "junit": render_junit}[fmt]
    # Warnings do not make a file invalid; machine formats keep stdout to their own document.
    for warning in sorted(warnings):
        echo(_as_warning(warning), err=fmt != "text")
    echo(render(results))
    return 1 if any(results.values()) else 0


# From this many files to check (those not answered from the cache) on, the checking is shared by worker
# processes (one per core, at most MAX_JOBS): the checks are the same, each file is still checked whole by one
# process, and the results are put back in the order of the files. Below it, starting the workers costs more
# than it saves.
PARALLEL_FROM = 40
MAX_JOBS = 4


def check_files(
    files: list[Path], warnings: list[Diagnostic], *, own_process: bool = False
) -> list[tuple[str, list[Diagnostic]]]:
    """Each file's problems, in the order of the files. A file that, with all its check read, is as it was
    when last checked is answered from the user's cache (runner/document/resultcache.py)."""
    cache = _result_cache() if own_process else None
    by_file: dict[str, list[Diagnostic]] = {}
    todo: list[Path] = []
    for f in files:
        found = cache.lookup(f) if cache is not None else None
        if found is None:
            todo.append(f)
            continue
        by_file[str(f)] = found.problems
        warnings += found.warnings
    by_file.update(_check_all(todo, warnings, cache))
    return [(str(f), by_file[str(f)]) for f in files]


def _result_cache() -> ResultCache | None:
    """Only when the command has the process to itself: an entry records what its check read, and a process
    that ran other code first may hold some of that in memory already, unseen (and a test may patch it)."""
    from runner.document.resultcache import open_cache

    return open_cache()


def _check(path: Path, warnings: list[Diagnostic], cache: ResultCache | None) -> list[Diagnostic]:
    if cache is None:
        return check_file(path, warnings)
    found = cache.check(path, check_file)
    warnings += found.warnings
    return found.problems


def _check_all(files: list[Path], warnings: list[Diagnostic], cache: ResultCache | None) -> dict[str, list[Diagnostic]]:
    jobs = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
               MAX_JOBS)
    if len(files) < PARALLEL_FROM or jobs < 2 or not hasattr(os, "fork"):
        return {str(f): _check(f, warnings, cache) for f in files}
    # The first file in this process: the workers start with its validators compiled and loaded.
    by_file = {str(files[0]): _check(files[0], warnings, cache)}
    rest = files[1:]
    workers = [_fork_checker(rest[i::jobs], cache) for i in range(1, jobs)]
    mine = rest[0::jobs]
    by_file.update((str(f), _check(f, warnings, cache)) for f in mine)
    for chunk, (pid, reader) in zip([rest[i::jobs] for i in range(1, jobs)], workers, strict=True):
        found = _collect(pid, reader)
        if found is None:  # the worker died (killed, out of memory): check its files here instead
            by_file.update((str(f), _check(f, warnings, cache)) for f in chunk)
            continue
        by_file.update(found[0])
        warnings += found[1]
    return by_file


def _fork_checker(chunk: list[Path], cache: ResultCache | None) -> tuple[int, int]:
    """A child process checking `chunk`; it sends back (results, warnings) pickled through a pipe."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            import pickle
            import signal

            os.close(reader)
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # the parent decides how an interrupt ends
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            warnings: list[Diagnostic] = []
            results = [(str(f), _check(f, warnings, cache)) for f in chunk]
            with os.fdopen(writer, "wb") as out:
                pickle.dump((results, warnings), out)
            code = 0
        finally:
            os._exit(code)
    os.close(writer)
    return pid, reader


def _collect(pid: int, reader: int) -> tuple[list[tuple[str, list[Diagnostic]]], list[Diagnostic]] | None:
    import pickle

    with os.fdopen(reader, "rb") as pipe:
        data = pipe.read()  # all of it before waiting: a full pipe would block the child
    _, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        return None
    found: tuple[list[tuple[str, list[Diagnostic]]], list[Diagnostic]] = pickle.loads(data)
    return found


def _as_warning(d: Diagnostic) -> str:
    where = f"{d.path}: " if d.path else ""
    hint = f" (hint: {d.hint})" if d.hint else ""
    return f"{d.file}:{d.line}:{d.col}: {where}warning: {d.message}{hint}"
