"""Run state visible to templates, and the lazily created connections of a run."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.actions.registry import connection_types
from runner.errors import FirelineError
from runner.journal.events import StepStatus
from runner.templating import render_value


@dataclass
class StepState:
    """What became of a step in this run so far: its status, outputs and result."""

    status: StepStatus = StepStatus.PENDING
    outputs: dict[str, Any] = field(default_factory=dict)
    result: Mapping[str, Any] = field(default_factory=dict)
    changed: bool = False
    duration: float = 0.0
    summary: str = ""


class _VisibleSteps(Mapping[str, StepState]):
    """`steps` as templates see it: every step that has left `pending`, without copying anything (the
    context is built for every step; copying all earlier steps made long runbooks quadratic)."""

    def __init__(self, states: dict[str, StepState]) -> None:
        self._states = states

    def __getitem__(self, key: str) -> StepState:
        state = self._states[key]
        if state.status == "pending":
            raise KeyError(key)
        return state

    def __getattr__(self, key: str) -> StepState:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __iter__(self) -> Iterator[str]:
        return (k for k, v in self._states.items() if v.status != "pending")

    def __len__(self) -> int:
        return sum(1 for v in self._states.values() if v.status != "pending")


class RunScope:
    """The template context of a run: inputs, secrets, connections, earlier steps, the run itself."""

    def __init__(self, inputs: Mapping[str, Any], secrets: Mapping[str, str], run: Mapping[str, Any]) -> None:
        self.inputs = dict(inputs)
        self.secrets = dict(secrets)
        self.run = dict(run)
        self.steps: dict[str, StepState] = {}
        self.connection_settings: dict[str, Mapping[str, Any]] = {}

    def context(self, result: Mapping[str, Any] | None = None) -> dict[str, Any]:
        ctx: dict[str, Any] = {
            "inputs": self.inputs,
            "secrets": self.secrets,
            "connections": self.connection_settings,
            "steps": _VisibleSteps(self.steps),
            "run": self.run,
        }
        if result is not None:
            ctx["result"] = result
        return ctx


def declared_connection(declared: Mapping[str, Mapping[str, Any]], name: str, family: str) -> Mapping[str, Any]:
    """The declaration of connection `name`, checked to be of a type `family` actions can use."""
    if name not in declared:
        raise FirelineError(f"unknown connection {name!r}")
    kind = declared[name].get("type")
    allowed = connection_types(family)
    if kind not in allowed:
        raise FirelineError(f"connection {name!r} is of type {kind}; this step needs {' or '.join(allowed)}")
    return declared[name]


class Connections:
    """Implements the actions' ConnectionSource: settings rendered on first use, clients cached per run."""

    def __init__(self, declared: Mapping[str, Mapping[str, Any]], scope: RunScope) -> None:
        self._declared = declared
        self._scope = scope
        self._resources: dict[str, tuple[Any, Callable[[Any], None] | None]] = {}
        self._lock = threading.Lock()

    def settings(self, name: str, family: str) -> Mapping[str, Any]:
        declared_connection(self._declared, name, family)
        if name not in self._scope.connection_settings:
            base = {"inputs": self._scope.inputs, "secrets": self._scope.secrets}
            self._scope.connection_settings[name] = render_value(dict(self._declared[name]), base)
        return self._scope.connection_settings[name]

    def resource(self, key: str, factory: Callable[[], Any], close: Callable[[Any], None] | None) -> Any:
        with self._lock:
            if key not in self._resources:
                self._resources[key] = (factory(), close)
            return self._resources[key][0]

    def close(self) -> None:
        with self._lock:
            resources, self._resources = self._resources, {}
        for value, close in resources.values():
            if close is not None:
                with contextlib.suppress(Exception):
                    close(value)
