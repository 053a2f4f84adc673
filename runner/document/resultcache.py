"""What `fireline validate` found in a file, kept in the user's cache directory: checking a file that did not
change (an editor's save, a pre-commit hook) prints the same report without loading YAML or the checkers.

An entry answers only when everything its check depended on is what it was:
- the file's bytes (sha256) and the name it was given as (the name is in every line printed);
- fireline's code and schemas (path, size and modification time of each of their files), Python, and the
  installed libraries (the entries of each site-packages directory, and its modification time: installing,
  upgrading or removing a distribution changes both);
- every other file, directory listing and environment variable the check looked at. Those are recorded while
  the check runs, not listed by hand (a list would miss the next lookup someone adds): the files it opened
  (an audit hook), the paths it only looked for (os.stat and os.lstat raise no audit event: the policy file in
  the current directory, a scenario's runbook) and the environment variables it read (FIRELINE_POLICY). A file
  looked for and missing is recorded as absent, so creating it is a change too; a file's state is its bytes'
  hash, never its modification time.
Validation reads no clock and renders no template, so nothing else feeds its result.

In one process, what an earlier check loaded may stay in memory (the plugins, listed once): an entry records
what was looked at since the first check of the process, not only during its own; only the other documents
checked are left out unless its own check read them (a scenario's runbook), since the checks keep a document
in memory only by the digest of its bytes. A check that imported a module from outside fireline, the
standard library and site-packages (a plugin on PYTHONPATH), or that changed directory, is not kept; nor is
any later one in the same process.

One JSON file per document path (so editing a file does not pile entries up), at most MAX_ENTRIES of them,
under $XDG_CACHE_HOME/fireline/results (~/.cache when unset), written atomically. A file that is missing,
unreadable, damaged (its digest is checked), of another format, not owned by the user or writable by others
is the same as none; a cache that cannot be written only costs time. FIRELINE_NO_CACHE=1 turns it off.

Kept to light modules of the standard library: the answer from the cache loads nothing else.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner import codecache
from runner.digest import sha256_hex
from runner.document.diagnostics import Diagnostic

_MAGIC = "FLRESULT1"  # the format: a file of another one is not read
MAX_ENTRIES = 2000  # past this many files, the least recently written are removed
MAX_FILE_BYTES = 16 * 1024 * 1024  # a document or dependency larger than this is checked every time
MAX_ENTRY_BYTES = 4 * 1024 * 1024

# What the checks use, replaced by recording versions while they run; the cache itself uses these.
_stat, _lstat, _environ = os.stat, os.lstat, os.environ

Checker = Callable[[Path, list[Diagnostic]], list[Diagnostic]]


@dataclass(frozen=True)
class Found:
    """A file's problems (none when valid) and warnings, as the check reported them."""

    problems: list[Diagnostic]
    warnings: list[Diagnostic]


def open_cache() -> ResultCache | None:
    """The cache, or None when it is turned off, or when fireline's code is not in a directory whose files can
    be listed (a zip application): the stamp could not tell its versions apart."""
    if not codecache.enabled() or not os.path.isdir(_code_dirs()[0]):
        return None
    _roots()  # now: recording uses them, and finding them looks at files
    return ResultCache(Path(codecache.cache_dir("results")), _stamp())


