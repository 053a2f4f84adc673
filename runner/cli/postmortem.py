"""`fireline postmortem draft|validate|render`: the post-mortem drafted from the journal, checked (schema and
blameless language) and rendered to Markdown, HTML or PDF.

Thin: parse, call runner.postmortem, print, exit code. Everything heavier than click is imported inside the
command that needs it, so `fireline --help` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from runner.cli.identity import as_option, command_actor, command_journal, policy_option
from runner.errors import FirelineError, UsageError

if TYPE_CHECKING:
    from runner.document.diagnostics import Diagnostic
    from runner.postmortem.document import PostMortem

SUFFIXES = {"md": ".md", "html": ".html", "pdf": ".pdf"}


@click.group()
def postmortem() -> None:
    """Blameless post-mortems: drafted from the incident's journal, reviewed by people, rendered."""


@postmortem.command()
@click.argument("incident_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write it (default postmortems/INC-ID.yaml).")  # fmt: skip
@click.option("--force", is_flag=True, help="Regenerate a draft people have edited, keeping the fields they wrote.")
@policy_option
@as_option
def draft(incident_id: str, output: Path | None, force: bool, policy: str | None, actor: str | None) -> int:
    """Draft the post-mortem of INCIDENT_ID from the journal: summary, timeline, impact, root cause, five whys,
    what went well and wrong (measured against the severity's targets) and action items. A file people have
    edited is never overwritten (see --force)."""
    from runner.policy import policy_in_force
    from runner.postmortem.document import default_path
    from runner.postmortem.draft import write_draft

    wanted = incident_id.strip().upper()
    path = output or default_path(wanted)
    levels = policy_in_force(policy)
    done = write_draft(command_journal(), wanted, path, force=force, policy=levels, actor=command_actor(actor))
    verb = "redrafted" if done.merged else "drafted"
    click.echo(f"{verb} {path} from the journal of {wanted} ({done.digest[:19]})")
    if done.kept:
        click.echo("kept what people wrote in: " + ", ".join(done.kept))
    click.echo(f"next: review it, then `fireline postmortem validate {path}` and "
               f"`fireline postmortem render {path} --format md`")  # fmt: skip
    return 0


@postmortem.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Blameless-language warnings fail the check (exit 1).")
@click.option("--names", metavar="NAME[,NAME…]", multiple=True,
              help="More names of people to look for (besides the incident's roles, participants and authors).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@policy_option
def validate(files: tuple[Path, ...], strict: bool, names: tuple[str, ...], fmt: str, policy: str | None) -> int:
    """Check post-mortem files: schema errors with file:line:col, then blameless-language warnings with the
    systemic question to ask instead (warnings fail only with --strict)."""
    from runner.document.diagnostics import DocumentInvalid
    from runner.postmortem.document import load

    configured = [n.strip() for given in names for n in given.split(",") if n.strip()] + _policy_names(policy)
    errors: dict[str, list[Diagnostic]] = {}
    warnings: dict[str, list[Diagnostic]] = {}
    for path in files:
        try:
            pm = load(path)
        except DocumentInvalid as exc:
            errors[str(path)], warnings[str(path)] = list(exc.diagnostics), []
            continue
        errors[str(path)], warnings[str(path)] = [], _blame(pm, configured)
    _report(errors, warnings, fmt)
    if any(errors.values()):
        return 1
    return 1 if strict and any(warnings.values()) else 0


def _policy_names(policy: str | None) -> list[str]:
    from runner.policy import current_policy

    found = current_policy(policy)
    section = found.data.get("postmortem") if found is not None else None
    return [str(n) for n in section.get("names") or []] if isinstance(section, dict) else []


def _blame(pm: PostMortem, configured: list[str]) -> list[Diagnostic]:
    from runner.postmortem.blameless import check

    assert pm.doc is not None  # loaded from a file
    return check(pm.doc, [*configured, *pm.authors, *_people(pm.incident)])


def _people(incident_id: str) -> list[str]:
    """The incident's roles and participants, when the incident is in this journal."""
    from runner.incident.store import load

    try:
        journal = command_journal()
        incident = load(journal, incident_id)
    except FirelineError:
        return []  # not in this store (a post-mortem reviewed elsewhere): the other names still count
    return [*incident.roles.values(), *incident.participants, *([incident.declared_by] if incident.declared_by else [])]


def _report(errors: dict[str, list[Diagnostic]], warnings: dict[str, list[Diagnostic]], fmt: str) -> None:
    if fmt == "json":
        from dataclasses import asdict

        files = [{"file": name, "valid": not errors[name], "errors": [asdict(d) for d in errors[name]],
                  "warnings": [asdict(d) for d in warnings[name]]} for name in errors]  # fmt: skip
        click.echo(json.dumps({"valid": not any(errors.values()), "files": files}, indent=2))
        return
    for name in errors:
        for d in errors[name]:
            click.echo(d.render())
        for d in warnings[name]:
            where = f"{d.path}: " if d.path else ""
            hint = f" (hint: {d.hint})" if d.hint else ""
            click.echo(f"{d.file}:{d.line}:{d.col}: warning: {where}{d.message}{hint}")
    bad = sum(1 for diags in errors.values() if diags)
    count = sum(len(w) for w in warnings.values())
    said = f"{len(errors)} file(s) checked: " + (f"{bad} invalid" if bad else "all valid")
    click.echo(said + f", {count} blameless-language warning(s)")


@postmortem.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(list(SUFFIXES)), required=True)
@click.option("-o", "--output", metavar="OUT", help="Where to write it (default: FILE with the format's suffix; "
              "- for standard output, md and html only).")  # fmt: skip
@as_option
def render(file: Path, fmt: str, output: str | None, actor: str | None) -> int:
    """Render a post-mortem: Markdown in the classic template's shape, one self-contained HTML file with the
    incident's timeline picture, or PDF. The rendering is recorded on the incident (what `incident close`
    asks for)."""
    from runner.postmortem.document import load, write_bytes

    pm = load(file)
    content = _rendered(pm, fmt)
    if output == "-":
        if fmt == "pdf":
            raise UsageError("a PDF is not written to standard output", hint="give a file with -o")
        sys.stdout.write(content.decode("utf-8"))
        return 0
    target = Path(output) if output else file.with_suffix(SUFFIXES[fmt])
    if target.resolve() == file.resolve():
        raise UsageError(f"{target} is the post-mortem itself: rendering would overwrite it", hint="choose -o")
    digest = write_bytes(target, content)
    click.echo(f"rendered {file} as {fmt}: {target} ({digest[:19]})")
    _record(pm, target, fmt, digest, actor)
    return 0


def _rendered(pm: PostMortem, fmt: str) -> bytes:
    if fmt == "md":
        from runner.postmortem.render_md import render_markdown

        return render_markdown(pm).encode("utf-8")
    if fmt == "html":
        from runner.postmortem.render_html import render_html

        return render_html(pm).encode("utf-8")
    from runner.postmortem.render_pdf import render_pdf

    return render_pdf(pm)


def _record(pm: PostMortem, target: Path, fmt: str, digest: str, actor: str | None) -> None:
    from runner.incident.store import UnknownIncident, incident_events
    from runner.postmortem.record import Action, record

    journal = command_journal()
    try:
        incident_events(journal, pm.incident)
    except UnknownIncident:
        click.echo(f"note: {pm.incident} is not in the journal at {journal.location}: the rendering is not recorded",
                   err=True)  # fmt: skip
        return
    record(journal, pm.incident, Action.RENDERED, str(target), fmt, digest, command_actor(actor))
