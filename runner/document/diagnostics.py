"""Diagnostics: one problem in one document, with where it is and what to do about it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from runner.errors import RunbookInvalid


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem (or warning) in a document, where it is: file:line:col, the path inside, the message."""

    file: str
    line: int
    col: int
    path: str  # where in the document, e.g. steps[2].with.sql ("" for the whole document)
    message: str
    hint: str | None = None

    def render(self) -> str:
        where = f"{self.path}: " if self.path else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{self.file}:{self.line}:{self.col}: {where}{self.message}{hint}"


class DocumentInvalid(RunbookInvalid):
    """Raised with every problem found in a document, never just the first."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(sorted(diagnostics))
        super().__init__("\n".join(d.render() for d in self.diagnostics))


def format_path(parts: Iterable[str | int]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def render_text(results: dict[str, list[Diagnostic]]) -> str:
    lines = [d.render() for diags in results.values() for d in diags]
    bad = sum(1 for diags in results.values() if diags)
    errors = sum(len(diags) for diags in results.values())
    lines.append(
        f"{len(results)} file(s) checked: {bad} invalid, {errors} error(s)"
        if bad
        else f"{len(results)} file(s) checked: all valid"
    )
    return "\n".join(lines)


def render_json(results: dict[str, list[Diagnostic]]) -> str:
    files = [
        {"file": name, "valid": not diags, "errors": [asdict(d) for d in diags]} for name, diags in results.items()
    ]
    return json.dumps({"valid": all(f["valid"] for f in files), "files": files}, indent=2)


def render_junit(results: dict[str, list[Diagnostic]]) -> str:
    from xml.sax.saxutils import escape, quoteattr

    failures = sum(1 for diags in results.values() if diags)
    cases = []
    for name, diags in results.items():
        if diags:
            body = escape("\n".join(d.render() for d in diags))
            first = quoteattr(diags[0].message)
            cases.append(
                f'  <testcase classname="fireline.validate" name={quoteattr(name)}>\n'
                f'    <failure message={first} type="invalid">{body}</failure>\n  </testcase>'
            )
        else:
            cases.append(f'  <testcase classname="fireline.validate" name={quoteattr(name)}/>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuite name="fireline validate" tests="{len(results)}" failures="{failures}" errors="0">\n'
        + "\n".join(cases)
        + "\n</testsuite>"
    )
