"""The incident's vocabulary: severities, types, statuses, roles, milestones, note and link kinds, and which
status may follow which."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from runner.errors import UsageError


class Severity(StrEnum):
    SEV1 = "SEV1"  # critical
    SEV2 = "SEV2"  # high
    SEV3 = "SEV3"  # medium
    SEV4 = "SEV4"  # low

    @property
    def rank(self) -> int:
        """1 for SEV1 (the most severe) … 4 for SEV4."""
        return int(self.value[3:])


class IncidentType(StrEnum):
    AVAILABILITY = "availability"
    PERFORMANCE = "performance"
    SECURITY = "security"
    DATA = "data"
    DRILL = "drill"  # a game day's practice incident: kept apart from real ones in metrics


class Status(StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    CLOSED = "closed"  # after its post-mortem; final


class Role(StrEnum):
    COMMANDER = "commander"
    TECH_LEAD = "tech-lead"
    COMMS = "comms"
    SCRIBE = "scribe"
    PARTICIPANT = "participant"  # free-form: any number of people, no single holder


class Milestone(StrEnum):
    """Every interval the metrics report starts at STARTED (impact start)."""

    STARTED = "started"
    DETECTED = "detected"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"


class NoteKind(StrEnum):
    OBSERVATION = "observation"
    DECISION = "decision"
    ROOT_CAUSE = "root-cause"
    ACTION = "action"


class LinkKind(StrEnum):
    RUNBOOK = "runbook"
    PLAN = "plan"
    GAMEDAY = "gameday"


# Which status may follow which. Work goes back as well as forward (a fix that did not hold sends monitoring
# back to investigating; a resolved incident can be reopened); closed is final.
TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    Status.INVESTIGATING: frozenset({Status.IDENTIFIED, Status.MONITORING, Status.RESOLVED}),
    Status.IDENTIFIED: frozenset({Status.INVESTIGATING, Status.MONITORING, Status.RESOLVED}),
    Status.MONITORING: frozenset({Status.INVESTIGATING, Status.IDENTIFIED, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.INVESTIGATING, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}
# Statuses after which no status update is due and nothing is overdue.
FINISHED = frozenset({Status.RESOLVED, Status.CLOSED})


def allowed_next(status: Status) -> list[Status]:
    """The statuses that may follow `status`, in the order of the life of an incident."""
    return [s for s in Status if s in TRANSITIONS[status]]


E = TypeVar("E", bound=StrEnum)


def parse_enum(kind: type[E], text: str, what: str) -> E:
    """`text` as a member of `kind` (case-insensitive), or a usage error that lists the choices."""
    cleaned = text.strip()
    for member in kind:
        if member.value.lower() == cleaned.lower():
            return member
    shown = repr(cleaned) if len(cleaned) <= 40 else repr(cleaned[:37] + "...")
    raise UsageError(f"{shown} is not a {what}: choose one of {', '.join(m.value for m in kind)}")
