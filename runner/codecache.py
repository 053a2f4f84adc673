"""Compiled Python code kept in the user's cache directory, so that what fireline compiles at start-up (the
validators generated from its schemas, the methods `dataclasses` writes for each class) is compiled once, not
at every start.

A file holds a magic string, a CRC-32 of the rest and `marshal` data: a missing, unreadable, truncated,
damaged or foreign file reads as None (the caller compiles again and writes it anew). Marshalled code runs
when loaded, so a file is trusted only as Python trusts its own bytecode cache, and a little less: it must be
owned by the user running fireline and writable by no one else, in a directory created private (0700).
Writes are atomic (a temporary file, then a rename), so a concurrent start sees a whole file or none, and a
cache that cannot be written only costs time. FIRELINE_NO_CACHE=1 turns every cache off.

Kept to the standard library's lightest modules: it is loaded at every start.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import stat
from typing import Any

_MAGIC = b"FLCODE1\n"
_HEADER = len(_MAGIC) + 4  # the magic, then the CRC-32 of the marshal data (big-endian)


def enabled() -> bool:
    """Off with FIRELINE_NO_CACHE=1, and where there is no absolute cache directory (no home, say)."""
    return os.environ.get("FIRELINE_NO_CACHE", "") in ("", "0") and os.path.isabs(_base())


def cache_dir(*parts: str) -> str:
    """$XDG_CACHE_HOME/fireline/PARTS (~/.cache when unset)."""
    return os.path.join(_base(), "fireline", *parts)


def _base() -> str:
    # A relative XDG_CACHE_HOME is to be ignored (XDG base directory spec); "~" unexpanded means no home.
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    return xdg if os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".cache")


def make_private_dir(path: str) -> None:
    """`path`, and fireline's cache directory above it, created readable by the user alone."""
    os.makedirs(cache_dir(), mode=0o700, exist_ok=True)
    os.makedirs(path, mode=0o700, exist_ok=True)


def read(path: str) -> Any:
    """The object marshalled into `path`, or None when there is no usable file."""
    data = read_private(path) if enabled() else None
    if data is None:
        return None
    from binascii import crc32  # tiny; the paths that read caches load it anyway

    payload = data[_HEADER:]
    if data[: len(_MAGIC)] != _MAGIC or data[len(_MAGIC) : _HEADER] != crc32(payload).to_bytes(4, "big"):
        return None
    try:
        return marshal.loads(payload)
    except (ValueError, EOFError, TypeError):
        return None


def read_private(path: str, most: int = -1) -> bytes | None:
    """The bytes of `path` (at most `most` of them, all when negative) when it is a regular file of the user's
    that no one else may write: one written, or writable, by someone else could run its code or make a bad
    document pass. None otherwise, or when it cannot be read. Opened without blocking: a FIFO left in its
    place is refused, not waited on."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as file:
            info = os.fstat(file.fileno())
            if info.st_uid != os.getuid() or info.st_mode & 0o022 or not stat.S_ISREG(info.st_mode):
                return None
            return file.read(most)
    except OSError:
        return None


def write(path: str, value: Any) -> None:
    """Marshal `value` (code objects, and dicts, tuples and strings of them) into `path`, atomically."""
    if not enabled():
        return
    from binascii import crc32  # tiny; the paths that read caches load it anyway

    try:
        payload = marshal.dumps(value)
    except ValueError:  # something marshal cannot hold
        return
    write_private(path, _MAGIC + crc32(payload).to_bytes(4, "big") + payload)


def write_private(path: str, data: bytes) -> bool:
    """`data` into `path`, readable by the user alone, atomically (a temporary file, then a rename: a
    concurrent reader sees the whole file or none), in a private directory; False when it could not be."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        make_private_dir(os.path.dirname(path))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False
    return True


def file_stamps(root: str) -> list[str]:
    """(path under `root`, size, modification time) of every file under it, bytecode caches left out: what a
    cache entry made from those files is named by (no file is read)."""
    out: list[str] = []
    pending = [root]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name != "__pycache__":
                            pending.append(entry.path)
                        continue
                    info = entry.stat(follow_symlinks=False)
                    out.append(f"{entry.path[len(root):]}\0{info.st_size}\0{info.st_mtime_ns}")
        except OSError:
            out.append(f"{directory}\0-")
    return sorted(out)
