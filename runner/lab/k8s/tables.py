"""Server-side printing: ``meta.k8s.io/v1 Table`` responses, which is what ``kubectl get`` asks for and
prints verbatim (upper-casing the column names). Columns follow kube-apiserver's printers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from runner.kubevalues import label_selector_text

from .objects import Obj, parse_iso
from .resources import ResourceInfo

Column = tuple[str, str, str, int]  # name, type, format, priority

_NAME: Column = ("Name", "string", "name", 0)
_AGE: Column = ("Age", "string", "", 0)

COLUMNS: dict[str, list[Column]] = {
    "deployments": [
        _NAME,
        ("Ready", "string", "", 0),
        ("Up-to-date", "integer", "", 0),
        ("Available", "integer", "", 0),
        _AGE,
        ("Containers", "string", "", 1),
        ("Images", "string", "", 1),
        ("Selector", "string", "", 1),
    ],
    "replicasets": [
        _NAME,
        ("Desired", "integer", "", 0),
        ("Current", "integer", "", 0),
        ("Ready", "integer", "", 0),
        _AGE,
        ("Containers", "string", "", 1),
        ("Images", "string", "", 1),
        ("Selector", "string", "", 1),
    ],
    "pods": [
        _NAME,
        ("Ready", "string", "", 0),
        ("Status", "string", "", 0),
        ("Restarts", "string", "", 0),
        _AGE,
        ("IP", "string", "", 1),
        ("Node", "string", "", 1),
        ("Nominated Node", "string", "", 1),
        ("Readiness Gates", "string", "", 1),
    ],
    "namespaces": [_NAME, ("Status", "string", "", 0), _AGE],
    "nodes": [
        _NAME,
        ("Status", "string", "", 0),
        ("Roles", "string", "", 0),
        _AGE,
        ("Version", "string", "", 0),
        ("Internal-IP", "string", "", 1),
        ("OS-Image", "string", "", 1),
        ("Kernel-Version", "string", "", 1),
        ("Container-Runtime", "string", "", 1),
    ],
    "cronjobs": [
        _NAME,
        ("Schedule", "string", "", 0),
        ("Timezone", "string", "", 0),
        ("Suspend", "boolean", "", 0),
        ("Active", "integer", "", 0),
        ("Last Schedule", "string", "", 0),
        _AGE,
        ("Containers", "string", "", 1),
        ("Images", "string", "", 1),
        ("Selector", "string", "", 1),
    ],
    "events": [
        ("Last Seen", "string", "", 0),
        ("Type", "string", "", 0),
        ("Reason", "string", "", 0),
        ("Object", "string", "", 0),
        ("Message", "string", "", 0),
    ],
}


def human_duration(seconds: float) -> str:
    """kubectl's ``duration.HumanDuration``."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def _age(ts: str | None) -> str:
    when = parse_iso(ts)
    if when is None:
        return "<unknown>"
    return human_duration((datetime.now(UTC) - when).total_seconds())


def _containers(pod_spec: Obj) -> tuple[str, str]:
    cs = pod_spec.get("containers", [])
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _pod_status(pod: Obj) -> str:
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    status = pod.get("status", {})
    reason = str(status.get("reason") or status.get("phase") or "Unknown")
    for cs in status.get("containerStatuses", []):
        waiting = cs.get("state", {}).get("waiting")
        if waiting and waiting.get("reason"):
            reason = str(waiting["reason"])
        terminated = cs.get("state", {}).get("terminated")
        if terminated and terminated.get("reason"):
            reason = str(terminated["reason"])
    return reason


def _cells(resource: str, obj: Obj) -> list[Any]:
    m = obj["metadata"]
    spec, status = obj.get("spec", {}), obj.get("status", {})
    age = _age(m.get("creationTimestamp"))
    if resource in ("deployments", "replicasets"):
        names, images = _containers(spec.get("template", {}).get("spec", {}))
        selector = label_selector_text(spec.get("selector"))
        desired = int(spec.get("replicas", 0))
        if resource == "deployments":
            return [
                m["name"],
                f"{status.get('readyReplicas', 0)}/{desired}",
                status.get("updatedReplicas", 0),
                status.get("availableReplicas", 0),
                age,
                names,
                images,
                selector,
            ]
        return [
            m["name"],
            desired,
            status.get("replicas", 0),
            status.get("readyReplicas", 0),
            age,
            names,
            images,
            selector,
        ]
    if resource == "pods":
        statuses = status.get("containerStatuses", [])
        total = len(spec.get("containers", []))
        ready = sum(1 for cs in statuses if cs.get("ready"))
        restarts = sum(int(cs.get("restartCount", 0)) for cs in statuses)
        return [
            m["name"],
            f"{ready}/{total}",
            _pod_status(obj),
            str(restarts),
            age,
            status.get("podIP", "<none>"),
            spec.get("nodeName", "<none>"),
            "<none>",
            "<none>",
        ]
    if resource == "namespaces":
        return [m["name"], status.get("phase", "Active"), age]
    if resource == "nodes":
        return _node_cells(obj, age)
    if resource == "cronjobs":
        job_spec = spec.get("jobTemplate", {}).get("spec", {})
        names, images = _containers(job_spec.get("template", {}).get("spec", {}))
        last = status.get("lastScheduleTime")
        return [
            m["name"],
            spec.get("schedule", ""),
            spec.get("timeZone", "<none>"),
            bool(spec.get("suspend")),
            len(status.get("active", [])),
            _age(last) if last else "<none>",
            age,
            names,
            images,
            label_selector_text(job_spec.get("selector")) or "<none>",
        ]
    if resource == "events":
        inv = obj.get("involvedObject", {})
        last = obj.get("lastTimestamp") or obj.get("eventTime") or m.get("creationTimestamp")
        return [
            _age(last),
            obj.get("type", ""),
            obj.get("reason", ""),
            f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}",
            obj.get("message", ""),
        ]
    return [m["name"], age]


def _node_cells(obj: Obj, age: str) -> list[Any]:
    status = obj.get("status", {})
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", []))
    prefix = "node-role.kubernetes.io/"
    roles = ",".join(k[len(prefix) :] for k in obj["metadata"].get("labels") or {} if k.startswith(prefix))
    info = status.get("nodeInfo", {})
    internal = next((a["address"] for a in status.get("addresses", []) if a.get("type") == "InternalIP"), "<none>")
    return [
        obj["metadata"]["name"],
        "Ready" if ready else "NotReady",
        roles or "<none>",
        age,
        info.get("kubeletVersion", ""),
        internal,
        info.get("osImage", ""),
        info.get("kernelVersion", ""),
        info.get("containerRuntimeVersion", ""),
    ]


def _row_object(obj: Obj, include: str) -> Obj | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}


def to_table(
    info: ResourceInfo,
    objs: list[Obj],
    resource_version: str,
    include: str = "Metadata",
    list_meta: Obj | None = None,
    with_columns: bool = True,
) -> Obj:
    columns = COLUMNS.get(info.name, [_NAME, _AGE])
    rows = []
    for obj in objs:
        row: Obj = {"cells": _cells(info.name, obj)}
        ro = _row_object(obj, include)
        if ro is not None:
            row["object"] = ro
        rows.append(row)
    meta: Obj = dict(list_meta or {})
    meta["resourceVersion"] = resource_version
    table: Obj = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
    if with_columns:
        table["columnDefinitions"] = [
            {"name": name, "type": ctype, "format": fmt, "description": name, "priority": prio}
            for name, ctype, fmt, prio in columns
        ]
    else:
        table["columnDefinitions"] = None
    table["rows"] = rows
    return table
