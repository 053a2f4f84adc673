"""What an incident's measured times are compared with in a post-mortem: per severity, targets for detection,
acknowledgement, mitigation and resolution, and how long an approval may wait. Data: the built-in values in
defaults.yaml, a team's `postmortem.targets` in incident-policy.yaml over them, and the time to acknowledge
from the severity's own `response_target` unless the team says otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from runner.durations import parse_duration
from runner.incident.metrics import Interval

if TYPE_CHECKING:
    from runner.policy import Policy

DEFAULTS = Path(__file__).with_name("defaults.yaml")
# `response_target: immediately` as a number: the first minutes of the response process.
IMMEDIATELY_S = 300.0
# Keys of a severity's targets in the data, and the interval each one is about.
INTERVAL_KEYS: Mapping[Interval, str] = {
    Interval.TTD: "detect",
    Interval.TTA: "acknowledge",
    Interval.TTM: "mitigate",
    Interval.TTR: "resolve",
}


@dataclass(frozen=True)
class Targets:
    """Seconds per interval (None: measured but not compared), and the longest fine wait for an approval."""

    intervals: Mapping[Interval, float | None]
    approval_wait: float | None
    cadence_slack: float

    def of(self, which: Interval) -> float | None:
        return self.intervals.get(which)


@cache
def _defaults() -> Mapping[str, Any]:
    with DEFAULTS.open(encoding="utf-8") as fh:
        data: Mapping[str, Any] = yaml.safe_load(fh)
    return data


def targets(severity: str, policy: Policy | None) -> Targets:
    """The targets in force for an incident of `severity` under `policy` (None: the built-in ones)."""
    entry: dict[str, Any] = dict(_defaults()["targets"].get(severity) or {})
    level = policy.severities.get(severity) if policy is not None else None
    if level is not None and "acknowledge" not in entry:
        entry["acknowledge"] = _response_target(level.response_target)
    section = policy.data.get("postmortem") if policy is not None else None
    if isinstance(section, Mapping):
        entry.update((section.get("targets") or {}).get(severity) or {})
    intervals = {which: _seconds(entry.get(key)) for which, key in INTERVAL_KEYS.items()}
    return Targets(intervals, _seconds(entry.get("approval_wait")), _seconds(_defaults()["cadence_slack"]) or 0.0)


def _response_target(text: str) -> str | None:
    if text.strip().lower() == "immediately":
        return f"{IMMEDIATELY_S:.0f}s"
    try:
        parse_duration(text)
    except ValueError:
        return None  # "next business day": not a number of minutes
    return text


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError:
        return None
