"""The typed model of a game-day scenario."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.document.model import InputSpec
from runner.secrets import SecretRef


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
