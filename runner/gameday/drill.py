"""A game day is a drill: it opens an incident of type `drill` whose milestones are the moments the game day
measures, so its timeline, status and metrics go through the same machinery as a real incident's.

- The drill is opened right after the first fault is injected, and `started` is that injection. A game day
  that stops before (the steady state did not hold, a guardrail refused the fault, Ctrl-C) opens none, so it
  cannot leave a drill open.
- Its id is recorded on the game day (`gameday.incident`) before the incident's first event: a crash in
  between leaves the id reserved for this game day, and `gameday recover` declares that one — never a second.
- One writer keeps the milestones: the game day's process, or `recover` (which holds the game day's lease).
  `sync` reads the game day's marking events and records each milestone not reached yet, at the time the game
  day measured it (source "gameday GD_ID"): detected, acknowledged (a person's ack or the response run
  starting), mitigated (the response run succeeding), resolved (the start of the window in which the steady
  state held again). Metrics and milestones are chosen by one function (metrics.moments): they agree.
- The game day is linked to the incident (kind gameday), and so is every response run it records (kind
  runbook), so the runs' steps are on the incident's timeline.
- When the game day ends with every fault reverted, a note says how it ended and the drill is resolved; a
  fault left in place keeps the drill open until `gameday recover` reverts it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from runner.gameday import events as gev
from runner.gameday.metrics import INJECTED, MARKS, Moment, moments
from runner.incident import events as iev
from runner.incident import ids
from runner.incident.lifecycle import change_status
from runner.incident.model import IncidentType, LinkKind, Milestone, NoteKind, Severity, Status
from runner.incident.store import append, load
from runner.journal.events import Event
from runner.journal.store import Journal

# A drill practises a real response without real users hurt: "minor, workaround exists" unless the scenario
# says otherwise (metadata.severity).
DEFAULT_SEVERITY = Severity.SEV3

# The game day's moment (metrics.moments) that each milestone is.
MILESTONES: Mapping[str, Milestone] = {
    INJECTED: Milestone.STARTED,
    "detected": Milestone.DETECTED,
    "acknowledged": Milestone.ACKNOWLEDGED,
    "mitigated": Milestone.MITIGATED,
    "recovered": Milestone.RESOLVED,
}
_EVENTS = (gev.GAMEDAY_STARTED, *MARKS, gev.RESPONSE_STARTED, gev.INCIDENT)


def severity_of(value: object) -> Severity:
    """The scenario's metadata.severity (validated by the schema), else the default."""
    return Severity(value) if value in {s.value for s in Severity} else DEFAULT_SEVERITY


