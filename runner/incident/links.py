"""Runs that respond to an incident: `fireline run RUNBOOK --incident ID` (and `plan`).

The link is recorded on both sides: the run names its incident in its run.started (kept on resume), and the
incident gets an `incident.linked` event once the run is recorded, before its first step. The incident's
timeline reads the linked run's own events, so its steps, approvals and outputs appear there without being
copied.

A runbook that says `metadata.mitigates: true` mitigates the incident it runs for: the first step that
changes production and succeeds sets the incident's `mitigated` milestone (at the step's end, source
"run RUN_ID step STEP"), unless the incident was mitigated already. A status update or any other outside
effect that is not a production change (the action's `production_change` trait) does not count.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from runner.actions.registry import traits
from runner.errors import FirelineError, UsageError
from runner.incident import events as iev
from runner.incident import store
from runner.incident.lifecycle import reach
from runner.incident.model import LinkKind, Milestone, Status
from runner.incident.view import parse_utc
from runner.journal import events as ev

if TYPE_CHECKING:
    from runner.incident.view import Incident
    from runner.journal.store import Journal


def open_incident(journal: Journal, incident_id: str) -> Incident:
    """The incident a run is to be linked to; a usage error, before anything runs, when the store holds no
    such incident or it is closed (its post-mortem is done: new work belongs to a new incident)."""
    try:
        incident = store.load(journal, incident_id)
    except store.UnknownIncident as unknown:
        raise UsageError(str(unknown), unknown.hint) from None
    if incident.status is Status.CLOSED:
        raise UsageError(
            f"incident {incident.id} is closed; a run cannot be linked to it",
            hint="declare a new incident with `fireline incident declare` (or run without --incident)",
        )
    return incident


def link(journal: Journal, incident_id: str, run_id: str, kind: LinkKind, name: str, actor: str) -> None:
    """Record on the incident that run `run_id` (a runbook run or a plan) belongs to it."""
    store.append(journal, incident_id, iev.IncidentLinked(run_id, kind.value, name), actor)


def changes_production(started: ev.StepStarted) -> bool:
    """A step that changes production when it succeeds: mutating, not a rollback, and the action's
    `production_change` trait. The mitigation watch and every reader that names the mitigating step agree."""
    return started.mutating and not started.rollback and traits(started.action).production_change


class MitigationWatch:
    """Passes a run's journal through and, for a runbook that mitigates, marks the incident mitigated when
    the first production change of the run succeeds. Only runs linked to an incident are wrapped: other runs
    pay nothing."""

    def __init__(self, journal: Journal, incident_id: str, actor: str, say: Callable[[str], None]) -> None:
        self.journal = journal
        self.incident_id = incident_id
        self.actor = actor
        self.say = say  # tells the responder (the run's reporter)
        self.done = False  # set, or found already set: nothing more to watch
        self._changing: set[str] = set()  # steps started as production changes and not yet ended

    def watching(self) -> Journal:
        return cast("Journal", self)

    def append(self, run_id: str, type_: str, **kwargs: Any) -> ev.Event:
        event: ev.Event = self.journal.append(run_id, type_, **kwargs)
        if not self.done and type_ in (ev.STEP_STARTED, ev.STEP_SUCCEEDED):
            self._observe(event)
        return event

    def __getattr__(self, name: str) -> Any:
        return getattr(self.journal, name)

    def _observe(self, event: ev.Event) -> None:
        if event.step_id is None:
            return
        if event.type == ev.STEP_STARTED:
            started = ev.StepStarted.of(event)
            if changes_production(started):
                self._changing.add(event.step_id)
            else:
                self._changing.discard(event.step_id)
        elif event.step_id in self._changing:
            self._mitigated(event)

    def _mitigated(self, succeeded: ev.Event) -> None:
        self.done = True
        source = f"run {succeeded.run_id} step {succeeded.step_id}"
        try:
            incident = store.load(self.journal, self.incident_id)
            earlier = incident.milestones.get(Milestone.MITIGATED)
            if earlier is not None:
                self.say(f"incident {self.incident_id} was already mitigated ({earlier.source}); left as it was")
                return
            if incident.status is Status.CLOSED:  # closed while the run was paused: it takes no milestones
                self.say(f"incident {self.incident_id} is closed; not marked mitigated")
                return
            at = parse_utc(succeeded.ts_wall) or datetime.now(UTC)
            reach(self.journal, self.incident_id, Milestone.MITIGATED, at, source, self.actor)
        except FirelineError as exc:
            # The change happened and is recorded in the run: failing the step now would misstate it.
            self.say(f"could not mark incident {self.incident_id} mitigated: {exc}")
            return
        self.say(f"incident {self.incident_id} mitigated by step {succeeded.step_id} (metadata.mitigates)")
