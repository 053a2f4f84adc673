"""The lab's Metrics API with real kubectl: `kubectl top pods` / `kubectl top nodes`, stable values, and the
resource-pressure fault raising a deployment's usage until it is reverted."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from runner.actions.base import ActionContext
from runner.actions.faults import FAULTS
from runner.document.gameday_model import Fault
from runner.errors import ActionError
from runner.lab.k8s import LabCluster
from runner.testing import StaticConnections
from tests.conftest import HttpServer, write

from .conftest import Kubectl

ROW = re.compile(r"^(?P<name>\S+)\s+(?P<cpu>\d+)m\s+(?P<memory>\d+)Mi\s*$")


def top_pods(kubectl: Kubectl, *args: str) -> dict[str, tuple[int, int]]:
    out = kubectl("top", "pods", *args).stdout
    lines = out.strip().splitlines()
    assert re.match(r"^NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)$", lines[0].strip()), out
    rows = {}
    for line in lines[1:]:
        match = ROW.match(line)
        assert match, line
        rows[match["name"]] = (int(match["cpu"]), int(match["memory"]))
    return rows


def test_kubectl_top_pods_shows_every_running_pod_with_stable_plausible_usage(kubectl: Kubectl) -> None:
    first = top_pods(kubectl)
    pods = kubectl("get", "pods", "-o", "name").stdout.split()
    assert sorted(first) == sorted(p.removeprefix("pod/") for p in pods) and len(first) == 3
    for cpu, memory in first.values():
        assert 10 <= cpu <= 30 and 80 <= memory <= 120
    assert top_pods(kubectl) == first  # the same pod keeps its numbers
    assert top_pods(kubectl, "-l", "app=checkout") == first
    none = kubectl("top", "pods", "-l", "app=other")
    assert none.stdout == "" and "No resources found in demo namespace." in none.stderr
    missing = kubectl("top", "pod", "nope", check=False)
    assert missing.returncode == 1
    assert 'podmetrics.metrics.k8s.io "demo/nope" not found' in missing.stderr


def test_kubectl_top_nodes_and_get_nodes(kubectl: Kubectl) -> None:
    out = kubectl("top", "nodes").stdout.strip().splitlines()
    assert re.match(r"^NAME\s+CPU\(cores\)\s+CPU\(%\)\s+MEMORY\(bytes\)\s+MEMORY\(%\)$", out[0].strip()), out
    match = re.match(r"^lab-node-1\s+(\d+)m\s+(\d+)%\s+(\d+)Mi\s+(\d+)%\s*$", out[1])
    assert match, out
    cpu, cpu_percent, memory, memory_percent = map(int, match.groups())
    assert 200 <= cpu <= 300 and cpu_percent == cpu * 100 // 3800  # of the node's 3800m allocatable
    assert 1100 <= memory <= 1300 and 10 <= memory_percent <= 20
    nodes = kubectl("get", "nodes").stdout
    assert re.search(r"^lab-node-1\s+Ready\s+control-plane\s+\S+\s+v1\.32\.0$", nodes, re.MULTILINE), nodes


def test_metrics_api_is_in_discovery(kubectl: Kubectl) -> None:
    out = kubectl("api-resources", "--api-group=metrics.k8s.io").stdout
    assert re.search(r"^nodes\s+metrics\.k8s\.io/v1beta1\s+false\s+NodeMetrics$", out, re.MULTILINE), out
    assert re.search(r"^pods\s+metrics\.k8s\.io/v1beta1\s+true\s+PodMetrics$", out, re.MULTILINE), out


def _ctx(lab: LabCluster) -> ActionContext:
    settings = {"cluster": {"type": "kubernetes", "kubeconfig": str(lab.kubeconfig_path)}}
    return ActionContext("fault", StaticConnections(settings), deadline=time.monotonic() + 30)


def test_resource_pressure_fault_raises_usage_until_reverted(lab: LabCluster, kubectl: Kubectl) -> None:
    before = top_pods(kubectl)
    params = {"connection": "cluster", "deployment": "checkout", "cpu": "900m", "memory": "400Mi"}
    fault = Fault("hot", "kubernetes.resource_pressure", params, None, None)
    kind = FAULTS[fault.action]
    recorded: list[Any] = []
    state = kind.inject(fault, params, _ctx(lab), recorded.append)
    no_load = {"lab.fireline.dev/cpu-load": None, "lab.fireline.dev/memory-load": None}
    assert recorded == [{"namespace": "demo", "previous": no_load}]
    during = top_pods(kubectl)
    assert during.keys() == before.keys()
    for name, (cpu, memory) in during.items():
        assert cpu == before[name][0] + 900 and memory == before[name][1] + 400
    nodes = kubectl("top", "nodes").stdout
    assert re.search(r"lab-node-1\s+\d{4}m\s+[7-9]\d%", nodes), nodes  # 3 x 900m more of 3800m allocatable
    assert kind.revert(fault, params, state, _ctx(lab)) == "checkout back to its usual load"
    assert top_pods(kubectl) == before
    kind.revert(fault, params, state, _ctx(lab))  # a second revert (what recover may do) is harmless
    assert top_pods(kubectl) == before
    annotations = kubectl("get", "deploy/checkout", "-o", "jsonpath={.metadata.annotations}").stdout
    assert "lab.fireline.dev" not in annotations


def test_resource_pressure_refuses_a_real_cluster(tmp_path: Path, http_server: HttpServer) -> None:
    version = (200, '{"major": "1", "minor": "31", "gitVersion": "v1.31.4-eks-2d5f260"}')
    http_server.routes.update({"/version": version, "/version/": version})
    kubeconfig = write(
        tmp_path / "kubeconfig",
        f"apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster: {{server: '{http_server.url}'}}\n"
        "contexts:\n- name: prod\n  context: {cluster: prod, user: u, namespace: shop}\ncurrent-context: prod\n"
        "users:\n- name: u\n  user: {}\n",
    )
    settings = {"cluster": {"type": "kubernetes", "kubeconfig": str(kubeconfig)}}
    ctx = ActionContext("fault", StaticConnections(settings), deadline=time.monotonic() + 30)
    params = {"connection": "cluster", "deployment": "checkout", "cpu": "900m"}
    with pytest.raises(ActionError, match=r"loads the fireline lab only; context 'prod' is a real cluster"):
        FAULTS["kubernetes.resource_pressure"].inject(
            Fault("hot", "kubernetes.resource_pressure", params, None, None), params, ctx, lambda state: None
        )
    assert [r["method"] for r in http_server.received] == ["GET"]  # nothing was patched


SCENARIO = """\
apiVersion: fireline/v1
kind: GameDay
metadata: {name: hot-pods, title: Hot pods, hypothesis: Saturated pods are found and scaled}
connections:
  cluster: {type: kubernetes}
steady_state:
  interval: 1s
  probes:
    - {id: up, probe: shell.run, with: {argv: ["true"]}}
faults:
  - id: hot
    action: kubernetes.resource_pressure
    with: {connection: cluster, deployment: checkout, LOAD}
    duration: 1m
detection:
  - steady_state_violated: true
response: {mode: manual, timeout: 1m}
"""


@pytest.mark.parametrize(
    ("load", "problem"),
    [
        ("cpu: 900m", None),
        ("cpu: 2, memory: 512Mi", None),
        ("memory: 1073741824", None),
        ("cpu: 12x", "faults[hot].with.cpu: '12x' does not match"),
        ("namespace: demo", "faults[hot].with"),
    ],
)
def test_resource_pressure_in_a_scenario(tmp_path: Path, cli: Any, load: str, problem: str | None) -> None:
    path = write(tmp_path / "hot.yaml", SCENARIO.replace("LOAD", load))
    result = cli("validate", str(path))
    if problem is None:
        assert result.code == 0, result.out
    else:
        assert result.code == 1 and problem in result.out, result.out
