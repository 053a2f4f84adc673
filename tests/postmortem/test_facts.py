"""What went well and wrong, from facts only (runner.postmortem.facts): intervals against targets, the update
cadence, deliveries, runbook steps, approval waits and the verification gate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runner.incident.metrics import make_facts
from runner.incident.model import IncidentType, Milestone, Severity
from runner.policy import Policy, default_severities, policy_in_force
from runner.postmortem import targets as tg
from runner.postmortem.facts import (
    ApprovalWait,
    DeliveryOutcome,
    Evidence,
    StepOutcome,
    Verification,
    judge,
    spoken,
)

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def _evidence(minutes: dict[Milestone, float], **more: object) -> Evidence:
    times = {m: T0 + timedelta(minutes=v) for m, v in minutes.items()}
    facts = make_facts("INC-2026-001", Severity.SEV2, IncidentType.AVAILABILITY, ("checkout",),
                       Milestone.RESOLVED in times, times)  # fmt: skip
    base: dict[str, object] = {
        "facts": facts, "targets": tg.targets("SEV2", policy_in_force()), "cadence_s": 1800.0, "cadence_text": "30m",
        "declared_at": T0 + timedelta(minutes=2), "updates": (),
    }  # fmt: skip
    base.update(more)
    return Evidence(**base)  # type: ignore[arg-type]


FULL = {Milestone.STARTED: 0, Milestone.DETECTED: 3, Milestone.ACKNOWLEDGED: 20, Milestone.MITIGATED: 50,
        Milestone.RESOLVED: 95}  # fmt: skip


def test_each_interval_against_the_severitys_target() -> None:
    well, wrong = judge(_evidence(FULL))
    assert "Fast detection: 3 minutes, target 5 minutes" in well
    assert "Slow acknowledgement: 20 minutes, target 15 minutes (5 minutes over)" in wrong  # SEV2 responds in 15m
    assert "Fast mitigation: 50 minutes, target 1 hour" in well
    assert "Resolution: 1 hour 35 minutes after the impact started (no target)" in well


def test_a_teams_targets_replace_the_built_in_ones(tmp_path: object) -> None:
    policy = Policy(path=tg.DEFAULTS, severities=default_severities(),
                    data={"postmortem": {"targets": {"SEV2": {"detect": "2m", "resolve": "1h"}}}})  # fmt: skip
    _, wrong = judge(_evidence(FULL, targets=tg.targets("SEV2", policy)))
    assert "Slow detection: 3 minutes, target 2 minutes (1 minute over)" in wrong
    assert "Slow resolution: 1 hour 35 minutes, target 1 hour (35 minutes over)" in wrong


def test_missing_and_negative_intervals_are_said_not_hidden() -> None:
    _, wrong = judge(_evidence({Milestone.STARTED: 0, Milestone.DETECTED: -4, Milestone.RESOLVED: 30}))
    assert any(w.startswith("The time to detect is negative (4 minutes before") for w in wrong)
    assert "No acknowledgement was recorded: the time to acknowledge is unknown" in wrong
    well, wrong = judge(_evidence({Milestone.STARTED: 0, Milestone.DETECTED: 0}))
    assert not any("detection" in w for w in well)  # declared without an impact start: nothing to praise
    assert any(w.startswith("The impact start was recorded as the moment of the declaration") for w in wrong)


def test_status_updates_on_and_off_cadence() -> None:
    on_time = ((T0 + timedelta(minutes=5), T0 + timedelta(minutes=35)), (T0 + timedelta(minutes=34), None),
               (T0 + timedelta(minutes=63), None), (T0 + timedelta(minutes=92), None),
               (T0 + timedelta(minutes=140), None))  # after the resolution: no cadence applies  # fmt: skip
    well, _ = judge(_evidence(FULL, updates=on_time))
    assert "Status updates kept the 30m cadence: 4 sent, none late" in well
    late = ((T0 + timedelta(minutes=5), None), (T0 + timedelta(minutes=50), None))
    _, wrong = judge(_evidence(FULL, updates=late))
    # Due at 35 (sent 50: 15 late), then due at 80, resolved at 95 with no update since: 15 late.
    assert "2 status update(s) late against the 30m cadence (the longest 15 minutes late; 2 sent)" in wrong
    _, silent = judge(_evidence(FULL, updates=()))
    assert "No status update was sent before the resolution (cadence 30m)" in silent
    well, wrong = judge(_evidence(FULL, updates=(), cadence_s=None))
    assert not any("cadence" in s for s in well + wrong)  # SEV4: no updates are due


def test_steps_approvals_deliveries_and_the_gate() -> None:
    well, wrong = judge(_evidence(
        FULL,
        runs=(("R1", "restart-checkout", "succeeded"),),
        steps=(StepOutcome("R1", "restart-checkout", "restart"), StepOutcome("R1", "restart-checkout", "probe",
                                                                             retries=2),
               StepOutcome("R1", "restart-checkout", "drain", failed=True, error="exit code 1")),
        approvals=(ApprovalWait("R1", "restart", "erin", 720.0),),
        deliveries=(DeliveryOutcome("status-page", False, "HTTP 500: invalid_payload", 3),
                    DeliveryOutcome("incidents", True, "HTTP 200", 1)),
        verifications=(Verification(False, True, "probe host is down", 0.0, 2),),
    ))  # fmt: skip
    assert "Runbook restart-checkout ran to the end (run R1, 2 change(s) applied)" in well
    assert "Runbook step probe needed 2 retries (restart-checkout, run R1)" in wrong
    assert "Runbook step drain failed (restart-checkout, run R1): exit code 1" in wrong
    assert "Approval of restart waited 12 minutes (target 5 minutes; run R1)" in wrong
    assert "Status update not delivered to status-page: HTTP 500: invalid_payload (after 3 attempt(s))" in wrong
    assert "Resolved past the verification gate (forced): probe host is down" in wrong
    well, _ = judge(_evidence(FULL, approvals=(ApprovalWait("R1", "restart", "erin", 40.0),),
                              verifications=(Verification(True, False, "", 900.0, 2),)))  # fmt: skip
    assert "Approvals answered within 40 seconds (target 5 minutes)" in well
    assert "Resolution verified: 2 check(s) passed, held for 15 minutes" in well


def test_spoken_durations() -> None:
    assert [spoken(s) for s in (1, 45, 60, 180, 3600, 3900, 7200 + 60, 49 * 3600, 50 * 3600 + 1800)] == [
        "1 second", "45 seconds", "1 minute", "3 minutes", "1 hour", "1 hour 5 minutes", "2 hours 1 minute",
        "2 days 1 hour", "2 days 2 hours"]  # fmt: skip
