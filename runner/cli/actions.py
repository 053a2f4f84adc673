"""`fireline actions add|list|update|sync`: an incident's action items, tracked until they are done.

Thin: parse, call runner.incident.action_items, render, exit code. Also `incident close` (registered into the
incident group), whose gate is about the post-mortem and these items.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from runner.cli.identity import as_option, command_actor, command_journal

if TYPE_CHECKING:
    from runner.incident.action_items import ActionItem

TITLE_WIDTH = 48  # the table fits 120 columns; --format json has every title whole


@click.group()
def actions() -> None:
    """Action items from incidents: add, list (--overdue), update, and sync with the post-mortem file."""


@actions.command()
@click.argument("incident_id")
@click.argument("title")
@click.option("--owner", required=True, help="Who sees it done.")
@click.option("--due", required=True, metavar="YYYY-MM-DD", help="When it is due (a UTC day).")
@click.option("--priority", required=True, metavar="high|medium|low")
@click.option("--type", "type_", default="corrective", show_default=True, metavar="corrective|preventive|detective")
@click.option("--verify-gameday", metavar="SCENARIO", help="Done only once a game day of SCENARIO passes after now.")
@click.option("--note", default="", help="Why, or details.")
@as_option
def add(
    incident_id: str, title: str, owner: str, due: str, priority: str, type_: str, verify_gameday: str | None,
    note: str, actor: str | None,
) -> int:  # fmt: skip
    """Add an action item to INCIDENT_ID (open or closed); prints its id (INC-…-A1)."""
    from runner.incident import action_items as ai

    new = ai.NewItem(
        title=ai.clean_title(title),
        owner=ai.clean_owner(owner),
        due=ai.parse_due(due),
        priority=ai.parse_choice(ai.Priority, priority, "priority"),
        type=ai.parse_choice(ai.ItemType, type_, "type"),
        verify_gameday=ai.clean_scenario(verify_gameday) if verify_gameday is not None else None,
    )
    new_id = ai.add_item(command_journal(), incident_id, new, command_actor(actor), note=note)
    click.echo(new_id)
    if new.due is not None and new.due < ai.today_utc():
        click.echo(f"  note: due {new.due} is already past: it is listed as overdue", err=True)
    return 0


@actions.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only items not done and not wont-do.")
@click.option("--overdue", is_flag=True, help="Only open items due before today (UTC).")
@click.option("--owner", help="Only this owner's items.")
@click.option("--incident", "incident_id", metavar="ID", help="Only this incident's items.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def list_(open_only: bool, overdue: bool, owner: str | None, incident_id: str | None, fmt: str) -> int:
    """Action items, by incident."""
    from runner.incident import action_items as ai
    from runner.incident.store import incident_events

    journal = command_journal()
    if incident_id is not None:
        found = ai.items_of(journal, incident_id)
        if not found:
            incident_events(journal, incident_id.strip().upper())  # an unknown incident is a mistake, not "none"
    else:
        found = ai.all_items(journal)
    today = ai.today_utc()
    chosen = [
        i for i in found
        if (not open_only or i.is_open) and (not overdue or i.overdue(today))
        and (owner is None or (i.owner or "").lower() == owner.strip().lower())
    ]  # fmt: skip
    if fmt == "json":
        click.echo(json.dumps([i.to_json(today) for i in chosen], indent=2, ensure_ascii=False))
        return 0
    if not chosen:
        click.echo("no " + ("overdue " if overdue else "open " if open_only else "") + "action items")
        return 0
    click.echo(table(chosen, today))
    return 0


def table(items: list[ActionItem], today: date) -> str:
    rows = [("ID", "PRIORITY", "STATUS", "OWNER", "DUE", "TITLE")]
    for item in items:
        late = item.days_late(today)
        due = (str(item.due) if item.due else "-") + (f" ({late}d overdue)" if late else "")
        title = item.title if len(item.title) <= TITLE_WIDTH else item.title[: TITLE_WIDTH - 1] + "…"
        verify = f" [verify: game day {item.verify_gameday}]" if item.verify_gameday and item.is_open else ""
        rows.append((item.id, str(item.priority), str(item.status), item.owner or "-", due, title + verify))
    widths = [max(len(r[c]) for r in rows) for c in range(5)]
    return "\n".join("  ".join(r[c].ljust(widths[c]) for c in range(5)) + "  " + r[5] for r in rows)


@actions.command()
@click.argument("item_id", metavar="ID")
@click.option("--status", metavar="not-started|in-progress|done|wont-do")
@click.option("--note", default="", help="What happened (required for wont-do).")
@click.option("--owner", help="A new owner.")
@click.option("--due", metavar="YYYY-MM-DD", help="A new due date.")
@click.option("--priority", metavar="high|medium|low")
@click.option("--verified-by", metavar="GAMEDAY_ID", help="The passed game day that proves the item done.")
@as_option
def update(
    item_id: str, status: str | None, note: str, owner: str | None, due: str | None, priority: str | None,
    verified_by: str | None, actor: str | None,
) -> int:  # fmt: skip
    """Change an action item's status, owner, due date or priority, or add a note."""
    from runner.errors import UsageError
    from runner.incident import action_items as ai

    if all(v is None for v in (status, owner, due, priority, verified_by)) and not note.strip():
        raise UsageError("nothing to update", hint="give --status, --owner, --due, --priority or --note")
    change = ai.ItemChange(
        status=ai.parse_choice(ai.ItemStatus, status, "status") if status is not None else None,
        owner=ai.clean_owner(owner) if owner is not None else None,
        due=ai.parse_due(due) if due is not None else None,
        priority=ai.parse_choice(ai.Priority, priority, "priority") if priority is not None else None,
        verified_by=verified_by,
    )
    text = ai.clean_note(note)
    journal = command_journal()
    item = ai.find(journal, item_id)
    changed = ai.update_item(journal, item, change, command_actor(actor), note=text)
    if changed is None:
        click.echo(f"{item.id}: nothing to change: nothing recorded")
        return 0
    for name, value in changed.items():
        before = getattr(item, name)
        shown = "-" if before is None else str(before)
        click.echo(f"{item.id}: {name.replace('_', ' ')} {shown} → {value if value is not None else '-'}")
    if text:
        click.echo(f"{item.id}: noted")
    return 0


