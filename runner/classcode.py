"""The methods `dataclasses` writes for each class, compiled once instead of at every start.

For every dataclass, the standard library writes the source of `__init__`, `__repr__`, `__eq__`, `__hash__`
and, for frozen ones, `__setattr__` and `__delattr__`, and compiles each with `exec`. Compiling is most of
the cost of defining a dataclass (about 0.4 ms each on a 2-core machine), and a one-step `fireline run`
defines some sixty of them: 25 ms, a fifth of the command, before it does anything.

`install()` puts a caching `exec` in the `dataclasses` module's namespace (where a module-level name shadows
the builtin): a source text seen before gets the code object compiled from that very text, read from the
user's cache (runner/codecache.py), and anything else is compiled as usual. Keying by the whole text makes a
stale entry impossible: the same text always compiles to the same code, whatever class asked for it; the
files are per Python release, because marshal's format is. New entries are written once, when the process
ends, one file per module of fireline (other libraries' classes are left alone), so a command reads only the
files of the modules it imports. Classes, their methods and their behaviour are exactly what `dataclasses`
makes; only where the compiled code comes from changes.
"""

from __future__ import annotations

import atexit
import dataclasses
import sys
from types import CodeType
from typing import Any

from runner import codecache

# More entries than a module ever needs (6 methods per class): past this, its file is written again with only
# what this process used, so texts no version of the module uses any more do not pile up.
MOST_ENTRIES = 400


class _ModuleCode:
    """The compiled methods of one module's dataclasses, in a file of their own: a command reads only the
    files of the modules it imports."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.codes: dict[str, CodeType] | None = None
        self.used: set[str] = set()
        self.added = False

    def code(self, source: str) -> CodeType:
        if self.codes is None:
            loaded = codecache.read(self.path)
            self.codes = loaded if isinstance(loaded, dict) else {}
        code = self.codes.get(source)
        if not isinstance(code, CodeType):
            code = compile(source, "<string>", "exec")  # as exec() compiles a string
            self.codes[source] = code
            self.added = True
        self.used.add(source)
        return code

    def save(self) -> None:
        if not self.added or self.codes is None:
            return
        codes = self.codes if len(self.codes) <= MOST_ENTRIES else {text: self.codes[text] for text in self.used}
        codecache.write(self.path, codes)
        self.added = False


class _CompiledOnce:
    """`exec` for `dataclasses`: the methods of fireline's own classes come through the cache; anything else
    (another library's classes, code objects) is executed exactly as asked."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.modules: dict[str, _ModuleCode] = {}

    def __call__(self, source: Any, globals_: Any = None, locals_: Any = None, /) -> None:
        # dataclasses passes the class's module namespace as the globals: its name says whose class it is.
        module = globals_.get("__name__") if type(source) is str and isinstance(globals_, dict) else None
        if isinstance(module, str) and module.startswith("runner."):
            known = self.modules.get(module)
            if known is None:
                known = self.modules[module] = _ModuleCode(f"{self.directory}/{module}.code")
            source = known.code(source)
        exec(source, globals_, locals_)  # what dataclasses asked for, with the same namespaces

    def save(self) -> None:
        for known in list(self.modules.values()):
            known.save()


def install() -> None:
    """Once per process, and only where `dataclasses` compiles through a module-level `exec` lookup."""
    if not codecache.enabled() or "exec" in vars(dataclasses):
        return
    version = f"{sys.implementation.cache_tag}-{sys.hexversion:x}"
    compiled = _CompiledOnce(codecache.cache_dir(f"classes-{version}"))
    dataclasses.exec = compiled  # type: ignore[attr-defined]
    atexit.register(compiled.save)
