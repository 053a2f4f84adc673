"""What each template of a document names, kept in the user's cache directory, so that checking a file
whose templates did not change does not load Jinja (~20 ms at every start) to parse the same templates again:
neither a file left alone nor one edited elsewhere (a step added without a new template, a title, a comment:
what an editor's save or a pre-commit hook sees most). The checks of those names against the runbook (inputs,
steps, outputs) still run every time.

An entry is keyed by the template's own text: what a template names depends on that text alone. There is one
cache file per document path (so editing a file does not pile up files); it holds the hash of the analysing
code (runner/templating.py) and of the installed Jinja it was made from, and is used only when both match.
When a check learns something new, the file is written again with the templates that check used, so those
the document no longer has do not pile up. A missing, unreadable, damaged or outdated file is the same as
none (the templates are parsed, and the file written again); one that cannot be written only costs time.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from runner import codecache
from runner.digest import sha256_hex
from runner.templating import Reference

FORMAT = 2


@dataclass(frozen=True)
class SyntaxProblem:
    """Jinja's syntax error for a template: its message and line."""

    message: str
    lineno: int


Entry = tuple[Reference, ...] | SyntaxProblem


@dataclass
class _Known:
    """What is known about one document's templates, and where it is kept."""

    path: Path | None
    stamp: str  # what the entries were made from: the analysing code, Jinja
    entries: dict[str, Entry]
    used: set[str] = field(default_factory=set)  # the templates the document has now
    dirty: bool = False


_DOCUMENTS: dict[tuple[str, str], _Known] = {}


def lookup(name: str, digest: str, text: str) -> Entry | None:
    """What `text` in the document `name` (whose bytes hash to `digest`) names, when known."""
    known = _known(name, digest)
    known.used.add(text)
    return known.entries.get(text)


def remember(name: str, digest: str, text: str, entry: Entry) -> None:
    known = _known(name, digest)
    known.entries[text] = entry
    known.used.add(text)
    known.dirty = True


def save(name: str, digest: str) -> None:
    """Write what was learnt about the document's templates (atomically), when anything was."""
    known = _DOCUMENTS.get((name, digest))
    if known is None or not known.dirty or known.path is None:
        return
    known.dirty = False
    entries = {text: _encode(entry) for text, entry in known.entries.items() if text in known.used}
    data = json.dumps({"format": FORMAT, "stamp": known.stamp, "entries": entries}).encode("utf-8")
    codecache.write_private(str(known.path), data)


def _known(name: str, digest: str) -> _Known:
    known = _DOCUMENTS.get((name, digest))
    if known is None:
        salt = _salt()
        path = _path(name) if salt is not None and codecache.enabled() else None
        stamp = f"{FORMAT}:{salt}"
        known = _DOCUMENTS[(name, digest)] = _Known(path, stamp, _read(path, stamp) if path is not None else {})
    return known


def _path(name: str) -> Path:
    key = sha256_hex(os.path.abspath(name).encode("utf-8", "surrogatepass"))[:32]
    return Path(codecache.cache_dir("templates", f"{key}.json"))


@cache
def _salt() -> str | None:
    """The analysing code and the installed Jinja, without importing Jinja; None (no cache) when unknown."""
    try:
        import runner.templating as templating

        code = sha256_hex(Path(templating.__file__).read_bytes())
        spec = importlib.util.find_spec("jinja2")
        if spec is None or spec.origin is None:
            return None
        jinja = Path(spec.origin).parent
        stamps = [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sorted(jinja.glob("*.py"))]
    except (OSError, ImportError, ValueError):
        return None
    return sha256_hex(f"{code}:{jinja}:{','.join(stamps)}".encode())


def _read(path: Path, stamp: str) -> dict[str, Entry]:
    raw = codecache.read_private(str(path))  # one someone else could write could make a bad template pass
    try:
        data = json.loads(raw) if raw is not None else None
    except ValueError:
        return {}
    if not isinstance(data, dict) or data.get("stamp") != stamp or not isinstance(data.get("entries"), dict):
        return {}  # another version of the file, of fireline or of Jinja; or damaged
    entries: dict[str, Entry] = {}
    for text, raw in data["entries"].items():
        entry = _decode(raw)
        if entry is None:
            return {}  # damaged: trust none of it
        entries[text] = entry
    return entries


def _encode(entry: Entry) -> dict[str, Any]:
    if isinstance(entry, SyntaxProblem):
        return {"syntax": [entry.message, entry.lineno]}
    return {"refs": [[ref.root, list(ref.chain), ref.lineno] for ref in entry]}


def _decode(raw: Any) -> Entry | None:
    if not isinstance(raw, dict):
        return None
    if "syntax" in raw:
        value = raw["syntax"]
        if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and _is_int(value[1]):
            return SyntaxProblem(value[0], value[1])
        return None
    refs = raw.get("refs")
    if not isinstance(refs, list):
        return None
    out = []
    for ref in refs:
        if not (isinstance(ref, list) and len(ref) == 3 and isinstance(ref[0], str) and isinstance(ref[1], list)
                and all(isinstance(k, str) or _is_int(k) for k in ref[1]) and _is_int(ref[2])):
            return None
        out.append(Reference(ref[0], tuple(ref[1]), ref[2]))
    return tuple(out)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
