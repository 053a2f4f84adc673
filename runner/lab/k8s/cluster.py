"""``LabCluster``: the store, the controller and the HTTP server wired together, in-process."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from .api import Api
from .controller import NODE_NAME, Controller
from .resources import DEPLOYMENTS, NAMESPACES, NODES
from .server import LabHTTPServer, make_server
from .store import Store

CONTEXT_NAME = "fireline-lab"
DEFAULT_NAMESPACE = "demo"
STATE_FILE = "state.json"
KUBECONFIG_FILE = "kubeconfig"


@dataclass(frozen=True)
class LabConfig:
    state_dir: Path
    port: int = 0
    time_scale: float = 1.0
    pod_ready_delay: float = 2.0
    seed_demo: bool = True
    host: str = "127.0.0.1"


def kubeconfig_text(url: str, namespace: str = DEFAULT_NAMESPACE) -> str:
    # YAML written by hand: the server must not depend on a YAML library.
    return (
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        f"- name: {CONTEXT_NAME}\n"
        "  cluster:\n"
        f"    server: {url}\n"
        "contexts:\n"
        f"- name: {CONTEXT_NAME}\n"
        "  context:\n"
        f"    cluster: {CONTEXT_NAME}\n"
        f"    user: {CONTEXT_NAME}\n"
        f"    namespace: {namespace}\n"
        f"current-context: {CONTEXT_NAME}\n"
        "preferences: {}\n"
        "users:\n"
        f"- name: {CONTEXT_NAME}\n"
        "  user: {}\n"
    )


def demo_deployment(
    name: str = "checkout", image: str = "registry.local/checkout:1.0", replicas: int = 3
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image, "ports": [{"containerPort": 8080}]}]},
            },
        },
    }


def lab_node(name: str = NODE_NAME) -> dict[str, Any]:
    """The one node every lab pod runs on: 4 cores, 8 GiB (what `kubectl top nodes` reports percentages of)."""
    resources = {"cpu": "4", "memory": "8146632Ki", "pods": "110", "ephemeral-storage": "61202244Ki"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/control-plane": "",
            },
        },
        "spec": {"podCIDR": "10.244.0.0/24"},
        "status": {
            "capacity": resources,
            "allocatable": {**resources, "cpu": "3800m", "memory": "7622344Ki"},
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                }
            ],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.10"}, {"type": "Hostname", "address": name}],
            "nodeInfo": {
                "kubeletVersion": "v1.32.0",
                "containerRuntimeVersion": "containerd://1.7.24",
                "kernelVersion": "6.1.0",
                "osImage": "fireline lab",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


class LabCluster:
    """An in-process Kubernetes API emulator with a deployment controller.

    >>> with LabCluster(LabConfig(state_dir=tmp)) as lab:
    ...     subprocess.run(["kubectl", "--kubeconfig", str(lab.kubeconfig_path), "get", "pods"])
    """

    def __init__(self, config: LabConfig) -> None:
        self.config = config
        self.state_dir = Path(config.state_dir)
        self.store = Store(self.state_dir / STATE_FILE)
        self.api = Api(self.store)
        self.controller = Controller(self.store, config.time_scale, config.pod_ready_delay)
        self._server: LabHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> LabCluster:
        if self._server is not None:
            return self
        self.state_dir.mkdir(parents=True, exist_ok=True)
        loaded = self.store.load()
        if not loaded:
            self._seed()
        if self.store.get(NODES.name, "", NODE_NAME) is None:  # a state file written before the lab had nodes
            self.api.create(NODES, "", lab_node())
        self._server = make_server(self.config.host, self.config.port, self.store)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="lab-http", daemon=True
        )
        self._thread.start()
        self.controller.start()
        self.store.start_saver()
        self.kubeconfig_path.write_text(kubeconfig_text(self.url))
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self.controller.stop()
        self.store.close()  # wakes watchers so their streams end, and writes the final state
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> LabCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- properties -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("lab is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def kubeconfig_path(self) -> Path:
        return self.state_dir / KUBECONFIG_FILE

    @property
    def state_path(self) -> Path:
        return self.state_dir / STATE_FILE

    # --- helpers for tests and demos -------------------------------------------------------

    def wait_for_rollout(self, name: str, namespace: str = DEFAULT_NAMESPACE, timeout: float = 30.0) -> dict[str, Any]:
        """Block until the deployment is fully rolled out (the same test ``kubectl rollout status`` uses)."""
        deadline = time.monotonic() + timeout
        while True:
            dep = self.store.get("deployments", namespace, name)
            if dep is not None and _rolled_out(dep):
                return dep
            if time.monotonic() > deadline:
                raise TimeoutError(f"deployment {namespace}/{name} did not roll out within {timeout}s")
            time.sleep(0.01)

    def _seed(self) -> None:
        for ns in ("default", DEFAULT_NAMESPACE):
            self.api.create(NAMESPACES, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        if self.config.seed_demo:
            self.api.create(DEPLOYMENTS, DEFAULT_NAMESPACE, demo_deployment())


def _rolled_out(dep: dict[str, Any]) -> bool:
    spec, status = dep.get("spec", {}), dep.get("status", {})
    desired = int(spec.get("replicas", 1))
    return (
        int(dep["metadata"].get("generation", 1)) <= int(status.get("observedGeneration", 0))
        and int(status.get("updatedReplicas", 0)) == desired
        and int(status.get("replicas", 0)) == desired
        and int(status.get("availableReplicas", 0)) == desired
    )
