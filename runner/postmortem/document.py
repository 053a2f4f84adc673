"""The post-mortem file (`postmortems/INC-ID.yaml`): loading it with every problem at file:line:col, as
runbooks are, and writing it back atomically in a stable shape that people can review in a diff.

YAML reads an unquoted `2026-12-11` as a date and `2026-12-04T09:01:02Z` as a timestamp; people write both
unquoted, so they are turned back into the text the schema describes before it is checked (a time without a
zone stays without one, and the schema says why it is refused)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from runner.document.diagnostics import Diagnostic, DocumentInvalid
from runner.document.schemas import validate_structure
from runner.document.yamlsource import Document, load_document
from runner.errors import UsageError

SCHEMA = "postmortem.schema.json"
KIND = "PostMortem"
API_VERSION = "fireline/v1"
DIRECTORY = Path("postmortems")

# The order fields are written in: the template's reading order; `generated` last, as bookkeeping.
ORDER = (
    "apiVersion", "kind", "incident", "title", "status", "authors", "summary", "timeline", "impact", "root_cause",
    "contributing_factors", "five_whys", "went_well", "went_wrong", "action_items", "lessons", "generated",
)  # fmt: skip
HEADER = (
    "# yaml-language-server: $schema=../schemas/postmortem.schema.json\n"
    "# A blameless post-mortem, drafted by fireline from the incident's journal. Edit freely: a later\n"
    "# `fireline postmortem draft` never overwrites your edits (with --force it keeps them).\n"
)


@dataclass(frozen=True)
class PostMortem:
    """A validated post-mortem: its data as plain values (what `dump`/`write` take back) and where it came
    from (positions for diagnostics)."""

    path: Path
    data: Mapping[str, Any]
    doc: Document | None = field(default=None, repr=False, compare=False)

    @property
    def incident(self) -> str:
        return str(self.data.get("incident", ""))

    @property
    def title(self) -> str:
        return str(self.data.get("title", ""))

    @property
    def status(self) -> str:
        return str(self.data.get("status", "draft"))

    @property
    def authors(self) -> tuple[str, ...]:
        return tuple(str(a) for a in self.data.get("authors") or ())

    @property
    def action_items(self) -> list[Mapping[str, Any]]:
        return list(self.data.get("action_items") or [])

    def summary_facts(self) -> list[tuple[str, object]]:
        """The summary's facts, (label, value), as the HTML and PDF renderings list them."""
        s: Mapping[str, Any] = self.data.get("summary") or {}
        return [("Severity", s.get("severity")), ("Started", s.get("started")), ("Detected", s.get("detected")),
                ("Acknowledged", s.get("acknowledged")), ("Mitigated", s.get("mitigated")),
                ("Resolved", s.get("resolved")), ("Duration", s.get("duration")), ("Impact", s.get("impact")),
                ("Resolution", s.get("resolution"))]  # fmt: skip

    def impact_facts(self) -> list[tuple[str, object]]:
        """The impact's facts, (label, value), as the HTML and PDF renderings list them."""
        i: Mapping[str, Any] = self.data.get("impact") or {}
        return [("Duration", i.get("duration")), ("Systems", ", ".join(str(s) for s in i.get("systems") or [])),
                ("User impact", i.get("user_impact")), ("Users affected", i.get("users_affected")),
                ("Revenue impact", i.get("revenue")), ("Support tickets", i.get("tickets"))]  # fmt: skip


def item_terms(item: Mapping[str, Any]) -> tuple[str, str, str]:
    """An action item's owner, due date and "priority, status, id", as the HTML and PDF renderings print them."""
    extra = ", ".join(str(item[k]) for k in ("priority", "status", "id") if item.get(k))
    return str(item.get("owner") or "owner to be named"), str(item.get("due") or "no due date"), extra


def default_path(incident_id: str) -> Path:
    """Where a post-mortem of the incident is written unless told otherwise (relative to the current dir)."""
    return DIRECTORY / f"{incident_id.strip().upper()}.yaml"


def load(path: Path, display_name: str | None = None) -> PostMortem:
    """Read and validate a post-mortem; raises DocumentInvalid listing every problem with file:line:col."""
    doc = read(path, display_name)
    problems = check(doc)
    if problems:
        raise DocumentInvalid(problems)
    return PostMortem(path, doc.data, doc)


def read(path: Path, display_name: str | None = None) -> Document:
    """The parsed file (YAML hazards refused, dates as text), not yet checked against the schema."""
    doc = load_document(path, display_name)
    doc.data = plain(doc.data)
    return doc


