"""`fireline validate PATH...`"""

from __future__ import annotations

from pathlib import Path

import click

from runner.document.diagnostics import Diagnostic, DocumentInvalid, render_json, render_junit, render_text
from runner.errors import UsageError


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


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit"]), default="text", show_default=True)
def validate(paths: tuple[str, ...], fmt: str) -> int:
    """Check runbooks and game-day scenarios (files or directories, *.yaml/*.yml recursively).

    Reports every problem at once as file:line:col: path: message (hint). Exit 0 when all are valid,
    1 when any is invalid, 2 on usage errors."""
    files = collect(paths)
    if not files:
        raise UsageError("no *.yaml or *.yml files found in " + ", ".join(paths))
    warnings: list[Diagnostic] = []
    results = {str(f): check_file(f, warnings) for f in files}
    render = {"text": render_text, "json": render_json, "junit": render_junit}[fmt]
    # Warnings do not make a file invalid; machine formats keep stdout to their own document.
    for warning in sorted(warnings):
        click.echo(_as_warning(warning), err=fmt != "text")
    click.echo(render(results))
    return 1 if any(results.values()) else 0


def _as_warning(d: Diagnostic) -> str:
    where = f"{d.path}: " if d.path else ""
    hint = f" (hint: {d.hint})" if d.hint else ""
    return f"{d.file}:{d.line}:{d.col}: {where}warning: {d.message}{hint}"
