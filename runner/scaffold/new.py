"""A runbook skeleton written from a kind's template: the name checked (a safe identifier, so it can stand in
the file as it is), the file never written over unless asked."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

from runner.errors import UsageError
from runner.files import relative, write_new

TEMPLATES = Path(__file__).resolve().parent
# The runbook schema's own rule for metadata.name (kebab-case), and a length that fits a file name and a label.
NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class Kind(StrEnum):
    AVAILABILITY = "availability"
    PERFORMANCE = "performance"
    SECURITY = "security"
    DATABASE = "database"
    DEPLOY = "deploy"


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise UsageError(
            f"{name[:70]!r} is not a runbook name",
            hint="use lower-case letters, digits and dashes, starting and ending with a letter or digit, at most "
            "63 characters (e.g. checkout-down); it becomes metadata.name and the file name",
        )
    return name


def default_path(name: str) -> Path:
    return Path("runbooks") / f"{name}.yaml"


def render(kind: Kind, name: str, where: Path) -> str:
    """The template of `kind` for runbook `name`, to be written in directory `where`. `name` is checked (only
    letters, digits and dashes): it is put in the text as it is, where the template says __NAME__."""
    from runner.actions.declarations import schema_dir

    check_name(name)
    title = name.replace("-", " ").capitalize()
    schema = relative(schema_dir() / "runbook.schema.json", where)
    text = (TEMPLATES / f"{kind.value}.yaml").read_text(encoding="utf-8")
    return text.replace("__SCHEMA__", schema).replace("__NAME__", name).replace("__TITLE__", title)


def write(kind: Kind, name: str, path: Path, force: bool) -> bool:
    """Write the skeleton at `path`; True when it replaced a file (only with `force`)."""
    if path.is_dir():
        raise UsageError(f"{path} is a directory", hint=f"give a file name, e.g. -o {path / (name + '.yaml')}")
    text = render(kind, name, path.resolve().parent)
    return write_new(path, text, force)