def check_parsed(doc: Document) -> list[Diagnostic]:
    """`check` for a document loaded by the generic loader (`fireline validate`): dates turned to text first."""
    doc.data = plain(doc.data)
    return check(doc)


def check(doc: Document) -> list[Diagnostic]:
    """Every problem of a parsed post-mortem: the schema's, then what a schema cannot say."""
    problems = validate_structure(doc, SCHEMA)
    if problems:
        return [_plainer(d) for d in problems]
    return _dates(doc) + _duplicate_ids(doc)


# The schema's patterns for times and days, as the person reading the error would say them.
_FORMS = {
    "(Z|[+-][0-9]{2}:[0-9]{2})$": ("is not a date and time with its zone", "write e.g. 2026-12-04T09:01:02Z (UTC)"),
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}$": ("is not a day", "write it as YYYY-MM-DD, e.g. 2026-12-11"),
    "^sha256:": ("is not a digest", "fireline writes it; remove the `generated` section rather than edit it"),
    "-A[0-9]+$": ("is not an action item id", "ids look like INC-2026-001-A1; leave it out for a new item"),
    "^INC-": ("is not an incident id", "ids look like INC-2026-001"),
}


def _plainer(found: Diagnostic) -> Diagnostic:
    """A pattern mismatch said in words instead of the regular expression."""
    if "does not match the expected form" not in found.message:
        return found
    value = found.message.split(" does not match", 1)[0]
    for tail, (said, hint) in _FORMS.items():
        if tail in found.message:
            return replace(found, message=f"{value} {said}", hint=hint)
    return found


def _dates(doc: Document) -> list[Diagnostic]:
    """A well-formed date that does not exist (2026-02-30), written in quotes (YAML itself refuses it
    unquoted)."""
    found = []
    for index, item in enumerate(doc.data.get("action_items") or []):
        due = item.get("due")
        if isinstance(due, str):
            try:
                date.fromisoformat(due)
            except ValueError:
                found.append(doc.diagnostic(("action_items", index, "due"), f"{due!r} is not a date",
                                            "write a day that exists, as YYYY-MM-DD"))  # fmt: skip
    return found


def _duplicate_ids(doc: Document) -> list[Diagnostic]:
    seen: dict[str, int] = {}
    found = []
    for index, item in enumerate(doc.data.get("action_items") or []):
        ident = item.get("id")
        if not isinstance(ident, str):
            continue
        if ident in seen:
            first = doc.mark(("action_items", seen[ident], "id")).line
            hint = f"first used at line {first}; each item has its own"
            found.append(doc.diagnostic(("action_items", index, "id"), f"action item id {ident!r} is used twice", hint))
        else:
            seen[ident] = index
    return found


def plain(value: Any) -> Any:
    """Dates and times as the text the schema describes; everything else as it is."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.isoformat()
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


class _Dumper(yaml.SafeDumper):
    """Multi-line text as literal blocks, so a reviewer reads it as written."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" in value.strip("\n") and not any(line != line.rstrip() for line in value.splitlines()):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _text)


def dump(data: Mapping[str, Any] | PostMortem) -> str:
    """The post-mortem as YAML, fields in the template's order (unknown ones after, as given)."""
    values = data.data if isinstance(data, PostMortem) else data
    values = plain(values)
    ordered = {key: values[key] for key in ORDER if key in values}
    ordered.update({key: value for key, value in values.items() if key not in ordered})
    body = yaml.dump(ordered, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110,
                     default_flow_style=False)  # fmt: skip
    return HEADER + body


def write(path: Path, data: Mapping[str, Any] | PostMortem) -> str:
    """Write the post-mortem atomically (a reader sees the old file or the new one, never half of one);
    returns the sha256 of the bytes written, as `sha256:HEX`."""
    return write_bytes(path, dump(data).encode("utf-8"))


class CannotWrite(UsageError):
    """The output file cannot be written where it was asked for."""


def write_bytes(path: Path, content: bytes) -> str:
    """Any output file written atomically (renderings too); returns `sha256:HEX` of its bytes."""
    try:
        return _write_bytes(path, content)
    except OSError as exc:
        raise CannotWrite(f"cannot write {path}: {exc.strerror or exc}", hint="choose another file with -o") from None


def _write_bytes(path: Path, content: bytes) -> str:
    if path.is_dir():
        raise IsADirectoryError(21, "it is a directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private; a post-mortem is shared: keep the old file's mode, else 0644.
        os.fchmod(fd, _mode_of(path))
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return "sha256:" + hashlib.sha256(content).hexdigest()


def _mode_of(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o644
