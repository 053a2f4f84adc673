"""Game-day probe kinds and the actions they run. A probe is a read-only action: it passes when its action
succeeds (the action itself checks `expect`)."""

from __future__ import annotations

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
