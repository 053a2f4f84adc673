"""`fireline postmortem draft`: the post-mortem as far as the journal knows it — the summary from the incident's
fields and milestones, the timeline (milestones, alerts, status updates as sent, decisions and notes, runbook
steps that changed something, approvals) with full UTC dates, the impact, the root cause from notes of kind
root-cause, five whys, what went well and wrong from the measured facts, and the action items.

It builds on the incident timeline (runner.incident.timeline.collect): the same events, the same order, so
the post-mortem cannot disagree with `incident timeline`. Events of types added by other parts of fireline
(alerts, deliveries, verification, action items) are read through their owners' payload classes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner import __version__
from runner.document.diagnostics import DocumentInvalid
from runner.errors import FirelineError
from runner.incident import events as iev
from runner.incident.action_items import fields_of, items_of
from runner.incident.action_sync import file_entry
from runner.incident.delivery import DELIVERY, IncidentDelivery
from runner.incident.gate import VERIFICATION, IncidentVerification
from runner.incident.intake import one_line
from runner.incident.metrics import Facts, Interval, facts_of
from runner.incident.model import Milestone, NoteKind
from runner.incident.timeline import INCIDENT, Entry, Timeline, collect, zone
from runner.incident.times import span
from runner.incident.view import Incident, parse_utc
from runner.journal import events as ev
from runner.journal.incidents import ALERT
from runner.journal.store import Journal
from runner.postmortem import document, generation, record
from runner.postmortem.facts import (
    ApprovalWait,
    DeliveryOutcome,
    Evidence,
    StepOutcome,
    Verification,
    judge,
    spoken,
)
from runner.postmortem.targets import targets

if TYPE_CHECKING:
    from runner.policy import Policy

TEXT_LIMIT = 2000  # characters of one timeline line; the journal keeps the whole text
FIVE_WHYS = 5
_MILESTONE_WORDS = {
    Milestone.STARTED: "Impact started",
    Milestone.DETECTED: "Detected",
    Milestone.ACKNOWLEDGED: "Acknowledged",
    Milestone.MITIGATED: "Mitigated",
    Milestone.RESOLVED: "Resolved",
}
# A status change within this many seconds of a status update to the same status is the update's own.
_SAME_MOMENT_S = 5.0


@dataclass(frozen=True)
class Row:
    at: datetime
    kind: str  # milestone | alert | update | decision | note | step | approval | delivery | verification | other
    text: str
    source: str

    def data(self) -> dict[str, Any]:
        return {"at": stamp(self.at), "kind": self.kind, "text": self.text, "source": self.source}


def stamp(moment: datetime) -> str:
    """A full UTC date and time, to the second: 2026-12-04T09:01:02Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(journal: Journal, incident_id: str, policy: Policy | None, now: datetime | None = None) -> dict[str, Any]:
    """The post-mortem as drafted from the journal (every field fireline can fill; the rest empty for people)."""
    timeline = collect(journal, incident_id, zone(None))
    incident = timeline.incident
    facts = facts_of(incident)
    notes = _notes(timeline.entries)
    rows = _rows(timeline)
    evidence = _evidence(timeline, facts, policy)
    well, wrong = judge(evidence)
    root_causes = [text for kind, text in notes if kind == NoteKind.ROOT_CAUSE]
    return {
        "apiVersion": document.API_VERSION,
        "kind": document.KIND,
        "incident": incident.id,
        "title": incident.title,
        "status": "draft",
        "authors": [],
        "summary": _summary(incident, facts, timeline.entries),
        "timeline": [row.data() for row in rows],
        "impact": {
            "duration": _duration(facts),
            "systems": list(incident.systems),
            "user_impact": incident.impact,
            "users_affected": None,
            "revenue": None,
            "tickets": None,
        },
        # The latest root-cause note is the understanding the incident ended with; earlier ones stay listed.
        "root_cause": root_causes[-1] if root_causes else "",
        "contributing_factors": root_causes[:-1],
        "five_whys": _five_whys(incident, root_causes),
        "went_well": well,
        "went_wrong": wrong,
        "action_items": _action_items(journal, incident.id, notes),
        "lessons": [],
        "generated": {"at": stamp(now or datetime.now(UTC)), "by": f"fireline {__version__}"},
    }