class ResultCache:
    def __init__(self, directory: Path, stamp: str) -> None:
        self.directory, self.stamp = directory, stamp
        self._digests: dict[str, str | None] = {}  # the bytes of each document when it was looked up

    def lookup(self, path: Path) -> Found | None:
        """What checking `path` gave when it and all it depended on were as they are now; None otherwise."""
        where = os.path.abspath(path)
        digest = self._digests[where] = _file_digest(where)
        if digest is None:
            return None
        entry = _read_entry(self._entry_path(where))
        if entry is None or entry.get("stamp") != self.stamp or entry.get("name") != str(path):
            return None
        if entry.get("digest") != digest or not _unchanged(entry.get("deps")):
            return None
        return _decode_found(entry)

    def check(self, path: Path, checker: Checker) -> Found:
        """Check `path` with `checker`, recording what it reads, and keep the result when it can be."""
        where = os.path.abspath(path)
        before = self._digests[where] if where in self._digests else _file_digest(where)
        warnings: list[Diagnostic] = []
        with _recording(where) as record:
            problems = checker(path, warnings)
        found = Found(problems, warnings)
        deps = record.dependencies(where)
        # The check read the file itself: it must have read the bytes hashed before it, and still there after.
        if record.keep and before is not None and _file_digest(where) == before:
            self._write(where, str(path), before, deps, found)
        return found

    def _entry_path(self, where: str) -> Path:
        key = sha256_hex(where.encode("utf-8", "surrogatepass"))[:32]
        return self.directory / f"{key}.json"

    def _write(self, where: str, name: str, digest: str, deps: list[list[str]], found: Found) -> None:
        body = json.dumps(
            {
                "stamp": self.stamp,
                "name": name,
                "digest": digest,
                "deps": deps,
                "problems": [_encode(d) for d in found.problems],
                "warnings": [_encode(d) for d in found.warnings],
            }
        )
        data = f"{_MAGIC} {sha256_hex(body.encode())}\n{body}".encode()  # JSON's own escapes keep it ASCII
        if len(data) > MAX_ENTRY_BYTES:
            return
        if codecache.write_private(str(self._entry_path(where)), data):
            _prune(self.directory)


# --- the state of what a check depended on --------------------------------------------------------------


def _file_digest(path: str) -> str | None:
    """sha256 of a regular file's bytes; None for anything else (a FIFO is never opened: it would block)."""
    try:
        if not stat.S_ISREG(_stat(path).st_mode):
            return None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
                return None
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    return sha256_hex(data) if len(data) <= MAX_FILE_BYTES else None


def _state(kind: str, name: str) -> str | None:
    """What a path or variable is now, as compared between the check and a later lookup: a file by the hash
    of its bytes, a directory listing by the hash of its entries, a symlink by its target, a variable by the
    hash of its value (values may be secrets: never stored). None when it cannot be told (too large)."""
    if kind == "env":
        return _env_state(name)
    try:
        info = _lstat(name) if kind == "link" else _stat(name)
        if kind == "link" and stat.S_ISLNK(info.st_mode):
            return "link:" + os.readlink(name)
        if kind == "list" and stat.S_ISDIR(info.st_mode):
            return "list:" + _listing(name)
    except (FileNotFoundError, NotADirectoryError):
        return "absent"
    except OSError as exc:
        return f"error:{exc.errno}"
    if stat.S_ISREG(info.st_mode):
        digest = _file_digest(name)
        return None if digest is None else "file:" + digest
    return "dir" if stat.S_ISDIR(info.st_mode) else f"other:{stat.S_IFMT(info.st_mode)}"


def _listing(directory: str) -> str:
    with os.scandir(directory) as entries:
        names = sorted(e.name + ("@" if e.is_symlink() else "/" if e.is_dir() else "") for e in entries)
    return sha256_hex("\0".join(names).encode("utf-8", "surrogateescape"))


def _env_state(name: str) -> str:
    data: dict[Any, Any] = _environ._data  # type: ignore[attr-defined]  # read without being recorded
    if name == "*":  # the environment was iterated: all of it
        return "all:" + sha256_hex(repr(sorted(data.items())).encode("utf-8", "surrogateescape"))
    value = data.get(_environ.encodekey(name))  # type: ignore[attr-defined]
    return "absent" if value is None else "set:" + sha256_hex(repr(value).encode("utf-8", "surrogateescape"))


