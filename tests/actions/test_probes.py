"""Probe kinds and detection signals map to the actions they run, with the parameters those actions take."""

from __future__ import annotations

from runner.actions.probes import PROBE_ACTIONS, SIGNAL_ACTIONS, probe_action, signal_action
from runner.actions.registry import BUILTIN


def test_every_probe_and_signal_runs_a_builtin_action() -> None:
    assert set(PROBE_ACTIONS.values()) | set(SIGNAL_ACTIONS.values()) <= set(BUILTIN)


def test_a_rolled_out_kubernetes_probe_asks_the_rollout_status() -> None:
    params = {"connection": "cluster", "deployment": "checkout", "condition": "rolled_out", "count": 2}
    action, given = probe_action("kubernetes", params)
    assert action == "kubernetes.rollout_status"
    assert given == {"connection": "cluster", "deployment": "checkout", "timeout": "1s"}
    assert "condition" in params, "the scenario's own parameters are left as they were"


def test_other_kubernetes_probes_wait_briefly() -> None:
    action, given = probe_action("kubernetes", {"connection": "cluster", "timeout": "3s"})
    assert (action, given) == ("kubernetes.wait", {"connection": "cluster", "timeout": "3s"})
    assert probe_action("kubernetes", {"connection": "cluster"})[1]["timeout"] == "1s"


def test_an_alert_signal_asks_for_firing_alerts_only() -> None:
    assert signal_action("alert", {"connection": "am", "name": "X"}) == (
        "alertmanager.alerts", {"connection": "am", "name": "X", "state": "firing"})
    assert signal_action("prometheus", {"connection": "prom", "query": "up"}) == (
        "prometheus.query", {"connection": "prom", "query": "up"})
