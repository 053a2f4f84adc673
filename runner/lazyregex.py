"""Regular expressions compiled when first used, for the length of one import.

PyYAML compiles its regular expressions when it is imported, and one of them, the pure-Python reader's
class of non-printable characters, spans all of Unicode: compiling it takes ~3 ms of every `validate`,
`plan` and `run`, and the C loader fireline uses never runs it. Imported inside `compiled_when_used("yaml")`,
the package's `re.compile` calls give patterns that compile on first use and then are the compiled pattern
for every attribute (`match`, `search`, ...): the same results, paid for only when used. Only calls made
from the named package's own modules are deferred; anyone else compiling meanwhile (another thread, another
module imported on the way) gets a compiled pattern as usual.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from typing import Any

_COMPILE = re.compile


class DeferredPattern:
    """`re.compile(source, flags)`, done at the first use of any of its attributes."""

    __slots__ = ("_compiled", "_source")

    def __init__(self, source: Any, flags: int) -> None:
        self._source = (source, flags)
        self._compiled: re.Pattern[Any] | None = None

    def __getattr__(self, name: str) -> Any:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = _COMPILE(*self._source)
        return getattr(compiled, name)


@contextlib.contextmanager
def compiled_when_used(package: str) -> Iterator[None]:
    def compile_(source: Any, flags: int = 0) -> Any:
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller == package or caller.startswith(package + "."):
            return DeferredPattern(source, flags)
        return _COMPILE(source, flags)

    re.compile = compile_  # type: ignore[assignment]
    try:
        yield
    finally:
        re.compile = _COMPILE
