"""The Metrics API (`metrics.k8s.io/v1beta1`, what metrics-server serves), so `kubectl top pods` and
`kubectl top nodes` work against the lab.

Usage is computed, not measured: every running pod has a small, stable baseline derived from its uid (a pod
keeps its numbers; two pods differ a little, as real replicas do), plus the extra load a deployment is told
to carry through the annotations below, which the `kubernetes.resource_pressure` game-day fault sets and
removes. The node's usage is the system's own plus its pods'. Quantities are written as metrics-server writes
them: CPU in nanocores (`25000000n`), memory in KiB (`98304Ki`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from runner import kubevalues

from .errors import ApiError, path_not_found
from .objects import Obj, now_iso
from .resources import NODES, PODS, ResourceInfo
from .selectors import parse_field_selector, parse_label_selector
from .store import Store

GROUP = "metrics.k8s.io"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"
# Extra usage per pod of the deployment carrying the annotation, as a Kubernetes quantity ("800m", "512Mi").
CPU_LOAD = "lab.fireline.dev/cpu-load"
MEMORY_LOAD = "lab.fireline.dev/memory-load"
WINDOW = "10.062s"  # what metrics-server reports for its scrape window

POD_METRICS = ResourceInfo("pods", "", "PodMetrics", GROUP, VERSION, verbs=("get", "list"))
NODE_METRICS = ResourceInfo("nodes", "", "NodeMetrics", GROUP, VERSION, namespaced=False, verbs=("get", "list"))
RESOURCES = (NODE_METRICS, POD_METRICS)

_SYSTEM_CPU_MILLI = 180  # the node's kubelet, runtime and system daemons
_SYSTEM_MEMORY_MI = 900


def quantity(text: Any) -> float:
    """A Kubernetes quantity as a plain number (cores for CPU, bytes for memory); 0 for anything unreadable:
    a mistyped annotation adds no load rather than breaking the Metrics API."""
    return kubevalues.quantity(text) or 0.0


def _stable(uid: str, spread: int) -> int:
    return int.from_bytes(hashlib.sha256(uid.encode()).digest()[:4], "big") % spread


def _owner_deployment(store: Store, pod: Obj) -> Obj | None:
    """The deployment behind a pod, through its ReplicaSet's owner reference (what the controller sets)."""
    namespace = pod["metadata"].get("namespace", "")
    for ref in pod["metadata"].get("ownerReferences") or []:
        if ref.get("kind") != "ReplicaSet":
            continue
        rs = store.peek("replicasets", namespace, ref.get("name", ""))
        for owner in (rs or {}).get("metadata", {}).get("ownerReferences") or []:
            if owner.get("kind") == "Deployment":
                dep = store.peek("deployments", namespace, owner.get("name", ""))
                if dep is not None and dep["metadata"].get("uid") == owner.get("uid"):
                    return dep
    return None


def pod_usage(store: Store, pod: Obj) -> list[tuple[str, float, float]]:
    """(container, cores, bytes) for each container of a running pod. Callers hold the store lock."""
    annotations = (_owner_deployment(store, pod) or {}).get("metadata", {}).get("annotations") or {}
    extra_cpu, extra_memory = quantity(annotations.get(CPU_LOAD, 0)), quantity(annotations.get(MEMORY_LOAD, 0))
    containers = (pod.get("spec") or {}).get("containers") or [{"name": "main"}]
    uid = pod["metadata"].get("uid", pod["metadata"]["name"])
    out = []
    for index, container in enumerate(containers):
        name = str(container.get("name", ""))
        cores = (12 + _stable(f"{uid}/{name}/cpu", 14)) / 1000
        memory = (88 + _stable(f"{uid}/{name}/memory", 24)) * 1024.0**2
        if index == 0:  # the load lands on the main container
            cores, memory = cores + extra_cpu, memory + extra_memory
        out.append((name, cores, memory))
    return out


def _cpu(cores: float) -> str:
    return f"{round(cores * 1e9)}n"


def _memory(size: float) -> str:
    return f"{round(size / 1024)}Ki"


def _running(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp")


def _pod_metrics(store: Store, pod: Obj) -> Obj:
    m = pod["metadata"]
    return {
        "kind": "PodMetrics",
        "apiVersion": API_VERSION,
        "metadata": {
            "name": m["name"],
            "namespace": m.get("namespace", ""),
            "creationTimestamp": now_iso(),
            "labels": dict(m.get("labels") or {}),
        },
        "timestamp": now_iso(),
        "window": WINDOW,
        "containers": [
            {"name": name, "usage": {"cpu": _cpu(cores), "memory": _memory(memory)}}
            for name, cores, memory in pod_usage(store, pod)
        ],
    }


def _node_metrics(store: Store, node: Obj) -> Obj:
    name = node["metadata"]["name"]
    cores, memory = _SYSTEM_CPU_MILLI / 1000, _SYSTEM_MEMORY_MI * 1024.0**2
    for pod in store.values("pods"):
        if _running(pod) and (pod.get("spec") or {}).get("nodeName") == name:
            for _, c, mem in pod_usage(store, pod):
                cores, memory = cores + c, memory + mem
    return {
        "kind": "NodeMetrics",
        "apiVersion": API_VERSION,
        "metadata": {
            "name": name,
            "creationTimestamp": now_iso(),
            "labels": dict(node["metadata"].get("labels") or {}),
        },
        "timestamp": now_iso(),
        "window": WINDOW,
        "usage": {"cpu": _cpu(cores), "memory": _memory(memory)},
    }


def handles(path: str) -> bool:
    return path.startswith(f"/apis/{GROUP}/{VERSION}/")


def serve(store: Store, path: str, query: dict[str, str]) -> Obj:
    """The answer to a GET under /apis/metrics.k8s.io/v1beta1/ (discovery is served with the other groups)."""
    rest = [p for p in path.split("/") if p][3:]
    namespace: str | None = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 2 or rest[0] not in ("pods", "nodes") or (rest[0] == "nodes" and namespace):
        raise path_not_found()
    kind, name = rest[0], rest[1] if len(rest) == 2 else None
    if kind == "pods" and name is not None and namespace is None:
        raise path_not_found()
    labels = parse_label_selector(query.get("labelSelector"))
    fields = parse_field_selector(query.get("fieldSelector"))
    build: Callable[[Store, Obj], Obj]
    with store.lock:
        if kind == "pods":
            objects = [p for p in store.values(PODS.name, namespace) if _running(p)]
            build, info = _pod_metrics, POD_METRICS
        else:
            objects, build, info = store.values(NODES.name), _node_metrics, NODE_METRICS
        if name is not None:
            found = next((o for o in objects if o["metadata"]["name"] == name), None)
            if found is None:
                raise _metrics_not_found(info, f"{namespace}/{name}" if namespace else name)
            return build(store, found)
        chosen = [o for o in objects if labels(o["metadata"].get("labels") or {}) and fields(o)]
        items = [build(store, o) for o in chosen]
    return {"kind": f"{info.kind}List", "apiVersion": API_VERSION, "metadata": {}, "items": items}


def _metrics_not_found(info: ResourceInfo, name: str) -> ApiError:
    # metrics-server's own words for a pod it has no metrics for (not yet scraped, or no such pod).
    plural = "podmetrics" if info is POD_METRICS else "nodemetrics"
    return ApiError(
        404,
        "NotFound",
        f'{plural}.{GROUP} "{name}" not found',
        {"name": name, "group": GROUP, "kind": info.name},
    )