# -- summary --------------------------------------------------------------------------------------------------


def _summary(incident: Incident, facts: Facts, entries: Sequence[Entry]) -> dict[str, Any]:
    times = {m.value: (stamp(incident.at(m)) if incident.at(m) else None) for m in Milestone}  # type: ignore[arg-type]
    return {
        "what": _what(incident, facts),
        "severity": str(incident.severity),
        "type": str(incident.type),
        **times,
        "duration": _duration(facts),
        "impact": incident.impact or _last_update_impact(entries),
        "resolution": _resolution(entries),
    }


def _what(incident: Incident, facts: Facts) -> str:
    """One sentence, as the template's summary opens: when, what was hit, for how long, how bad."""
    systems = ", ".join(incident.systems) or "the service"
    kind = f"{incident.severity} {incident.type} incident"
    seconds = facts.interval(Interval.TTR)
    started = facts.started
    if started is None:
        return f"{systems}: {kind}: {incident.title}"
    if seconds is not None and seconds >= 0:
        return f"On {started:%d %b %Y}, {systems} had a {kind} lasting {spoken(seconds)}: {incident.title}"
    return f"Since {started:%d %b %Y %H:%M} UTC, {systems} has had a {kind}, still ongoing: {incident.title}"


def _duration(facts: Facts) -> str | None:
    seconds = facts.interval(Interval.TTR)  # only a resolved incident has one
    return span(seconds) if seconds is not None and seconds >= 0 else None


def _last_update_impact(entries: Sequence[Entry]) -> str:
    impacts = [iev.IncidentUpdate.from_data(e.data).impact for e in entries if _own(e, iev.UPDATE)]
    return next((text for text in reversed(impacts) if text), "")


def _resolution(entries: Sequence[Entry]) -> str:
    """What the resolution update said; else the runbook runs that ran to the end."""
    for entry in reversed(entries):
        if _own(entry, iev.UPDATE):
            update = iev.IncidentUpdate.from_data(entry.data)
            if update.status == "resolved" or update.shape == "resolution":
                return _one_line(update.summary or update.message)
    done = [f"runbook {e.stream.name or e.stream.id} (run {e.stream.id}) succeeded" for e in entries
            if e.type == ev.RUN_FINISHED and ev.RunFinished.from_data(e.data).status == "succeeded"]  # fmt: skip
    return "; ".join(done).capitalize()


def _five_whys(incident: Incident, root_causes: Sequence[str]) -> list[dict[str, str]]:
    first = {"why": f"Why did this happen: {incident.title}?", "because": root_causes[-1] if root_causes else ""}
    return [first, *({"why": "", "because": ""} for _ in range(FIVE_WHYS - 1))]


# -- notes and action items --------------------------------------------------------------------------------------


def _notes(entries: Sequence[Entry]) -> list[tuple[str, str]]:
    """(kind, text) of every note on the incident, in order."""
    found = []
    for entry in entries:
        if _own(entry, iev.NOTE):
            note = iev.IncidentNote.from_data(entry.data)
            found.append((note.kind, note.text.strip()))
    return found


