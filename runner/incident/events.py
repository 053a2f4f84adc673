"""Typed payloads of incident events: one frozen dataclass per event type (runner.journal.payloads).

Times people give, or that mark milestones, are wall-clock UTC ISO 8601 strings ending in `Z`: an incident
spans machines and days, so a monotonic clock says nothing about it. Names of milestones, statuses, roles
and kinds are kept as their text: a newer fireline may write values this one does not know, and readers
(runner.incident.view) skip those instead of misreading them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Any, ClassVar

from runner.incident.model import IncidentType, Severity
from runner.journal.incidents import CLOSED as CLOSED
from runner.journal.incidents import CORRECTED as CORRECTED
from runner.journal.incidents import DECLARED as DECLARED
from runner.journal.incidents import MILESTONE as MILESTONE
from runner.journal.incidents import SEVERITY_CHANGED as SEVERITY_CHANGED
from runner.journal.incidents import STATUS_CHANGED as STATUS_CHANGED
from runner.journal.payloads import Payload, event_payload

# The types the journal's incident index reads are named there (the layer below); the others here.
ROLE_ASSIGNED = "incident.role_assigned"
NOTE = "incident.note"
UPDATE = "incident.update"
LINKED = "incident.linked"

TYPES = (DECLARED, MILESTONE, CORRECTED, STATUS_CHANGED, SEVERITY_CHANGED, ROLE_ASSIGNED, NOTE, UPDATE, LINKED,
         CLOSED)  # fmt: skip


@event_payload
class IncidentDeclared(Payload):
    """The first event of an incident's stream."""

    TYPE: ClassVar[str] = DECLARED
    # An unreadable severity counts as the most severe one: under-rating an incident is the worse mistake.
    MISSING: ClassVar[Mapping[str, Any]] = {"title": "?", "severity": "SEV1", "type": "availability"}
    OMIT: ClassVar[frozenset[str]] = frozenset({"commander", "assessment", "drill_of"})
    title: str
    severity: Severity
    type: IncidentType
    systems: tuple[str, ...] = ()
    impact: str = ""
    started_at: str = ""  # impact start, UTC ISO 8601 (Z); the declaration's time unless given earlier
    commander: str | None = None
    assessment: Mapping[str, Any] | None = None  # {"criteria": {key: value given}, "why": [reasons]}
    drill_of: str | None = None  # the game day this drill incident belongs to
    policy: str = ""  # digest of the severity policy in force when declared


@event_payload
class IncidentMilestone(Payload):
    """A milestone reached. The FIRST event per name counts; a later `incident.corrected` overrides it."""

    TYPE: ClassVar[str] = MILESTONE
    MISSING: ClassVar[Mapping[str, Any]] = {"name": "?"}
    name: str  # a model.Milestone value
    at: str  # UTC ISO 8601 (Z)
    source: str = ""  # "command", "run RUN_ID step STEP", "gameday GD_ID", "alert …"


@event_payload
class IncidentCorrected(Payload):
    """A milestone recorded late or wrong, set right: who (the event's actor), why, the old and new times."""

    TYPE: ClassVar[str] = CORRECTED
    MISSING: ClassVar[Mapping[str, Any]] = {"milestone": "?"}
    milestone: str
    old: str | None  # None: the milestone had not been recorded
    new: str
    reason: str = ""


@event_payload
class IncidentStatusChanged(Payload):
    TYPE: ClassVar[str] = STATUS_CHANGED
    old: str  # model.Status values
    new: str


@event_payload
class IncidentSeverityChanged(Payload):
    TYPE: ClassVar[str] = SEVERITY_CHANGED
    MISSING: ClassVar[Mapping[str, Any]] = {"old": "SEV1", "new": "SEV1"}
    old: Severity
    new: Severity
    reason: str = ""


@event_payload
class IncidentRoleAssigned(Payload):
    TYPE: ClassVar[str] = ROLE_ASSIGNED
    role: str  # a model.Role value; "participant" adds a participant
    name: str


@event_payload
class IncidentNote(Payload):
    TYPE: ClassVar[str] = NOTE
    text: str
    kind: str = "observation"  # a model.NoteKind value


@event_payload
class IncidentUpdate(Payload):
    """A status update as recorded (and, once channels exist, as sent)."""

    TYPE: ClassVar[str] = UPDATE
    OMIT: ClassVar[frozenset[str]] = frozenset({"eta", "next_update_at"})
    status: str
    summary: str
    impact: str = ""
    actions: tuple[str, ...] = ()
    eta: str | None = None
    next_update_at: str | None = None  # UTC ISO 8601 (Z); None: no further update is due
    shape: str = ""  # initial | progress | resolution (runner.incident.updates)
    message: str = ""  # the text rendered from the shape's template
    channels: tuple[str, ...] = field(default_factory=tuple)  # where it was to be delivered


@event_payload
class IncidentLinked(Payload):
    """A runbook run, a plan or a game day that belongs to the incident."""

    TYPE: ClassVar[str] = LINKED
    run_id: str
    kind: str = "runbook"  # a model.LinkKind value
    name: str = ""  # the runbook's or scenario's name


@event_payload
class IncidentClosed(Payload):
    TYPE: ClassVar[str] = CLOSED
    reason: str = ""
