"""Game-day probe kinds and detection signals, and the actions they run. A probe is a read-only action: it
passes when its action succeeds (the action itself checks `expect`); so does a detection signal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


# Detection signals that ask a monitoring system (`steady_state_violated` asks the probes instead).
SIGNAL_ACTIONS: dict[str, str] = {
    "alert": "alertmanager.alerts",
    "prometheus": "prometheus.query",
}


def signal_action(kind: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The action a detection signal runs, and its parameters: an `alert` signal fires only while firing."""
    if kind == "alert":
        return SIGNAL_ACTIONS[kind], {**params, "state": "firing"}
    return SIGNAL_ACTIONS[kind], dict(params)