def _unchanged(deps: Any) -> bool:
    if not isinstance(deps, list):
        return False
    for dep in deps:
        if not (isinstance(dep, list) and len(dep) == 3 and all(isinstance(part, str) for part in dep)):
            return False
        kind, name, state = dep
        if kind not in _KINDS or _state(kind, name) != state:
            return False
    return True


_KINDS = ("file", "link", "list", "env")


# --- recording what a check reads -----------------------------------------------------------------------


@dataclass
class _Record:
    """What the checks of this process looked at: during the current one, and during all since the first
    (what an earlier check loaded may still be in memory, unseen by a later one)."""

    seen: dict[tuple[str, str], str | None] = field(default_factory=dict)  # (kind, name) → state
    current: set[tuple[str, str]] = field(default_factory=set)  # seen during the current check
    looked: set[tuple[str, str | bytes]] = field(default_factory=set)  # as given, during the current check
    documents: set[str] = field(default_factory=set)  # the files checked so far
    keep: bool = True  # False once anything was seen that an entry cannot stand for
    busy: bool = False  # recording itself reads files: those are not the check's

    def begin(self, document: str) -> None:
        self.current, self.looked = set(), set()
        self.documents.add(document)

    def saw(self, kind: str, raw: Any, *, listed: bool = False) -> None:
        """Record the state of what the check looked at (`listed`: a listing of sys.path it did ask for)."""
        if self.busy or (kind == "env" and not isinstance(raw, str)):
            return  # recording's own reads; a key no variable can have
        if isinstance(raw, int):  # a file descriptor: an opened file was recorded by its path, a listing not
            self.keep = self.keep and kind == "file"
            return
        try:
            given = raw if kind == "env" else os.fspath(raw)
        except TypeError:
            self.keep = False
            return
        if not listed:
            if (kind, given) in self.looked:
                return  # the same lookup again (most are: a module's own path, the schemas directory)
            self.looked.add((kind, given))
        self.busy = True
        try:
            self._saw(kind, given, listed)
        finally:
            self.busy = False

    def _saw(self, kind: str, given: str | bytes, listed: bool) -> None:
        try:
            name = os.fsdecode(given) if kind == "env" else os.path.abspath(os.fsdecode(given))
        except ValueError:
            self.keep = False
            return
        key = (kind, name)
        if key in self.current or (kind != "env" and _covered(name)):
            return
        if kind == "list" and not listed and name in _import_dirs():
            return  # the import system listing sys.path: modules are judged by where they came from
        self.current.add(key)
        if key not in self.seen:
            self.seen[key] = _state(kind, name)

    def dependencies(self, document: str) -> list[list[str]]:
        """What the entry for `document` depends on: everything seen since the first check, except the bytes
        of the documents (each is its own entry's digest) where the current check did not read them itself.
        (Checks keep no other document in memory but by its digest: the template and source caches.)"""
        if "importlib.metadata" in sys.modules:
            for directory in _import_dirs():  # plugins may have been listed: a new one anywhere is a change
                self.saw("list", directory, listed=True)
        out = []
        for (kind, name), state in sorted(self.seen.items()):
            if kind == "file" and name in self.documents and (name == document or (kind, name) not in self.current):
                continue
            if state is None:
                self.keep = False
                return []
            out.append([kind, name, state])
        return out


_RECORD: _Record | None = None  # created at the first check of the process, then kept
_ACTIVE = False


@contextlib.contextmanager
def _recording(document: str) -> Iterator[_Record]:
    global _RECORD, _ACTIVE
    if _RECORD is None:
        _RECORD = _Record()
        sys.addaudithook(_audit)  # hooks cannot be removed: it does nothing outside a check
    record, modules = _RECORD, set(sys.modules)
    record.begin(document)
    saved = os.stat, os.lstat, os.environ
    os.stat, os.lstat, os.environ = _recording_stat, _recording_lstat, _RecordingEnviron.of(saved[2])  # type: ignore[assignment]
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Watched.of(streams[0]), _Watched.of(streams[1])
    _ACTIVE = True
    try:
        yield record
    finally:
        _ACTIVE = False
        os.stat, os.lstat, os.environ = saved
        watched, (sys.stdout, sys.stderr) = (sys.stdout, sys.stderr), streams
    if any(isinstance(s, _Watched) and s.written for s in watched):
        record.keep = False  # what the check printed itself (a Python warning, say) is not in the entry
    for module in set(sys.modules) - modules:
        origin = getattr(sys.modules.get(module), "__file__", None)
        if isinstance(origin, str) and not _covered(os.path.abspath(origin), modules_only=True):
            record.keep = False


