"""The resource types the lab serves: names, kinds and verbs, shared by discovery, routing and errors."""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceInfo:
    name: str  # plural, as in URLs: "deployments"
    singular: str
    kind: str
    group: str  # "" for the core group
    version: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    # subresource name -> (group, version, kind, verbs); empty group/version = same as parent
    subresources: dict[str, tuple[str, str, str, tuple[str, ...]]] = field(default_factory=dict)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``deployments.apps`` / ``pods``: the form used in Status messages."""
        return f"{self.name}.{self.group}" if self.group else self.name

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


_STATUS = ("get", "patch", "update")

NAMESPACES = ResourceInfo(
    "namespaces",
    "namespace",
    "Namespace",
    "",
    "v1",
    namespaced=False,
    short_names=("ns",),
    verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    subresources={"status": ("", "", "Namespace", _STATUS)},
)
PODS = ResourceInfo(
    "pods",
    "pod",
    "Pod",
    "",
    "v1",
    short_names=("po",),
    categories=("all",),
    subresources={"log": ("", "", "Pod", ("get",)), "status": ("", "", "Pod", _STATUS)},
)
EVENTS = ResourceInfo("events", "event", "Event", "", "v1", short_names=("ev",))
# One node, which every pod is scheduled on: `kubectl get nodes` and `kubectl top nodes` need it.
NODES = ResourceInfo(
    "nodes",
    "node",
    "Node",
    "",
    "v1",
    namespaced=False,
    short_names=("no",),
    subresources={"status": ("", "", "Node", _STATUS)},
)
DEPLOYMENTS = ResourceInfo(
    "deployments",
    "deployment",
    "Deployment",
    "apps",
    "v1",
    short_names=("deploy",),
    categories=("all",),
    subresources={
        "scale": ("autoscaling", "v1", "Scale", _STATUS),
        "status": ("", "", "Deployment", _STATUS),
    },
)
REPLICASETS = ResourceInfo(
    "replicasets",
    "replicaset",
    "ReplicaSet",
    "apps",
    "v1",
    short_names=("rs",),
    categories=("all",),
    subresources={
        "scale": ("autoscaling", "v1", "Scale", _STATUS),
        "status": ("", "", "ReplicaSet", _STATUS),
    },
)
CRONJOBS = ResourceInfo(
    "cronjobs",
    "cronjob",
    "CronJob",
    "batch",
    "v1",
    short_names=("cj",),
    categories=("all",),
    subresources={"status": ("", "", "CronJob", _STATUS)},
)

RESOURCES: tuple[ResourceInfo, ...] = (NAMESPACES, NODES, PODS, EVENTS, DEPLOYMENTS, REPLICASETS, CRONJOBS)

# Group versions in discovery order; "" is the legacy core group served under /api. metrics.k8s.io is served
# by runner/lab/k8s/metrics.py (computed, never stored).
GROUP_VERSIONS: dict[str, tuple[str, ...]] = {
    "": ("v1",),
    "apps": ("v1",),
    "batch": ("v1",),
    "metrics.k8s.io": ("v1beta1",),
}


def lookup(group: str, version: str, name: str) -> ResourceInfo | None:
    for info in RESOURCES:
        if info.group == group and info.version == version and info.name == name:
            return info
    return None


def by_name(name: str) -> ResourceInfo:
    for info in RESOURCES:
        if info.name == name:
            return info
    raise KeyError(name)
