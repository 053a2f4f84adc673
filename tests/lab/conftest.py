"""Fixtures for the lab tests: a LabCluster per test on a free loopback port, the official client bound to
its kubeconfig, and a helper that runs real kubectl against it."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from runner.lab.k8s import LabCluster, LabConfig
from tests.conftest import wait_for

TIME_SCALE = 0.01  # 100x: pods ready in 20 ms, the default 600 s progress deadline is 6 s


def kubectl_binary() -> str:
    """Prefer $FIRELINE_KUBECTL, then the system kubectl (1.32), then whatever is on PATH."""
    explicit = os.environ.get("FIRELINE_KUBECTL")
    if explicit:
        return explicit
    if Path("/usr/bin/kubectl").exists():
        return "/usr/bin/kubectl"
    found = shutil.which("kubectl")
    if found is None:
        raise RuntimeError("kubectl not found: install it or set FIRELINE_KUBECTL")
    return found


@dataclass
class Kubectl:
    lab: LabCluster
    cache_dir: Path
    binary: str

    def __call__(self, *args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        cmd = [self.binary, "--kubeconfig", str(self.lab.kubeconfig_path), "--cache-dir", str(self.cache_dir), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[LabCluster]:
    cluster = LabCluster(LabConfig(state_dir=tmp_path / "lab", time_scale=TIME_SCALE))
    with cluster:
        cluster.wait_for_rollout("checkout", "demo", timeout=10)
        yield cluster


@pytest.fixture
def api_client(lab: LabCluster) -> Iterator[client.ApiClient]:
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(lab.kubeconfig_path), client_configuration=cfg)
    with client.ApiClient(cfg) as api:
        yield api


@pytest.fixture
def apps(api_client: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api_client)


@pytest.fixture
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def kubectl(lab: LabCluster, tmp_path: Path) -> Kubectl:
    return Kubectl(lab, tmp_path / "kube-cache", kubectl_binary())


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with a clear message on timeout."""
    return wait_for(predicate, "the lab to reach the expected state", timeout, interval)
