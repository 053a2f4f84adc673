"""Object helpers: timestamps, names, defaulting and validation, following kube-apiserver's rules for the
fields clients (kubectl, the official Python client) look at."""

from __future__ import annotations

import hashlib
import json
import random
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from .errors import ApiError, invalid
from .resources import CRONJOBS, DEPLOYMENTS, NAMESPACES, PODS, REPLICASETS, ResourceInfo
from .selectors import selector_from_label_selector

Obj = dict[str, Any]

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
CRASH_ANNOTATION = "lab.fireline.dev/crash"

# The alphabet Kubernetes uses for generated name suffixes and template hashes (no vowels, no 0/1/3).
_ALPHANUM = "bcdfghjklmnpqrstvwxz2456789"
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def new_uid() -> str:
    return str(uuid.uuid4())


def random_suffix(n: int = 5) -> str:
    return "".join(random.choice(_ALPHANUM) for _ in range(n))


def _normalised_template(template: Obj) -> Obj:
    """Shallow copy without the hash label and without empty metadata, for comparing and hashing."""
    md = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (md.pop("labels", None) or {}).items() if k != HASH_LABEL}
    if labels:
        md["labels"] = labels
    out = {k: v for k, v in template.items() if k != "metadata"}
    if md:
        out["metadata"] = md
    return out


def template_hash(template: Obj) -> str:
    """Stable hash of a pod template, ignoring the hash label itself (like ``controller.ComputeHash``)."""
    text = json.dumps(_normalised_template(template), sort_keys=True)
    num = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    out = []
    for _ in range(10):
        num, rem = divmod(num, len(_ALPHANUM))
        out.append(_ALPHANUM[rem])
    return "".join(out)


def templates_equal(a: Obj, b: Obj) -> bool:
    """Template equality ignoring ``pod-template-hash`` (``EqualIgnoreHash`` in the deployment controller)."""
    return _normalised_template(a) == _normalised_template(b)


