"""Journal event types of a game day (its id is the journal's run_id for these events)."""

from __future__ import annotations

GAMEDAY_STARTED = "gameday.started"  # data: scenario, path, digest, title, hypothesis, objectives, interval, settle
STEADY_STATE_CHECKED = "steady_state.checked"  # data: ok, phase (before|after), probes {id: {ok, detail}}
FAULT_INJECTING = "fault.injecting"  # step_id: fault id; data: action, params, state (what revert needs)
FAULT_INJECTED = "fault.injected"  # step_id: fault id; data: action, state, summary
# step_id: fault id; data: ok, summary, why (finished|duration|aborted|interrupted|error|recover). Only an ok one
# takes the fault out of the injected set.
FAULT_REVERTED = "fault.reverted"
PROBE_FAILED = "probe.failed"  # step_id: probe id; data: detail (only on a transition ok → failing)
PROBE_OK = "probe.ok"  # step_id: probe id (only on a transition failing → ok)
STEADY_STATE_VIOLATED = "steady_state.violated"
STEADY_STATE_RESTORED = "steady_state.restored"
ALERT_FIRING = "alert.firing"  # data: name, labels
SIGNAL_FIRED = "signal.fired"  # data: kind, detail (a prometheus detection expression held)
DETECTED = "gameday.detected"  # data: signal (the first one listed under detection: that fired)
ACKNOWLEDGED = "gameday.acknowledged"  # actor; data: via (ack|runbook)
NOTE = "gameday.note"  # actor; data: text
RESPONSE_STARTED = "response.started"  # data: run_id, runbook, mode
RESPONSE_STEP = "response.step"  # step_id; data: run_id, status, started_mono, ended_mono (for the timeline)
RESPONSE_FINISHED = "response.finished"  # data: run_id, status
RECOVERED = "gameday.recovered"  # data: since_mono (start of the window in which steady state held)
ABORTED = "gameday.aborted"  # data: reason
FINISHED = "gameday.finished"  # data: status (passed|failed|aborted|interrupted|not-started|error), metrics

ALL = (
    GAMEDAY_STARTED,
    STEADY_STATE_CHECKED,
    FAULT_INJECTING,
    FAULT_INJECTED,
    FAULT_REVERTED,
    PROBE_FAILED,
    PROBE_OK,
    STEADY_STATE_VIOLATED,
    STEADY_STATE_RESTORED,
    ALERT_FIRING,
    SIGNAL_FIRED,
    DETECTED,
    ACKNOWLEDGED,
    NOTE,
    RESPONSE_STARTED,
    RESPONSE_STEP,
    RESPONSE_FINISHED,
    RECOVERED,
    ABORTED,
    FINISHED,
)
