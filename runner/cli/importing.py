"""`fireline import chaostoolkit EXPERIMENT [-o FILE] [--strict] [--force]`"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from runner.errors import FirelineError, UsageError

if TYPE_CHECKING:
    from runner.importers.chaostoolkit import Imported


class ImportRefused(FirelineError):
    """--strict and the import has warnings, or the scenario written would not validate."""


@click.group(name="import")
def importing() -> None:
    """Turn other tools' experiments into fireline game-day scenarios."""


@importing.command()
@click.argument("experiment", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the scenario here.")
@click.option("--strict", is_flag=True, help="Any warning is an error: exit 1 and write nothing.")
@click.option("--force", is_flag=True, help="Overwrite --output if it exists.")
def chaostoolkit(experiment: Path, output: Path | None, strict: bool, force: bool) -> int:
    """Write a game day from a Chaos Toolkit EXPERIMENT (JSON or YAML).

    The scenario goes to --output, or to stdout; what could not be imported is listed on stderr as
    warnings with the JSON path in the experiment. Exit 0 when written, 1 when the experiment cannot be
    read, or with --strict when there is any warning (nothing is written then), 2 on usage errors (an
    existing --output without --force)."""
    from runner.importers.chaostoolkit import import_file

    if output is not None and output.exists() and not force:
        raise UsageError(f"{output} already exists: nothing was written", hint="pass --force to overwrite it")
    imported = import_file(experiment)
    for finding in imported.warnings:
        click.echo(finding.render(), err=True)
    if strict and imported.warnings:
        raise ImportRefused(
            f"{len(imported.warnings)} warning(s) with --strict: nothing was written",
            hint="fix the experiment, or import without --strict and edit what the warnings name",
        )
    text = _render(imported, experiment)
    _check(text, output or Path(f"{experiment.stem}.yaml"))
    if output is None:
        click.echo(text, nl=False)
    else:
        _write(output, text, force)
    for finding in imported.notes:
        click.echo(finding.render(), err=True)
    where = str(output) if output is not None else "stdout"
    summary = f"imported {experiment} → {where}: {len(imported.warnings)} warning(s)"
    click.echo(summary + "; objectives are placeholders to fill in (nothing was made up)", err=True)
    return 0


def _render(imported: Imported, experiment: Path) -> str:
    from runner.importers.yamlwriter import dump

    header = (
        f"Imported from the Chaos Toolkit experiment {experiment.name} by `fireline import chaostoolkit`.",
        "Review every PLACEHOLDER before the first run.",
    )
    return dump(imported.document, imported.comments, header, imported.trailer)


def _check(text: str, path: Path) -> None:
    """The scenario must validate before anyone sees it; if it does not, that is said, and nothing is
    written."""
    from runner.document.diagnostics import DocumentInvalid
    from runner.document.gameday import check_gameday
    from runner.document.yamlsource import load_text

    try:
        problems = check_gameday(load_text(text.encode("utf-8"), str(path)))
    except DocumentInvalid as exc:
        problems = list(exc.diagnostics)
    if problems:
        listed = "\n".join(f"  {p.path}: {p.message}" for p in problems)
        raise ImportRefused(
            f"the imported scenario would not validate, so nothing was written:\n{listed}",
            hint="the experiment uses something the import does not handle yet; please report it",
        )


def _write(output: Path, text: str, force: bool) -> None:
    """Atomically: a reader never sees half a scenario, and a failure leaves any existing file as it was."""
    directory = output.parent if str(output.parent) else Path(".")
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{output.name}.", dir=directory)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(temp, 0o666 & ~_umask())  # as any file the user creates (mkstemp makes it private)
        if not force and output.exists():
            raise UsageError(f"{output} already exists: nothing was written", hint="pass --force to overwrite it")
        os.replace(temp, output)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
