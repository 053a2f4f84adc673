"""What went well and what went wrong, drafted from facts only: each measured interval against its target,
status updates on or off their cadence, deliveries that failed, runbook steps that failed or needed a retry,
approvals that waited long, and how the resolution was verified. Every sentence carries its numbers, so a
reviewer can check it against the timeline; judging people is left out by construction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from runner.incident.metrics import Facts, Interval
from runner.postmortem.targets import Targets


@dataclass(frozen=True)
class StepOutcome:
    """A runbook step that changed something, failed, or was retried, in a run linked to the incident."""

    run_id: str
    runbook: str
    step_id: str
    failed: bool = False
    retries: int = 0  # attempts that failed before the step's outcome
    error: str = ""


@dataclass(frozen=True)
class ApprovalWait:
    run_id: str
    step_id: str
    by: str
    waited_s: float


@dataclass(frozen=True)
class DeliveryOutcome:
    channel: str
    ok: bool
    detail: str
    attempts: int


@dataclass(frozen=True)
class Verification:
    passed: bool
    forced: bool
    reason: str
    hold_s: float
    checks: int


@dataclass(frozen=True)
class Evidence:
    """What the judgement needs of one incident."""

    facts: Facts
    targets: Targets
    cadence_s: float | None  # the severity's update cadence; None: no updates are due
    cadence_text: str
    declared_at: datetime | None
    updates: tuple[tuple[datetime, datetime | None], ...]  # each status update: when, and when the next was due
    runs: tuple[tuple[str, str, str], ...] = ()  # linked runbook runs: (run id, runbook, final status)
    steps: tuple[StepOutcome, ...] = ()
    approvals: tuple[ApprovalWait, ...] = ()
    deliveries: tuple[DeliveryOutcome, ...] = ()
    verifications: tuple[Verification, ...] = ()
    detected_by: str = ""  # the detected milestone's source


_WORDS = {
    Interval.TTD: "detection",
    Interval.TTA: "acknowledgement",
    Interval.TTM: "mitigation",
    Interval.TTR: "resolution",
}


def judge(evidence: Evidence) -> tuple[list[str], list[str]]:
    """(went well, went wrong), each a list of sentences."""
    well: list[str] = []
    wrong: list[str] = []
    for part in (_intervals, _cadence, _deliveries, _runs, _approvals, _verification, _detection):
        good, bad = part(evidence)
        well += good
        wrong += bad
    return well, wrong


Judged = tuple[list[str], list[str]]


def _intervals(e: Evidence) -> Judged:
    well, wrong = [], []
    for which in Interval:
        seconds = e.facts.interval(which)
        target = e.targets.of(which)
        word = _WORDS[which]
        if seconds is None:
            if which is not Interval.TTR and e.facts.resolved and which is not Interval.TTD:
                wrong.append(f"No {word} was recorded: the {which.long_name} is unknown")
            continue
        if which is Interval.TTD and seconds == 0:
            # Declared without --started-at: the impact start is the declaration itself, detection not measured.
            wrong.append("The impact start was recorded as the moment of the declaration: the time to detect was "
                         "not measured (give --started-at when declaring, or `fireline incident correct`)")
            continue
        if seconds < 0:
            wrong.append(f"The {which.long_name} is negative ({spoken(-seconds)} before the impact started): "
                         "the milestone times need a correction")  # fmt: skip
        elif target is None:
            well.append(f"{word.capitalize()}: {spoken(seconds)} after the impact started (no target)")
        elif seconds <= target:
            well.append(f"Fast {word}: {spoken(seconds)}, target {spoken(target)}")
        else:
            wrong.append(f"Slow {word}: {spoken(seconds)}, target {spoken(target)} "
                         f"({spoken(seconds - target)} over)")  # fmt: skip
    return well, wrong


def _cadence(e: Evidence) -> Judged:
    if e.cadence_s is None or e.declared_at is None:
        return [], []
    slack = timedelta(seconds=e.targets.cadence_slack)
    due = e.declared_at + timedelta(seconds=e.cadence_s)
    end = e.facts.resolved_at
    late: list[float] = []
    sent = 0
    for at, next_due in e.updates:
        if end is not None and at > end + slack:
            break  # after the resolution: no cadence applies
        sent += 1
        if at > due + slack:
            late.append((at - due).total_seconds())
        due = next_due or at + timedelta(seconds=e.cadence_s)
    if end is not None and end > due + slack:
        late.append((end - due).total_seconds())
    if sent == 0:
        if late:
            return [], [f"No status update was sent before the resolution (cadence {e.cadence_text})"]
        return [], []
    if not late:
        return [f"Status updates kept the {e.cadence_text} cadence: {sent} sent, none late"], []
    return [], [f"{len(late)} status update(s) late against the {e.cadence_text} cadence "
                f"(the longest {spoken(max(late))} late; {sent} sent)"]  # fmt: skip


def _deliveries(e: Evidence) -> Judged:
    failed = [d for d in e.deliveries if not d.ok]
    if failed:
        return [], [f"Status update not delivered to {d.channel}: {d.detail or 'failed'} "
                    f"(after {d.attempts} attempt(s))" for d in failed]  # fmt: skip
    if e.deliveries:
        channels = sorted({d.channel for d in e.deliveries})
        return [f"Every status update was delivered ({len(e.deliveries)} deliveries to {', '.join(channels)})"], []
    return [], []


def _runs(e: Evidence) -> Judged:
    well, wrong = [], []
    for run_id, runbook, status in e.runs:
        if status == "succeeded":
            changed = sum(1 for s in e.steps if s.run_id == run_id and not s.failed)
            what = f", {changed} change(s) applied" if changed else ""
            well.append(f"Runbook {runbook} ran to the end (run {run_id}{what})")
    for s in e.steps:
        if s.failed:
            wrong.append(f"Runbook step {s.step_id} failed ({s.runbook}, run {s.run_id})"
                         + (f": {s.error}" if s.error else ""))
        elif s.retries:
            wrong.append(f"Runbook step {s.step_id} needed {s.retries} retr{'y' if s.retries == 1 else 'ies'} "
                         f"({s.runbook}, run {s.run_id})")  # fmt: skip
    return well, wrong


def _approvals(e: Evidence) -> Judged:
    limit = e.targets.approval_wait
    if not e.approvals or limit is None:
        return [], []
    slow = [a for a in e.approvals if a.waited_s > limit]
    wrong = [f"Approval of {a.step_id} waited {spoken(a.waited_s)} (target {spoken(limit)}; run {a.run_id})"
             for a in slow]  # fmt: skip
    if slow:
        return [], wrong
    longest = max(a.waited_s for a in e.approvals)
    return [f"Approvals answered within {spoken(longest)} (target {spoken(limit)})"], []


def _verification(e: Evidence) -> Judged:
    if not e.verifications:
        return [], []
    last = e.verifications[-1]
    if last.forced:
        return [], [f"Resolved past the verification gate (forced): {last.reason or 'no reason given'}"]
    if last.passed and last.checks == 0:
        return [], ["The resolution was not verified: the severity's checklist has no checks"]
    if last.passed:
        hold = f", held for {spoken(last.hold_s)}" if last.hold_s else ""
        return [f"Resolution verified: {last.checks} check(s) passed{hold}"], []
    return [], []


def _detection(e: Evidence) -> Judged:
    if e.detected_by.startswith("alert"):
        return [f"Detected by an alert ({e.detected_by})"], []
    return [], []


def spoken(seconds: float) -> str:
    """A duration as a sentence says it: 45 seconds, 3 minutes, 1 hour 5 minutes, 2 days 4 hours."""
    total = round(abs(seconds))
    if total < 60:
        return _unit(total, "second")
    minutes = round(total / 60)
    if minutes < 60:
        return _unit(minutes, "minute")
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return _unit(hours, "hour") + (f" {_unit(rest, 'minute')}" if rest else "")
    days, hours = divmod(hours, 24)
    return _unit(days, "day") + (f" {_unit(hours, 'hour')}" if hours else "")


def _unit(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
