"""Typed event payloads: every type round-trips through the journal's JSON, old payloads decode with defaults,
and the keys written are the ones earlier versions wrote (stored journals need no migration)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from runner.gameday import events as gev
from runner.identity import events as iev
from runner.incident import action_items, action_sync, delivery, gate, intake
from runner.incident import events as incev
from runner.journal import events as ev
from runner.journal.events import Event, RunStatus, StepStatus
from runner.journal.payloads import Payload, Unknown, decode, known_types, payload_class
from runner.journal.store import Journal
from runner.postmortem import record as postmortem_record

# One full payload per type, as this version writes it. The keys (and their order) are the stored format:
# changing one here means a migration, not a refactoring.
SAMPLES: dict[str, dict[str, Any]] = {
    ev.RUN_STARTED: {"runbook": "/rb/restart.yaml", "name": "restart", "title": "Restart", "digest": "sha256:1",
                     "inputs": {"deployment": "checkout"}, "dry_run": False, "approve": ["scale"],
                     "approve_all": False, "reason": "INC-1", "parent": None, "version": "0.9.0",
                     "initiator": "alice", "steps": ["check", "scale"]},
    ev.PLAN_STARTED: {"runbook": "/rb/restart.yaml", "name": "restart", "title": "Restart", "digest": "sha256:1",
                      "inputs": {}, "dry_run": True, "approve": [], "approve_all": True, "reason": "",
                      "parent": "gd-1", "version": "0.9.0", "initiator": "bob", "steps": ["check"]},
    ev.RUN_PAUSED: {"reason": "approval required", "why": "step scale needs an approval"},
    ev.RUN_RESUMED: {"from_step": "scale"},
    ev.RUN_FINISHED: {"status": "failed", "message": "step scale failed", "failed_steps": ["scale"]},
    ev.PLAN_STEP: {"verdict": "would-change", "summary": "scale to 3", "details": ["replicas 2 -> 3"]},
    ev.PLAN_FINISHED: {"verdicts": {"would-change": 1, "no-change": 2}},
    ev.STEP_STARTED: {"action": "shell.run", "mutating": True, "params": {"command": "true"}},
    ev.STEP_APPROVED: {"reason": "ok by me", "via": "fireline approve"},
    ev.STEP_SUCCEEDED: {"summary": "done", "result": {"rc": 0}, "outputs": {"n": 1}, "changed": True,
                        "duration_s": 0.25},
    ev.STEP_SKIPPED: {"reason": "nothing to do", "result": {"rc": 0}, "outputs": {}, "duration_s": 0.1},
    ev.STEP_FAILED: {"error": "exit 1", "hint": "check the host", "duration_s": 1.5, "kind": "ActionError",
                     "result": {"hosts": {"a": "ok"}}},
    ev.STEP_ROLLED_BACK: {"summary": "scaled back", "result": {"replicas": 2}},
    ev.STEP_ATTEMPT_FAILED: {"attempt": 2, "error": "timeout"},
    ev.STEP_DECISION: {"decision": "retry", "why": "--retry-step", "rollback": True},
    ev.STEP_TRANSITION: {"to": "verify", "why": "goto"},
    gev.GAMEDAY_STARTED: {"scenario": "pod-kill", "title": "Pod kill", "hypothesis": "p99 holds",
                          "path": "/s/pod-kill.yaml", "digest": "sha256:2", "objectives": {"time_to_detect": 60.0},
                          "interval": 5.0, "settle": 10.0, "inputs": {"ns": "shop"}, "mode": "auto",
                          "runbook": "restart", "faults": ["kill"], "probes": ["http"],
                          "connections": {"k8s": {"type": "kubernetes"}},
                          "secrets": {"token": {"from": "env", "key": "TOKEN", "optional": False}}},
    gev.STEADY_STATE_CHECKED: {"phase": "before", "ok": False,
                               "probes": {"http": {"ok": False, "detail": "503"}, "db": {"ok": True, "detail": ""}}},
    gev.FAULT_INJECTING: {"action": "kubernetes.delete_pods", "params": {"count": 1}, "state": {"pods": ["a"]},
                          "revert": None},
    gev.FAULT_INJECTED: {"action": "kubernetes.delete_pods", "state": {"pods": ["a"]}},
    gev.FAULT_REVERTED: {"ok": True, "summary": "restored", "why": "finished"},
    gev.PROBE_FAILED: {"detail": "HTTP 503"},
    gev.PROBE_OK: {"detail": "HTTP 200"},
    gev.STEADY_STATE_VIOLATED: {"probe": "http"},
    gev.STEADY_STATE_RESTORED: {"probe": "http"},
    gev.ALERT_FIRING: {"name": "HighErrorRate", "labels": {"severity": "page"}},
    gev.SIGNAL_FIRED: {"kind": "prometheus", "detail": "rate > 0.1"},
    gev.DETECTED: {"signal": "alert", "detail": "HighErrorRate"},
    gev.ACKNOWLEDGED: {"via": "runbook", "run_id": "run-1"},
    gev.NOTE: {"text": "looking at the dashboards"},
    gev.RESPONSE_STARTED: {"run_id": "run-1", "runbook": "restart"},
    gev.RESPONSE_STEP: {"run_id": "run-1", "status": "ok", "started_mono": 10.0, "ended_mono": 12.5},
    gev.RESPONSE_FINISHED: {"run_id": None, "status": "failed", "error": "no such runbook"},
    gev.RECOVERED: {"since_mono": 42.0},
    gev.ABORTED: {"reason": "guardrail: error budget"},
    gev.FINISHED: {"status": "passed", "message": "",
                   "metrics": [{"name": "time_to_detect", "seconds": 12.0, "objective_s": 60.0, "passed": True}]},
    gev.INCIDENT: {"incident": "INC-2026-001"},
    iev.RUN_SIGNED: {"act": "start", "statement": "{}", "signature": "-----BEGIN SSH SIGNATURE-----",
                     "principal": "alice", "fingerprint": "SHA256:abc"},
    iev.STEP_GATE: {"params": "sha256:0", "expiry_s": 600.0},
    incev.DECLARED: {"title": "Checkout down", "severity": "SEV2", "type": "availability", "systems": ["checkout"],
                     "impact": "no orders", "started_at": "2026-12-04T10:00:00.000000Z", "commander": "alice",
                     "assessment": {"criteria": {"users_affected": "500"}, "why": ["many users"]},
                     "drill_of": "gd-1", "policy": "sha256:3"},
    incev.MILESTONE: {"name": "acknowledged", "at": "2026-12-04T10:05:00.000000Z", "source": "command"},
    incev.CORRECTED: {"milestone": "started", "old": "2026-12-04T10:00:00.000000Z",
                      "new": "2026-12-04T09:50:00.000000Z", "reason": "graphs show errors at 09:50"},
    incev.STATUS_CHANGED: {"old": "investigating", "new": "identified"},
    incev.SEVERITY_CHANGED: {"old": "SEV3", "new": "SEV2", "reason": "spreading"},
    incev.ROLE_ASSIGNED: {"role": "comms", "name": "bob"},
    incev.NOTE: {"text": "pool at 100%", "kind": "observation"},
    incev.UPDATE: {"status": "identified", "summary": "pool exhausted", "impact": "slow checkout",
                   "actions": ["restart api"], "eta": "30m", "next_update_at": "2026-12-04T10:35:00.000000Z",
                   "shape": "progress", "message": "…", "channels": ["#inc"]},
    incev.LINKED: {"run_id": "run-1", "kind": "runbook", "name": "db-connection-exhaustion"},
    incev.CLOSED: {"reason": "post-mortem done"},
    intake.ALERT: {"group_key": "{}:{alertname=\"X\"}", "status": "firing", "receiver": "fireline",
                   "alerts": [{"alertname": "X", "status": "firing", "labels": {"alertname": "X"}, "annotations": {},
                               "starts_at": "2026-12-04T10:00:00.000000Z", "ends_at": None, "fingerprint": "f",
                               "generator_url": ""}],
                   "external_url": "http://am:9093", "truncated_alerts": 0, "digest": "sha256:0", "declared": True},
    delivery.DELIVERY: {"update_seq": 7, "channel": "incidents", "kind": "slack", "ok": False, "attempts": 3,
                        "detail": "HTTP 500: internal_error"},
    gate.VERIFICATION: {"passed": False, "forced": False, "reason": "checkout answers failed", "hold_s": 1800.0,
                        "started_at": "2026-12-04T10:40:00.000000Z",
                        "checks": [{"name": "checkout answers", "kind": "probe", "ok": False, "detail": "HTTP 503",
                                    "confirmed_by": None}]},
    postmortem_record.POSTMORTEM: {"action": "rendered", "path": "postmortems/INC-2026-001.md", "format": "md",
                                   "digest": "sha256:0"},
    action_items.ACTION_ITEM: {"item_id": "INC-2026-001-A1", "change": "added",
                               "fields": {"title": "Alert on pool use", "owner": "bob", "due": "2026-12-11",
                                          "priority": "high", "type": "detective", "status": "not-started"},
                               "note": "", "source": "command"},
    action_sync.SYNCED: {"path": "postmortems/INC-2026-001.yaml", "digest": "sha256:0",
                         "items": {"INC-2026-001-A1": {"title": "Alert on pool use"}}},
}

# The other shapes writers use for the same type (fewer keys, in a different order).
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    (ev.STEP_STARTED, {"action": "k8s.scale", "rollback": True, "params": {"replicas": 2}}),
    (ev.STEP_SKIPPED, {"reason": "when: was false"}),
    (ev.STEP_FAILED, {"error": "exit 1", "hint": None, "duration_s": 0.5, "kind": "ActionError"}),
    (ev.STEP_FAILED, {"rollback": True, "error": "rollback failed"}),
    (ev.STEP_ROLLED_BACK, {"summary": "interrupted; skipped by the responder (--skip-step)", "skipped": True}),
    (ev.STEP_DECISION, {"decision": "refused"}),
    (ev.STEP_DECISION, {"decision": "skip", "rollback": True}),
    (ev.STEP_TRANSITION, {"to": None, "why": "end"}),
    (gev.ACKNOWLEDGED, {"via": "ack"}),
    (gev.RESPONSE_FINISHED, {"run_id": "run-1", "status": "succeeded"}),
    (gev.FAULT_INJECTED, {"action": "shell.run", "state": {}, "summary": "written by an older version"}),
    (gev.RESPONSE_STARTED, {"run_id": "run-1", "runbook": "restart", "mode": "manual"}),
    (gev.GAMEDAY_STARTED, {"scenario": "pod-kill", "title": "", "hypothesis": "", "path": None, "digest": "",
                           "objectives": {}, "interval": 1.0, "settle": 2.0, "inputs": {}, "mode": "manual",
                           "runbook": None, "faults": ["kill"], "probes": [], "connections": {}, "secrets": {},
                           "severity": "SEV2", "systems": ["checkout"], "policy": "sha256:3"}),
    (ev.STEP_APPROVED, {"reason": "ok", "via": "fireline approve", "statement": "{}", "signature": "sig",
                        "principal": "alice", "fingerprint": "SHA256:abc"}),
    (iev.STEP_GATE, {"params": "sha256:0", "expiry_s": None}),
    (incev.DECLARED, {"title": "Checkout down", "severity": "SEV4", "type": "drill", "systems": [], "impact": "",
                      "started_at": "2026-12-04T10:00:00.000000Z", "policy": ""}),
    (delivery.DELIVERY, {"update_seq": 8, "channel": "status-page", "kind": "statuspage", "ok": True, "attempts": 1,
                         "detail": "HTTP 201", "external_id": "p0q1r2"}),
    (incev.UPDATE, {"status": "resolved", "summary": "fixed", "impact": "", "actions": [], "shape": "resolution",
                    "message": "", "channels": []}),
]


def test_every_event_type_has_a_payload_class_and_a_sample() -> None:
    types = {v for k, v in vars(ev).items() if k.isupper() and isinstance(v, str) and "." in v} | set(gev.ALL)
    types |= {iev.RUN_SIGNED, iev.STEP_GATE} | set(incev.TYPES)
    types |= {intake.ALERT, delivery.DELIVERY, gate.VERIFICATION, postmortem_record.POSTMORTEM}
    types |= {action_items.ACTION_ITEM, action_sync.SYNCED}
    assert types == set(SAMPLES)
    assert set(known_types()) == types
    assert all(payload_class(t) is not Unknown for t in types)


@pytest.mark.parametrize(("type_", "data"), [*SAMPLES.items(), *VARIANTS], ids=lambda x: str(x)[:30])
def test_round_trip_writes_the_same_json(type_: str, data: dict[str, Any]) -> None:
    payload = payload_class(type_).from_data(data)
    assert type_ == type(payload).TYPE
    assert json.dumps(payload.to_data()) == json.dumps(data)  # same keys, same order, same values
    assert payload_class(type_).from_data(json.loads(json.dumps(payload.to_data()))) == payload


def test_round_trip_through_the_sqlite_journal(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.db")
    try:
        for type_, data in SAMPLES.items():
            written = payload_class(type_).from_data(data)
            journal.append("run-1", type_, step_id="s", actor="alice", data=written.to_data())
        journal.flush()
        events = journal.events("run-1")
    finally:
        journal.close()
    assert [e.type for e in events] == list(SAMPLES)
    for event in events:
        assert decode(event) == payload_class(event.type).from_data(SAMPLES[event.type])
        assert event.data == SAMPLES[event.type]


def _event(type_: str, data: dict[str, Any]) -> Event:
    return Event("run-1", 1, "2026-01-01T00:00:00.000000Z", 1.0, type_, data=data)


def test_an_old_payload_missing_newer_keys_decodes_with_defaults() -> None:
    # A run.started of an early version: no approvals, no version, no game-day link, no step list.
    started = ev.RunStarted.of(_event(ev.RUN_STARTED, {"runbook": "/rb.yaml", "name": "r", "digest": "d"}))
    assert started == ev.RunStarted(runbook="/rb.yaml", name="r", title="", digest="d")
    assert started.approve == () and started.parent is None and started.version == ""
    # A response run of a game day, from before the link was neutral.
    old_link = {"runbook": "/rb.yaml", "name": "r", "digest": "d", "gameday": "gd-1"}
    assert ev.RunStarted.of(_event(ev.RUN_STARTED, old_link)).parent == "gd-1"
    # A step.started without `mutating`: resume must assume the step changed something.
    assert ev.StepStarted.of(_event(ev.STEP_STARTED, {"action": "shell.run"})).mutating is True
    # A response.step without the step's own times; a game day finished without metrics.
    step = gev.ResponseStep.of(_event(gev.RESPONSE_STEP, {"run_id": "r", "status": "ok"}))
    assert (step.status, step.started_mono, step.ended_mono) == (StepStatus.OK, None, None)
    assert gev.ResponseStep.of(_event(gev.RESPONSE_STEP, {})).status == StepStatus.UNKNOWN
    assert gev.GameDayFinished.of(_event(gev.FINISHED, {"status": "failed"})).metrics == ()


def test_extra_keys_and_wrong_types_are_tolerated() -> None:
    finished = ev.RunFinished.of(_event(ev.RUN_FINISHED, {"status": "exploded", "failed_steps": "s1", "new": 1}))
    assert finished == ev.RunFinished(RunStatus.UNKNOWN, "", ())
    checked = gev.SteadyStateChecked.of(_event(gev.STEADY_STATE_CHECKED, {"ok": "yes", "probes": {"a": 3}}))
    assert checked == gev.SteadyStateChecked(None, False, {})
    assert gev.GameDayFinished.of(_event(gev.FINISHED, {"status": 7})).status is gev.Status.UNKNOWN


def test_statuses_are_enums_stored_as_their_text() -> None:
    finished = ev.RunFinished(RunStatus.SUCCEEDED, "", ())
    assert json.dumps(finished.to_data()) == '{"status": "succeeded", "message": "", "failed_steps": []}'
    assert ev.RunFinished.of(_event(ev.RUN_FINISHED, finished.to_data())).status is RunStatus.SUCCEEDED
    assert gev.GameDayFinished.of(_event(gev.FINISHED, {"status": "not-started"})).status is gev.Status.NOT_STARTED


def test_an_unknown_event_type_decodes_to_its_raw_data() -> None:
    payload = decode(_event("pager.paged", {"severity": "SEV2"}))  # a type no fireline writes (yet)
    assert isinstance(payload, Unknown)
    assert payload.to_data() == {"severity": "SEV2"}


def test_reading_an_event_as_the_wrong_type_is_refused() -> None:
    with pytest.raises(ValueError, match=r"step\.started, not run\.finished"):
        ev.RunFinished.of(_event(ev.STEP_STARTED, {"action": "x"}))


def test_two_classes_for_one_type_are_refused() -> None:
    from runner.journal.payloads import register

    class Duplicate(Payload):
        TYPE = ev.RUN_PAUSED

    with pytest.raises(ValueError, match=r"two payload classes for run\.paused"):
        register(Duplicate)


def test_a_payload_field_that_cannot_be_read_generically_needs_its_own_from_data() -> None:
    from runner.journal.payloads import register

    @dataclass(frozen=True)
    class Nested(Payload):
        TYPE: ClassVar[str] = "test.nested"
        items: tuple[int, ...] = ()

    with pytest.raises(TypeError, match=r"Nested\.items: no reader"):
        register(Nested)