class Drill:
    """The drill incident of one game day, kept in step with it."""

    def __init__(self, journal: Journal, gameday_id: str, incident_id: str, actor: str) -> None:
        self.journal, self.gameday_id, self.id, self.actor = journal, gameday_id, incident_id, actor
        self.source = f"gameday {gameday_id}"

    # -- opening ------------------------------------------------------------------------------------------------
    @classmethod
    def open(cls, journal: Journal, gameday_id: str, actor: str) -> Drill | None:
        """The game day's drill: the one it recorded (declared now if a crash came before its declaration), or
        a new one once a fault was injected; None while no fault was."""
        events = journal.events(gameday_id, _EVENTS)
        found = moments(events)
        if INJECTED not in found:
            return None
        recorded = drill_of(events)
        drill = cls(journal, gameday_id, recorded or _reserve(journal, gameday_id, actor), actor)
        if recorded is None or not journal.events(recorded, (iev.DECLARED,)):
            start = next((e for e in events if e.type == gev.GAMEDAY_STARTED), None)
            started = gev.GameDayStarted.of(start) if start else gev.GameDayStarted(scenario=gameday_id)
            drill._declare(started, found[INJECTED])
        drill.sync(events)
        return drill

    def _declare(self, started: gev.GameDayStarted, injected: Moment) -> None:
        faults = ", ".join(started.faults) or "a fault"
        declared = iev.IncidentDeclared(
            title=started.title or started.scenario,
            severity=severity_of(started.severity),
            type=IncidentType.DRILL,
            systems=tuple(str(s) for s in started.systems) if isinstance(started.systems, list | tuple) else (),
            impact=f"game day drill: {faults} injected on purpose by scenario {started.scenario}",
            started_at=injected.wall,
            drill_of=self.gameday_id,
            policy=started.policy or "",
        )
        linked = iev.IncidentLinked(self.gameday_id, LinkKind.GAMEDAY.value, started.scenario)
        for payload in (declared, linked):
            # Queued, not committed one by one: the `started` milestone that follows commits them with it (one
            # fsync, right after the injection, where the probes are watching for the fault's effect).
            self.journal.append(self.id, payload.TYPE, actor=self.actor, data=payload.to_data())

    # -- keeping up ---------------------------------------------------------------------------------------------
    def sync(self, events: Sequence[Event] | None = None) -> None:
        """Record every milestone the game day has reached and the drill has not, and link its response runs
        (`events`: the game day's, when the caller has just read them). A few journal reads: called at the
        moments that matter (injection, detection, a remote event, the end), never per probe."""
        if events is None:
            events = self.journal.events(self.gameday_id, _EVENTS)
        found = moments(events)
        incident = load(self.journal, self.id)
        if incident.status is Status.CLOSED:
            return  # someone closed the drill by hand: closed is final, the game day's record is its own
        for name, milestone in MILESTONES.items():
            if name in found and milestone not in incident.milestones:
                reached = iev.IncidentMilestone(milestone.value, found[name].wall, self.source)
                append(self.journal, self.id, reached, self.actor)
        for run_id, runbook in _response_runs(events):
            if run_id not in {link.run_id for link in incident.links}:
                append(self.journal, self.id, iev.IncidentLinked(run_id, LinkKind.RUNBOOK.value, runbook), self.actor)

    def finish(self, summary: str, *, reverted: bool) -> None:
        """The game day ended: the last milestones, a note saying how it ended, and — with every fault reverted —
        the drill resolved. A drill already resolved or closed only gets the milestones (recover run again)."""
        self.sync()
        incident = load(self.journal, self.id)
        if incident.finished:
            return
        if not reverted:
            summary += f"; a fault may still be in place: the drill stays open until `fireline gameday recover " \
                       f"{self.gameday_id}` reverts it"
        append(self.journal, self.id, iev.IncidentNote(summary, NoteKind.OBSERVATION.value), self.actor)
        if reverted:
            change_status(self.journal, incident, Status.RESOLVED, self.actor)


def _reserve(journal: Journal, gameday_id: str, actor: str) -> str:
    """A new incident id, recorded on the game day before the incident has any event."""
    incident_id = ids.allocate(journal)
    # Committed with the declaration (never after it): a crash leaves both, or neither and a spare id.
    journal.append(gameday_id, gev.INCIDENT, actor=actor, data=gev.GameDayIncident(incident_id).to_data())
    return incident_id


def _response_runs(events: Sequence[Event]) -> list[tuple[str, str]]:
    """(run id, runbook name) of each response run the game day recorded, in order."""
    runs = (gev.ResponseStarted.of(e) for e in events if e.type == gev.RESPONSE_STARTED)
    return [(r.run_id, r.runbook or "") for r in runs if r.run_id]


def drill_of(events: Sequence[Event]) -> str | None:
    """The drill incident a game day's events name (gameday.incident), if any."""
    return next((gev.GameDayIncident.of(e).incident for e in events if e.type == gev.INCIDENT), None)


def acknowledge_game_day(journal: Journal, gameday_id: str, actor: str) -> bool:
    """Someone acknowledged the drill incident itself (`fireline incident ack`), as they would a real one: for
    a game day still running and not yet acknowledged, that is its acknowledgement too (via "incident"), so
    its time to acknowledge and the drill's agree. False when it changes nothing."""
    events = journal.events(gameday_id, (gev.GAMEDAY_STARTED, gev.ACKNOWLEDGED, gev.FINISHED))
    if not events or events[0].type != gev.GAMEDAY_STARTED or len(events) > 1:
        return False
    acknowledged = gev.GameDayAcknowledged("incident")
    journal.append(gameday_id, gev.ACKNOWLEDGED, actor=actor, data=acknowledged.to_data(), durable=True)
    return True