class _Watched:
    """A standard stream while a check runs: the same stream, noting whether anything was written to it."""

    def __init__(self, stream: Any) -> None:
        self.stream, self.written = stream, False

    @classmethod
    def of(cls, stream: Any) -> Any:
        return stream if stream is None else cls(stream)  # no stream (pythonw): nothing can be printed

    def write(self, text: str) -> int:
        self.written = True
        return self.stream.write(text)  # type: ignore[no-any-return]

    def writelines(self, lines: Any) -> None:
        self.written = True
        self.stream.writelines(lines)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _ACTIVE or _RECORD is None:
        return
    if event == "open":
        _RECORD.saw("file", args[0])
    elif event in ("os.listdir", "os.scandir"):
        _RECORD.saw("list", "." if args[0] is None else args[0])
    elif event in ("os.chdir", "os.fchdir"):
        _RECORD.keep = False  # relative paths would name other files


def _recording_stat(path: Any, *, dir_fd: int | None = None, follow_symlinks: bool = True) -> os.stat_result:
    if _RECORD is not None and dir_fd is None:
        _RECORD.saw("file" if follow_symlinks else "link", path)
    return _stat(path, dir_fd=dir_fd, follow_symlinks=follow_symlinks)


def _recording_lstat(path: Any, *, dir_fd: int | None = None) -> os.stat_result:
    if _RECORD is not None and dir_fd is None:
        _RECORD.saw("link", path)
    return _lstat(path, dir_fd=dir_fd)


class _RecordingEnviron(os._Environ[str]):  # os.environ's own class, sharing its variables
    """os.environ while a check runs: the same variables (writes go through), each read recorded."""

    @classmethod
    def of(cls, environ: Any) -> Any:
        if not isinstance(environ, os._Environ):  # replaced by someone else: leave it, keep nothing
            if _RECORD is not None:
                _RECORD.keep = False
            return environ
        return cls(environ._data, environ.encodekey, environ.decodekey,  # type: ignore[attr-defined]
                   environ.encodevalue, environ.decodevalue)  # type: ignore[attr-defined]

    def __getitem__(self, key: str) -> str:
        if _RECORD is not None:
            _RECORD.saw("env", key)
        return super().__getitem__(key)

    def __iter__(self) -> Iterator[str]:
        if _RECORD is not None:
            _RECORD.saw("env", "*")
        return super().__iter__()


# --- what the stamp covers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Roots:
    # Each directory with a separator at its end: "a path is in one" is one startswith.
    modules: tuple[str, ...]  # directories whose modules and files the stamp stands for
    files: tuple[str, ...]  # and those whose files do not feed a result (fireline's caches, bytecode)
    above_cache: frozenset[str]  # looked at only to create the cache directory (it may not exist yet)


_ROOTS: _Roots | None = None


def _roots() -> _Roots:
    global _ROOTS
    if _ROOTS is None:
        package, schemas = _code_dirs()
        stdlib = [os.path.dirname(os.__file__)]
        stdlib += [p for p in sys.path if p.endswith(".zip") and p.startswith(sys.base_prefix)]
        modules = (package, schemas, *stdlib, *_site_dirs())
        cache = codecache.cache_dir()
        derived = [cache, *([os.path.abspath(sys.pycache_prefix)] if sys.pycache_prefix else [])]
        above, parent = set(), os.path.dirname(cache)
        while parent not in above:
            above.add(parent)
            parent = os.path.dirname(parent)
        ends = tuple(os.path.join(root, "") for root in modules)
        _ROOTS = _Roots(ends, ends + tuple(os.path.join(root, "") for root in derived), frozenset(above))
    return _ROOTS