def _action_items(journal: Journal, incident_id: str, notes: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """The tracked items (`fireline actions`), then the notes of kind action not tracked yet."""
    tracked = _tracked(journal, incident_id)
    titles = {str(item.get("title", "")).strip().lower() for item in tracked}
    from_notes = [
        {"title": _one_line(text, 200), "owner": None, "due": None, "priority": "medium", "type": "corrective",
         "status": "not-started"}
        for kind, text in notes
        if kind == NoteKind.ACTION and text and _one_line(text, 200).lower() not in titles
    ]  # fmt: skip
    return [*tracked, *from_notes]


def _tracked(journal: Journal, incident_id: str) -> list[dict[str, Any]]:
    """The incident's action items as the post-mortem file writes them."""
    return [file_entry(fields_of(item), item.id, "") for item in items_of(journal, incident_id)]


# -- the timeline ------------------------------------------------------------------------------------------------


def _rows(timeline: Timeline) -> list[Row]:
    incident = timeline.incident
    rows = [Row(reached.at, "milestone", _milestone_text(m, reached.source, reached.actor), "incident")
            for m, reached in incident.milestones.items()]  # fmt: skip
    updates = [(e.at, iev.IncidentUpdate.from_data(e.data).status) for e in timeline.entries if _own(e, iev.UPDATE)]
    mutating: set[tuple[str, str | None]] = set()
    for entry in timeline.entries:
        if entry.type == ev.STEP_STARTED:
            mutating.add((entry.stream.id, entry.step_id))  # only changes and rollbacks have a line
        row = _row(entry, mutating, updates)
        if row is not None:
            rows.append(row)
    rows.sort(key=lambda row: row.at)  # stable: same-moment rows keep the journal's order
    return rows


def _milestone_text(milestone: Milestone, source: str, actor: str | None) -> str:
    text = _MILESTONE_WORDS[milestone]
    if source and source not in ("command", "declaration"):
        text += f" (by {source})"
    elif actor and milestone is not Milestone.STARTED:
        text += f" by {actor}"
    return text


def _row(entry: Entry, mutating: set[tuple[str, str | None]], updates: Sequence[tuple[datetime, str]]) -> Row | None:
    if entry.stream.kind == INCIDENT:
        kind_text = _incident_row(entry, updates)
        source = "incident"
    else:
        kind_text = _linked_row(entry, mutating)
        source = f"run {entry.stream.id}" if entry.stream.kind in ("runbook", "plan") else entry.stream.id
    if kind_text is None:
        return None
    kind, text = kind_text
    return Row(entry.at, kind, _one_line(text), source)


def _incident_row(entry: Entry, updates: Sequence[tuple[datetime, str]]) -> tuple[str, str] | None:
    t = entry.type
    if t == iev.DECLARED:
        p = iev.IncidentDeclared.from_data(entry.data)
        return "milestone", f"Incident declared: {p.severity} {p.type}{_by(entry)}"
    if t == iev.STATUS_CHANGED:
        p2 = iev.IncidentStatusChanged.from_data(entry.data)
        if any(status == p2.new and abs((at - entry.at).total_seconds()) <= _SAME_MOMENT_S for at, status in updates):
            return None  # the status update says it
        return "milestone", f"Status: {p2.new} (was {p2.old}){_by(entry)}"
    if t == iev.SEVERITY_CHANGED:
        p3 = iev.IncidentSeverityChanged.from_data(entry.data)
        reason = f": {p3.reason}" if p3.reason else ""
        return "decision", f"Severity changed from {p3.old} to {p3.new}{_by(entry)}{reason}"
    if t == iev.NOTE:
        note = iev.IncidentNote.from_data(entry.data)
        label = {"decision": "Decision", "root-cause": "Root cause", "action": "Action"}.get(note.kind, "Note")
        return ("decision" if note.kind == NoteKind.DECISION else "note"), f"{label}{_by(entry)}: {note.text}"
    if t == iev.UPDATE:
        return "update", _update_text(entry)
    if t == iev.CLOSED:
        return "milestone", f"Closed{_by(entry)}"
    if t in (ALERT, DELIVERY, VERIFICATION):
        return {ALERT: "alert", DELIVERY: "delivery", VERIFICATION: "verification"}[t], _capital(entry.text)
    return None  # milestones (from the view, corrected), roles, links, items and post-mortem records


def _update_text(entry: Entry) -> str:
    p = iev.IncidentUpdate.from_data(entry.data)
    to = f" to {', '.join(p.channels)}" if p.channels else ""
    # The summary people wrote, as it went out; the rest of the message is the template around it.
    said = p.summary or p.message
    return f"Status update ({p.status}){_by(entry)}{to}: {said}"


_LINKED_KINDS = {
    ev.RUN_STARTED: "step",
    ev.STEP_SUCCEEDED: "step",
    ev.STEP_FAILED: "step",
    ev.STEP_ATTEMPT_FAILED: "step",
    ev.STEP_ROLLED_BACK: "step",
    ev.STEP_APPROVED: "approval",
    ev.STEP_DECISION: "decision",
    ev.RUN_PAUSED: "approval",
    ev.RUN_FINISHED: "step",
}


def _linked_row(entry: Entry, mutating: set[tuple[str, str | None]]) -> tuple[str, str] | None:
    t = entry.type
    name = entry.stream.name or entry.stream.id
    if entry.stream.kind == "plan":
        return None  # a dry run changed nothing
    if entry.stream.kind == "gameday":
        return ("alert" if "alert" in t else "step"), f"Game day {name}: {entry.text}"
    if t == ev.STEP_SUCCEEDED and (entry.stream.id, entry.step_id) not in mutating:
        return None  # a read: it changed nothing
    if t == ev.RUN_PAUSED and "approv" not in ev.RunPaused.from_data(entry.data).reason:
        return None
    kind = _LINKED_KINDS.get(t)
    return None if kind is None else (kind, f"Runbook {name}: {entry.text}")


# -- evidence for what went well and wrong -------------------------------------------------------------------------


def _evidence(timeline: Timeline, facts: Facts, policy: Policy | None) -> Evidence:
    incident = timeline.incident
    level = policy.severities.get(str(incident.severity)) if policy is not None else None
    entries = timeline.entries
    detected = incident.milestones.get(Milestone.DETECTED)
    return Evidence(
        facts=facts,
        targets=targets(str(incident.severity), policy),
        cadence_s=level.update_cadence_s if level else None,
        cadence_text=level.update_cadence if level else "",
        declared_at=incident.declared_at,
        updates=tuple((e.at, parse_utc(iev.IncidentUpdate.from_data(e.data).next_update_at or ""))
                      for e in entries if _own(e, iev.UPDATE)),
        runs=_runs(entries),
        steps=_steps(entries),
        approvals=_approval_waits(entries),
        deliveries=_deliveries(entries),
        verifications=tuple(_verification(e) for e in entries if _own(e, VERIFICATION)),
        detected_by=detected.source if detected else "",
    )


def _runs(entries: Sequence[Entry]) -> tuple[tuple[str, str, str], ...]:
    found = []
    for e in entries:
        if e.type == ev.RUN_FINISHED and e.stream.kind == "runbook":
            found.append((e.stream.id, e.stream.name or e.stream.id, str(ev.RunFinished.from_data(e.data).status)))
    return tuple(found)


def _steps(entries: Sequence[Entry]) -> tuple[StepOutcome, ...]:
    """Each runbook step that changed something, failed or was retried, with its failed attempts."""
    retries: dict[tuple[str, str], int] = {}
    mutating: set[tuple[str, str]] = set()
    found: list[StepOutcome] = []
    for e in entries:
        if e.stream.kind != "runbook" or e.step_id is None:
            continue
        key = (e.stream.id, e.step_id)
        name = e.stream.name or e.stream.id
        if e.type == ev.STEP_STARTED:
            mutating.add(key)
        elif e.type == ev.STEP_ATTEMPT_FAILED:
            retries[key] = retries.get(key, 0) + 1
        elif e.type == ev.STEP_FAILED and not ev.StepFailed.from_data(e.data).rollback:
            error = _one_line(ev.StepFailed.from_data(e.data).error, 300)
            found.append(StepOutcome(e.stream.id, name, e.step_id, failed=True, retries=retries.pop(key, 0),
                                     error=error))  # fmt: skip
        elif e.type == ev.STEP_SUCCEEDED and (key in mutating or key in retries):
            found.append(StepOutcome(e.stream.id, name, e.step_id, retries=retries.pop(key, 0)))
    return tuple(found)


def _approval_waits(entries: Sequence[Entry]) -> tuple[ApprovalWait, ...]:
    """How long each approval kept its step waiting: from the run pausing at the gate to the approval."""
    paused: dict[tuple[str, str], datetime] = {}
    found = []
    for e in entries:
        if e.stream.kind != "runbook" or e.step_id is None:
            continue
        key = (e.stream.id, e.step_id)
        if e.type == ev.RUN_PAUSED:
            paused.setdefault(key, e.at)
        elif e.type == ev.STEP_APPROVED and key in paused:
            approved = ev.StepApproved.from_data(e.data)
            waited = (e.at - paused.pop(key)).total_seconds()
            found.append(ApprovalWait(e.stream.id, e.step_id, approved.principal or e.actor or "?", max(0.0, waited)))
    return tuple(found)


def _deliveries(entries: Sequence[Entry]) -> tuple[DeliveryOutcome, ...]:
    """The last attempt per (update, channel): a delivery retried until it went through went through."""
    last: dict[tuple[int, str], DeliveryOutcome] = {}
    for e in entries:
        if _own(e, DELIVERY):
            p = IncidentDelivery.from_data(e.data)
            last[(p.update_seq, p.channel)] = DeliveryOutcome(p.channel, p.ok, _one_line(p.detail, 200), p.attempts)
    return tuple(last.values())


def _verification(e: Entry) -> Verification:
    p = IncidentVerification.from_data(e.data)
    return Verification(p.passed, p.forced, _one_line(p.reason, 300), p.hold_s, len(p.checks))


# -- small helpers -------------------------------------------------------------------------------------------------


def _own(entry: Entry, type_: str) -> bool:
    return entry.stream.kind == INCIDENT and entry.type == type_


def _by(entry: Entry) -> str:
    return f" by {entry.actor}" if entry.actor else ""


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _one_line(text: str, limit: int = TEXT_LIMIT) -> str:
    """Text on one line (a table row), control characters dropped."""
    return one_line(text, limit)


# -- writing -------------------------------------------------------------------------------------------------------


class DraftRefused(FirelineError):
    """The file holds people's work that a draft would overwrite (exit 1: a refusal, not a typo)."""


@dataclass(frozen=True)
class Drafted:
    path: Path
    digest: str  # sha256 of the file written
    merged: bool  # an existing draft was regenerated
    kept: tuple[str, ...]  # fields where people's text was kept


def write_draft(journal: Journal, incident_id: str, path: Path, *, force: bool, policy: Policy | None,
                actor: str | None, now: datetime | None = None) -> Drafted:  # fmt: skip
    """Draft the post-mortem into `path` (see runner.postmortem.generation for what is kept), and record it."""
    new = generation.seal(generate(journal, incident_id, policy, now))
    merged = generation.Merged(new, ())
    existed = path.exists() or path.is_symlink()
    if existed:
        existing = _existing(path, str(new["incident"]))
        if generation.edited(existing) and not force:
            changed = generation.changed_fields(existing)
            shown = ", ".join(changed[:6]) + (", …" if len(changed) > 6 else "")
            raise DraftRefused(
                f"{path} has been edited since it was drafted ({shown}); not overwritten",
                hint="review it as it is, or draft again with --force: fireline's fields are regenerated and the "
                "fields people wrote are kept",
            )
        merged = generation.merge(existing, new)
    written = document.write(path, merged.data)
    record.record(journal, str(new["incident"]), record.Action.DRAFTED, str(path), "yaml", written, actor)
    return Drafted(path, written, existed, merged.kept)


def _existing(path: Path, incident_id: str) -> Mapping[str, Any]:
    """The file a draft would replace, as data; refused when it cannot be read (never overwritten then)."""
    try:
        data = document.read(path).data
    except DocumentInvalid as exc:
        raise DraftRefused(
            f"{path} exists and cannot be read as a post-mortem, so it is not overwritten:\n{exc}",
            hint="fix it or move it away, or write the draft elsewhere with -o",
        ) from None
    found = data.get("incident") if isinstance(data, Mapping) else None
    if found != incident_id:
        raise DraftRefused(f"{path} is the post-mortem of {str(found)[:40]!r}, not of {incident_id}",
                           hint="write the draft elsewhere with -o")  # fmt: skip
    return dict(data)