@actions.command()
@click.argument("path", metavar="FILE", type=click.Path(path_type=Path))
@click.option("--on-conflict", type=click.Choice(["journal", "refuse"]), default="journal", show_default=True,
              help="An item changed both in the file and in the journal since the last sync: keep the journal's "
              "(and say so), or change nothing at all.")  # fmt: skip
@as_option
def sync(path: Path, on_conflict: str, actor: str | None) -> int:
    """Make the post-mortem FILE's action_items and the journal's the same items (both ways)."""
    from runner.incident.action_sync import sync as sync_items

    report = sync_items(command_journal(), path, command_actor(actor), refuse_conflicts=on_conflict == "refuse")
    for line in report.lines():
        click.echo(line)
    return 0


# -- incident close (registered into the incident group) ---------------------------------------------------------


@click.command("close")
@click.argument("incident_id")
@click.option("--reason", default="", help="Why it is closed (e.g. post-mortem reviewed).")
@as_option
def close(incident_id: str, reason: str, actor: str | None) -> int:
    """Close a resolved incident: needs a rendered post-mortem, and an owner and a due date on every open
    high-priority action item. A refusal lists everything missing, with the command that fixes each."""
    from runner.incident.action_items import clean_note
    from runner.incident.closing import close as close_incident
    from runner.incident.store import load

    why = clean_note(reason)
    journal = command_journal()
    found = load(journal, incident_id)
    if close_incident(journal, found, why, command_actor(actor)):
        click.echo(f"{found.id}: status {found.status} → closed")
    else:
        click.echo(f"{found.id} is closed already: nothing recorded")
    return 0