def _covered(path: str, *, modules_only: bool = False) -> bool:
    roots = _roots()
    if modules_only:
        return (path + os.sep).startswith(roots.modules)
    return path in roots.above_cache or (path + os.sep).startswith(roots.files)


def _code_dirs() -> tuple[str, str]:
    """fireline's package directory and its schemas (inside the package when installed from a wheel, beside
    it in a source checkout), as runner.actions.declarations.schema_dir finds them."""
    import runner

    package = os.path.dirname(os.path.abspath(runner.__file__))
    inside = os.path.join(package, "schemas")
    return package, inside if os.path.isdir(inside) else os.path.join(os.path.dirname(package), "schemas")


def _site_dirs() -> list[str]:
    return [os.path.abspath(p) for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages")]


def _import_dirs() -> frozenset[str]:
    return frozenset(os.path.abspath(p) for p in sys.path if isinstance(p, str))


_STAMP: str | None = None


def _stamp() -> str:
    """fireline's code, Python and the installed libraries, as one hash (~1 ms: no file is read)."""
    global _STAMP
    if _STAMP is None:
        package, schemas = _code_dirs()
        parts = [_MAGIC, sys.version, sys.executable, sys.prefix, str(sys.flags.optimize), repr(sys.path)]
        parts += codecache.file_stamps(package)
        if not schemas.startswith(package + os.sep):
            parts += codecache.file_stamps(schemas)
        for site in _site_dirs():
            try:
                parts += [site, str(_stat(site).st_mtime_ns), *sorted(os.listdir(site))]
            except OSError:
                parts.append(site + ":-")
        _STAMP = sha256_hex("\n".join(parts).encode("utf-8", "surrogateescape"))
    return _STAMP


# --- entry files ---------------------------------------------------------------------------------------


def _read_entry(path: Path) -> dict[str, Any] | None:
    data = codecache.read_private(str(path), MAX_ENTRY_BYTES + 1)
    if data is None:
        return None  # absent, unreadable, or written (or writable) by someone else: it could make a bad file pass
    head, _, body = data.partition(b"\n")
    if head != f"{_MAGIC} {sha256_hex(body)}".encode():
        return None  # another format, truncated or damaged
    try:
        entry = json.loads(body)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def _encode(d: Diagnostic) -> list[Any]:
    return [d.file, d.line, d.col, d.path, d.message, d.hint]


def _decode_found(entry: dict[str, Any]) -> Found | None:
    problems, warnings = _decode_all(entry.get("problems")), _decode_all(entry.get("warnings"))
    return None if problems is None or warnings is None else Found(problems, warnings)


def _decode_all(raw: Any) -> list[Diagnostic] | None:
    if not isinstance(raw, list):
        return None
    out = []
    for item in raw:
        if not (isinstance(item, list) and len(item) == 6):
            return None
        file, line, col, where, message, hint = item
        if not (isinstance(file, str) and _is_int(line) and _is_int(col) and isinstance(where, str)
                and isinstance(message, str) and (hint is None or isinstance(hint, str))):
            return None
        out.append(Diagnostic(file, line, col, where, message, hint))
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _prune(directory: Path) -> None:
    """At most MAX_ENTRIES files: the oldest go first (one file per document path, but paths come and go)."""
    try:
        with os.scandir(directory) as found:
            entries = [e for e in found if e.name.endswith(".json")]
        if len(entries) <= MAX_ENTRIES:
            return
        entries.sort(key=lambda e: e.stat().st_mtime_ns)
        for entry in entries[: len(entries) - MAX_ENTRIES * 3 // 4]:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
    except OSError:
        return