def prune_nulls(value: Any) -> Any:
    """Drop ``null`` map values: Go clients send ``creationTimestamp: null`` for unset fields, and a real
    server decodes null as "unset". Without this a template round-tripped through kubectl would never
    compare equal to the stored one."""
    if isinstance(value, dict):
        return {k: prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [prune_nulls(v) for v in value]
    return value


def meta(obj: Obj) -> Obj:
    m = obj.get("metadata")
    if not isinstance(m, dict):
        m = {}
        obj["metadata"] = m
    return m


def controller_uid(obj: Obj) -> str | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def pod_ready(pod: Obj) -> bool:
    """The pod's Ready condition is True: it counts as a ready replica and a Service sends it requests."""
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def resolve_int_or_percent(value: Any, total: int, round_up: bool) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        pct = int(text[:-1])
        quotient, rem = divmod(pct * total, 100)
        return quotient + (1 if round_up and rem else 0)
    return int(text)


def surge_and_unavailable(dep: Obj) -> tuple[int, int]:
    spec = dep.get("spec", {})
    desired = int(spec.get("replicas", 1))
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0, desired
    ru = strategy.get("rollingUpdate") or {}
    surge = resolve_int_or_percent(ru.get("maxSurge", "25%"), desired, round_up=True)
    unavailable = resolve_int_or_percent(ru.get("maxUnavailable", "25%"), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # the controller never lets a rollout get stuck on 0/0
    return surge, min(unavailable, desired)


# --- defaulting ---------------------------------------------------------------------------


def _default_container(c: Obj) -> None:
    image = str(c.get("image", ""))
    tag = image.rsplit("/", 1)[-1]
    if "imagePullPolicy" not in c:
        untagged = ":" not in tag and "@" not in image
        c["imagePullPolicy"] = "Always" if untagged or tag.endswith(":latest") else "IfNotPresent"
    c.setdefault("resources", {})
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    for port in c.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")


def default_pod_spec(spec: Obj) -> None:
    for field in ("containers", "initContainers"):
        for c in spec.get(field) or []:
            if isinstance(c, dict):
                _default_container(c)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")


def default_template(tmpl: Obj) -> None:
    tmpl.setdefault("metadata", {})
    spec = tmpl.setdefault("spec", {})
    if isinstance(spec, dict):
        default_pod_spec(spec)


def default_deployment(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        ru = strategy.setdefault("rollingUpdate", {})
        ru.setdefault("maxUnavailable", "25%")
        ru.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    if isinstance(spec.get("template"), dict):
        default_template(spec["template"])


def default_replicaset(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    if isinstance(spec.get("template"), dict):
        default_template(spec["template"])


def default_cronjob(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_spec = spec.setdefault("jobTemplate", {}).setdefault("spec", {})
    if isinstance(job_spec, dict):
        job_spec.setdefault("backoffLimit", 6)
        tmpl = job_spec.get("template")
        if isinstance(tmpl, dict):
            default_template(tmpl)
            if isinstance(tmpl.get("spec"), dict) and tmpl["spec"].get("restartPolicy") == "Always":
                pass  # validation reports it; Jobs need Never/OnFailure
    obj.setdefault("status", {})


def default_namespace(obj: Obj) -> None:
    name = meta(obj).get("name", "")
    meta(obj).setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    obj.setdefault("spec", {"finalizers": ["kubernetes"]})
    obj["status"] = {"phase": "Active"}


def default_pod(obj: Obj) -> None:
    default_pod_spec(obj.setdefault("spec", {}))
    obj.setdefault("status", {"phase": "Pending", "qosClass": "BestEffort"})


DEFAULTERS = {
    DEPLOYMENTS.name: default_deployment,
    REPLICASETS.name: default_replicaset,
    CRONJOBS.name: default_cronjob,
    NAMESPACES.name: default_namespace,
    PODS.name: default_pod,
}


def apply_defaults(info: ResourceInfo, obj: Obj) -> None:
    fn = DEFAULTERS.get(info.name)
    if fn is not None:
        fn(obj)


# --- validation -----------------------------------------------------------------------------


def _go_map(labels: dict[str, Any]) -> str:
    inner = ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items()))
    return "map[string]string{" + inner + "}"


def _validate_pod_spec(spec: Any, path: str, causes: list[tuple[str, str]]) -> None:
    if not isinstance(spec, dict):
        causes.append((path, "Required value"))
        return
    containers = spec.get("containers")
    if not containers or not isinstance(containers, list):
        causes.append((f"{path}.containers", "Required value"))
        return
    seen: set[str] = set()
    for i, c in enumerate(containers):
        cpath = f"{path}.containers[{i}]"
        if not isinstance(c, dict):
            causes.append((cpath, "Invalid value: must be an object"))
            continue
        name = c.get("name")
        if not name:
            causes.append((f"{cpath}.name", "Required value"))
        elif name in seen:
            causes.append((f"{cpath}.name", f'Duplicate value: "{name}"'))
        else:
            seen.add(str(name))
        if not c.get("image"):
            causes.append((f"{cpath}.image", "Required value"))


def _validate_workload(obj: Obj, causes: list[tuple[str, str]], *, immutable_selector: Obj | None) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.append(("spec", "Required value"))
        return
    replicas = spec.get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        causes.append(("spec.replicas", f"Invalid value: {replicas!r}: must be an integer"))
    elif replicas < 0:
        causes.append(("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0"))
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        causes.append(("spec.selector", "Required value"))
        selector = None
    template = spec.get("template")
    if not isinstance(template, dict):
        causes.append(("spec.template", "Required value"))
        return
    labels = (template.get("metadata") or {}).get("labels") or {}
    if selector is not None and not selector_from_label_selector(selector)(labels):
        causes.append(
            (
                "spec.template.metadata.labels",
                f"Invalid value: {_go_map(labels)}: `selector` does not match template `labels`",
            )
        )
    if immutable_selector is not None and selector is not None and selector != immutable_selector:
        causes.append(("spec.selector", f"Invalid value: {json.dumps(selector)}: field is immutable"))
    _validate_pod_spec(template.get("spec"), "spec.template.spec", causes)
    if obj.get("kind") == "Deployment" or "strategy" in spec:
        pds = spec.get("progressDeadlineSeconds")
        if isinstance(pds, int) and pds <= int(spec.get("minReadySeconds", 0) or 0):
            causes.append(
                ("spec.progressDeadlineSeconds", f"Invalid value: {pds}: must be greater than minReadySeconds")
            )
        rhl = spec.get("revisionHistoryLimit")
        if isinstance(rhl, int) and rhl < 0:
            causes.append(("spec.revisionHistoryLimit", f"Invalid value: {rhl}: must be greater than or equal to 0"))
        strategy = spec.get("strategy") or {}
        if strategy.get("type") not in (None, "RollingUpdate", "Recreate"):
            supported = '"Recreate", "RollingUpdate"'
            causes.append(
                ("spec.strategy.type", f'Unsupported value: "{strategy.get("type")}": supported values: {supported}')
            )


def validate(info: ResourceInfo, obj: Obj, old: Obj | None = None) -> None:
    """Raise 422 Invalid for objects the real API server would reject (the subset clients hit)."""
    causes: list[tuple[str, str]] = []
    m = obj.get("metadata") or {}
    name = str(m.get("name") or "")
    if not name:
        causes.append(("metadata.name", "Required value: name or generateName is required"))
    elif len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
        causes.append(
            (
                "metadata.name",
                f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric '
                "characters, '-' or '.', and must start and end with an alphanumeric character",
            )
        )
    if info in (DEPLOYMENTS, REPLICASETS):
        old_sel = (old or {}).get("spec", {}).get("selector") if old else None
        _validate_workload(obj, causes, immutable_selector=old_sel)
    elif info is CRONJOBS:
        spec = obj.get("spec") or {}
        if not spec.get("schedule"):
            causes.append(("spec.schedule", "Required value"))
        tmpl = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
        if not isinstance(tmpl, dict):
            causes.append(("spec.jobTemplate.spec.template", "Required value"))
        else:
            _validate_pod_spec(tmpl.get("spec"), "spec.jobTemplate.spec.template.spec", causes)
            policy = (tmpl.get("spec") or {}).get("restartPolicy")
            if policy not in ("OnFailure", "Never"):
                causes.append(
                    (
                        "spec.jobTemplate.spec.template.spec.restartPolicy",
                        f'Unsupported value: "{policy}": supported values: "OnFailure", "Never"',
                    )
                )
    elif info is PODS:
        _validate_pod_spec(obj.get("spec"), "spec", causes)
    if causes:
        raise invalid(info, name, causes)


def check_kind(info: ResourceInfo, obj: Any) -> Obj:
    if not isinstance(obj, dict):
        raise ApiError(400, "BadRequest", "the body of the request must be a JSON object")
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if kind and kind != info.kind:
        raise ApiError(400, "BadRequest", f"kind {kind} does not match the expected kind {info.kind}")
    if api_version and api_version != info.api_version:
        raise ApiError(
            400,
            "BadRequest",
            f"the API version in the data ({api_version}) does not match the expected API version ({info.api_version})",
        )
    obj["kind"] = info.kind
    obj["apiVersion"] = info.api_version
    return obj
