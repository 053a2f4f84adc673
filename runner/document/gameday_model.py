"""The typed model of a game-day scenario."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.document.model import InputSpec
from runner.secrets import SecretRef

# Probe kinds are read-only actions; a probe passes when its action succeeds (the action checks `expect`).
PROBE_ACTIONS: dict[str, str] = {
    "http.get": "http.check",
    "postgres.query": "postgres.query",
    "kubernetes": "kubernetes.wait",
    "prometheus.query": "prometheus.query",
    "alertmanager.alert": "alertmanager.alerts",
    "shell.run": "shell.run",
}


def probe_action(kind: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The action a probe runs, and its parameters. `kubernetes` with `condition: rolled_out` asks
    whether the deployment's rollout is complete (kubectl rollout status), which catches a stuck bad
    rollout that still leaves enough old pods serving."""
    if kind == "kubernetes":
        if params.get("condition") == "rolled_out":
            rest = {k: v for k, v in params.items() if k not in ("condition", "count")}
            rest.setdefault("timeout", "1s")
            return "kubernetes.rollout_status", rest
        params = {**params}
        params.setdefault("timeout", "1s")
    return PROBE_ACTIONS[kind], params


@dataclass(frozen=True)
class Probe:
    id: str
    kind: str
    action: str
    params: Mapping[str, Any]
    timeout: float


@dataclass(frozen=True)
class Fault:
    id: str
    action: str
    params: Mapping[str, Any]
    revert: Mapping[str, Any] | None
    duration: float | None


@dataclass(frozen=True)
class Signal:
    kind: str  # steady_state_violated | alert | prometheus
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Response:
    mode: str  # runbook | manual
    runbook: str | None
    inputs: Mapping[str, Any]
    approve: bool
    timeout: float | None


@dataclass(frozen=True)
class GameDay:
    path: str
    digest: str
    name: str
    title: str
    metadata: Mapping[str, Any]
    inputs: Mapping[str, InputSpec]
    secrets: Mapping[str, SecretRef]
    connections: Mapping[str, Mapping[str, Any]]
    interval: float
    settle: float
    probes: tuple[Probe, ...]
    faults: tuple[Fault, ...]
    detection: tuple[Signal, ...]
    response: Response
    objectives: Mapping[str, float]
    max_duration: float
    abort_when: tuple[Probe, ...]
    max_pods_percent: int | None
