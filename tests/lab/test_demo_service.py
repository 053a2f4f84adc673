"""The demo service's requests and errors are in its pods' logs: what `kubectl logs` and `kubernetes.logs`
show a responder during an outage (the game-day lab: PostgreSQL, the emulated cluster, the service)."""

from __future__ import annotations

import contextlib
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from runner.actions.base import ActionContext
from runner.actions.faults import FAULTS
from runner.actions.registry import get_action
from runner.document.gameday_model import Fault
from runner.lab.environment import LabEndpoints
from runner.testing import StaticConnections
from tests.gameday.conftest import NAMESPACE, Lab, health, lab, lab_endpoints, wait_for

from .conftest import kubectl_binary

__all__ = ["lab", "lab_endpoints"]


def _ctx(endpoints: LabEndpoints) -> ActionContext:
    settings = {
        "cluster": {"type": "kubernetes", "kubeconfig": endpoints.kubeconfig, "namespace": NAMESPACE},
        "db": {"type": "postgres", "dsn": endpoints.primary_dsn},
    }
    return ActionContext("step", StaticConnections(settings), deadline=time.monotonic() + 60)


def _logs(endpoints: LabEndpoints, **params: Any) -> Any:
    return get_action("kubernetes.logs").run({"connection": "cluster", **params}, _ctx(endpoints)).result


def test_requests_and_errors_reach_the_pods_logs(lab: Lab, tmp_path: Path) -> None:
    endpoints = lab.endpoints
    marker = f"ok-{time.monotonic_ns()}"  # a path only this test asks for: its 404s are its own lines
    before = _logs(endpoints, deployment="checkout", pattern="GET /health 200", lines=2000)["count"]
    for _ in range(3):
        assert health(endpoints.service_url) == 200
    wait_for(
        lambda: _logs(endpoints, deployment="checkout", pattern="GET /health 200", lines=2000)["count"] >= before + 3,
        "three answered requests in the pods' logs",
    )
    with contextlib.suppress(urllib.error.HTTPError):
        urllib.request.urlopen(f"{endpoints.service_url}/{marker}", timeout=10).close()
    found = wait_for(lambda: _logs(endpoints, deployment="checkout", pattern=marker)["lines"], "the 404 line")
    assert len(found) == 1 and re.search(rf"Z WARN +GET /{marker} 404 \d+ms$", found[0]["line"]), found

    params = {"connection": "db", "max": 17, "application_name": "fireline-test-leak"}
    fault = Fault("leak", "postgres.hold_connections", params, None, None)
    state = FAULTS[fault.action].inject(fault, params, _ctx(endpoints), lambda recorded: None)
    try:
        failures = 0
        while failures < 3:
            failures += health(endpoints.service_url) == 503
        errors = wait_for(
            lambda: _logs(endpoints, deployment="checkout", pattern=r"ERROR +GET /health 503", since="5m")["lines"],
            "the failed requests in the pods' logs",
        )
        # The service's own words for why it failed: the database refused it.
        assert all(re.search(r"GET /health 503: .*(connection|clients)", e["line"]) for e in errors), errors
        # Real kubectl, as the responder would look: the newest failures are in every pod's tail.
        kubectl = [kubectl_binary(), "--kubeconfig", endpoints.kubeconfig, "--cache-dir", str(tmp_path / "kube")]
        shown = subprocess.run([*kubectl, "logs", "deploy/checkout", "--tail=50"], capture_output=True, text=True)
        assert shown.returncode == 0 and "GET /health 503" in shown.stdout, shown.stdout + shown.stderr
    finally:
        FAULTS[fault.action].revert(fault, params, state, _ctx(endpoints))
    wait_for(lambda: health(endpoints.service_url) == 200, "checkout to recover")
