"""Closing an incident: the last step of its life, taken once its lessons are written down and its follow-up
work has someone and a date. `close_problems` says everything still missing, each with the command that fixes
it; `close` records the status change and `incident.closed` only when nothing is."""

from __future__ import annotations

from dataclasses import dataclass

from runner.errors import FirelineError
from runner.incident import events as ev
from runner.incident.action_items import ActionItem, Priority, items_of
from runner.incident.lifecycle import change_status
from runner.incident.model import Status
from runner.incident.store import append
from runner.incident.view import Incident
from runner.journal.store import Journal
from runner.postmortem.record import Action, records


@dataclass(frozen=True)
class Missing:
    what: str
    fix: str  # the command that fixes it


class CloseRefused(FirelineError):
    """Something the incident's close needs is missing (exit 1)."""


def close_problems(journal: Journal, incident: Incident) -> list[Missing]:
    """Everything that keeps the incident from being closed, in the order to fix it."""
    found = []
    if incident.status is not Status.RESOLVED:
        found.append(Missing(f"it is {incident.status}, not resolved", f"fireline incident resolve {incident.id}"))
    if not _rendered(journal, incident.id):
        found.append(Missing(
            "its post-mortem has not been rendered",
            f"fireline postmortem draft {incident.id}, then fireline postmortem render "
            f"postmortems/{incident.id}.yaml --format md",
        ))  # fmt: skip
    for item in items_of(journal, incident.id):
        found.extend(_item_problems(item))
    return found


def _item_problems(item: ActionItem) -> list[Missing]:
    """A high-priority item still to be done needs a person and a date, or it will not be."""
    if item.priority is not Priority.HIGH or not item.is_open:
        return []
    lacking = [what for what, value in (("no owner", item.owner), ("no due date", item.due)) if not value]
    if not lacking:
        return []
    options = " ".join(
        opt for opt, value in (("--owner NAME", item.owner), ("--due YYYY-MM-DD", item.due)) if not value
    )
    return [Missing(f"high-priority action item {item.id} ({item.title}) has {' and '.join(lacking)}",
                    f"fireline actions update {item.id} {options}")]  # fmt: skip


def _rendered(journal: Journal, incident_id: str) -> bool:
    """A post-mortem of the incident was rendered (md, html or pdf) at least once."""
    return any(r.action == Action.RENDERED for r in records(journal, incident_id))


def close(journal: Journal, incident: Incident, reason: str, actor: str | None) -> bool:
    """Close the incident; False when it is closed already. Refuses (CloseRefused) with every missing thing."""
    if incident.status is Status.CLOSED:
        return False
    missing = close_problems(journal, incident)
    if missing:
        lines = [f"{incident.id} cannot be closed yet:"]
        lines += [f"  - {m.what}\n      fix: {m.fix}" for m in missing]
        raise CloseRefused("\n".join(lines))
    change_status(journal, incident, Status.CLOSED, actor, closing=True)
    append(journal, incident.id, ev.IncidentClosed(reason), actor)
    return True
