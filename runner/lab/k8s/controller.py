"""The deployment, replica-set and "kubelet" controllers, run as one background thread.

It follows the real controllers' algorithms closely enough for kubectl's rollout commands and for
runbooks that watch rollouts: one ReplicaSet per pod template (re-adopted on undo, with revision
bookkeeping), rolling updates bounded by maxSurge/maxUnavailable, pods that become Ready after a delay
(or never, for crashing images), and the Available/Progressing conditions with their real reasons.

All work happens under the store lock; the thread wakes on any store change or when the next timer
(pod readiness, progress deadline) is due. Durations are multiplied by ``time_scale``.
"""

from __future__ import annotations

import copy
import logging
import random
import threading
import time
from typing import Any

from .objects import (
    CRASH_ANNOTATION,
    DESIRED_REPLICAS,
    HASH_LABEL,
    LAST_APPLIED,
    MAX_REPLICAS,
    REVISION,
    REVISION_HISTORY,
    Obj,
    controller_uid,
    new_uid,
    now_iso,
    pod_ready,
    random_suffix,
    surge_and_unavailable,
    template_hash,
    templates_equal,
)
from .store import Store

log = logging.getLogger(__name__)

# Deployment annotations that are not copied onto ReplicaSets (kubectl's rollout undo uses the same list).
_SKIP_ANNOTATIONS = {
    LAST_APPLIED,
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
}
NODE_NAME = "lab-node-1"  # the one node every pod is scheduled on
_EVENT_LIMIT = 200


def _replicas(obj: Obj) -> int:
    return int(obj.get("spec", {}).get("replicas", 0) or 0)


def _st(obj: Obj, field: str) -> int:
    return int(obj.get("status", {}).get(field, 0) or 0)


def revision(obj: Obj) -> int:
    try:
        return int(obj.get("metadata", {}).get("annotations", {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _is_crashing(pod: Obj) -> bool:
    if str(pod["metadata"].get("annotations", {}).get(CRASH_ANNOTATION, "")).lower() == "true":
        return True
    return any(str(c.get("image", "")).endswith("-broken") for c in pod.get("spec", {}).get("containers", []))


def _condition(ctype: str, status: str, reason: str, message: str, now: str) -> Obj:
    return {
        "type": ctype,
        "status": status,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def _set_condition(conditions: list[Obj], new: Obj, bump_update: bool = False) -> list[Obj]:
    """Like ``SetDeploymentCondition``: keep timestamps unless status/reason change."""
    out = []
    found = False
    for cond in conditions:
        if cond.get("type") != new["type"]:
            out.append(cond)
            continue
        found = True
        if cond.get("status") == new["status"] and cond.get("reason") == new["reason"]:
            if bump_update and cond.get("message") != new["message"]:
                cond = {**cond, "message": new["message"], "lastUpdateTime": new["lastUpdateTime"]}
            out.append(cond)
            continue
        if cond.get("status") == new["status"]:
            new = {**new, "lastTransitionTime": cond.get("lastTransitionTime", new["lastTransitionTime"])}
        out.append(new)
    if not found:
        out.append(new)
    return out


class Controller:
    def __init__(self, store: Store, time_scale: float = 1.0, pod_ready_delay: float = 2.0) -> None:
        self.store = store
        self.time_scale = time_scale
        self.pod_ready_delay = pod_ready_delay
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready_at: dict[str, float] = {}  # pod uid -> monotonic time it becomes ready
        # deployment uid -> (observed generation, monotonic time of the last progress)
        self._progress: dict[str, tuple[int, float]] = {}
        self._next_due = float("inf")
        store.add_listener(self._wake.set)

    # --- thread ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="lab-controller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self.reconcile()
            except Exception:  # a bug in one pass must not kill the lab; log and retry on the next change
                log.exception("lab controller pass failed")
            timeout = min(1.0, max(0.001, self._next_due - time.monotonic()))
            self._wake.wait(timeout)

    def reconcile(self) -> None:
        with self.store.lock:
            now = time.monotonic()
            self._next_due = float("inf")
            for dep in self.store.values("deployments"):
                self._sync_deployment(dep, now)
            for rs in self.store.values("replicasets"):
                self._sync_replicaset(rs, now)
            for pod in self.store.values("pods"):
                self._sync_pod(pod, now)

    def _due(self, when: float) -> None:
        self._next_due = min(self._next_due, when)

    # --- deployments ----------------------------------------------------------------------

    def _sync_deployment(self, dep: Obj, now: float) -> None:
        m = dep["metadata"]
        ns, uid = m.get("namespace", ""), m["uid"]
        spec = dep.get("spec", {})
        desired = _replicas(dep)
        template = spec.get("template", {})
        paused = bool(spec.get("paused"))
        owned = [rs for rs in self.store.values("replicasets", ns) if controller_uid(rs) == uid]
        work = {rs["metadata"]["name"]: copy.deepcopy(rs) for rs in owned}
        new_rs = next((rs for rs in work.values() if templates_equal(rs["spec"].get("template", {}), template)), None)
        olds = sorted(
            (rs for rs in work.values() if rs is not new_rs),
            key=lambda r: (r["metadata"].get("creationTimestamp", ""), r["metadata"]["name"]),
        )
        max_old_rev = max((revision(rs) for rs in olds), default=0)
        surge, max_unavailable = surge_and_unavailable(dep)
        progress_reason: str | None = None
        created: Obj | None = None

        if not paused:
            if new_rs is None:
                new_rs = created = self._new_replicaset(dep, max_old_rev + 1)
                progress_reason = "NewReplicaSetCreated"
            elif revision(new_rs) <= max_old_rev:
                # Re-adoption (rollout undo): the old RS becomes current with the next revision number.
                ann = new_rs["metadata"].setdefault("annotations", {})
                old_rev = ann.get(REVISION)
                history = [h for h in ann.get(REVISION_HISTORY, "").split(",") if h]
                if old_rev:
                    history.append(old_rev)
                    ann[REVISION_HISTORY] = ",".join(history)
                ann[REVISION] = str(max_old_rev + 1)
                progress_reason = "FoundNewReplicaSet"
            self._copy_annotations(dep, new_rs, desired, surge)

        before = {name: _replicas(rs) for name, rs in work.items()}
        if paused:
            self._scale_paused(desired, new_rs, olds)
        elif spec.get("strategy", {}).get("type") == "Recreate":
            self._recreate(desired, new_rs, olds)
        else:
            assert new_rs is not None
            self._rolling(desired, surge, max_unavailable, new_rs, olds)
        scaled = created is not None or any(_replicas(rs) != before.get(name) for name, rs in work.items())

        # Commit ReplicaSet changes.
        if created is not None:
            self.store.create("replicasets", created)
        for name, rs in work.items():
            if rs is created:
                continue
            stored = self.store.peek("replicasets", ns, name)
            if stored is not None and rs != stored:
                self.store.update("replicasets", rs)
        touched = list(work.items()) + ([(created["metadata"]["name"], created)] if created is not None else [])
        for name, rs in touched:
            was, now_replicas = (0 if rs is created else before.get(name, 0)), _replicas(rs)
            if was != now_replicas:
                direction = "up" if now_replicas > was else "down"
                self._event(
                    dep,
                    "Normal",
                    "ScalingReplicaSet",
                    f"Scaled {direction} replica set {name} from {was} to {now_replicas}",
                    "deployment-controller",
                )
        self._cleanup(dep, [rs for rs in olds if rs is not created])

        # Status from the ReplicaSets as they are stored now.
        current = [self.store.peek("replicasets", ns, rs["metadata"]["name"]) for rs in work.values()]
        rses = [rs for rs in current if rs is not None]
        if created is not None:
            rses.append(created)
        new_name = new_rs["metadata"]["name"] if new_rs is not None else None
        new_now = next((rs for rs in rses if rs["metadata"]["name"] == new_name), None)
        self._update_deployment_status(
            dep, rses, new_now, desired, max_unavailable, paused, progress_reason, scaled, now
        )

    def _new_replicaset(self, dep: Obj, rev: int) -> Obj:
        m = dep["metadata"]
        template = copy.deepcopy(dep["spec"]["template"])
        pod_hash = template_hash(template)
        tmeta = template.setdefault("metadata", {})
        tmeta.setdefault("labels", {})[HASH_LABEL] = pod_hash
        selector = copy.deepcopy(dep["spec"].get("selector", {}))
        selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
        labels = dict(tmeta["labels"])
        return {
            "kind": "ReplicaSet",
            "apiVersion": "apps/v1",
            "metadata": {
                "name": f"{m['name']}-{pod_hash}",
                "namespace": m.get("namespace", ""),
                "uid": new_uid(),
                "generation": 1,
                "creationTimestamp": now_iso(),
                "labels": labels,
                "annotations": {REVISION: str(rev)},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": m["name"],
                        "uid": m["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {"replicas": 0, "selector": selector, "template": template},
            "status": {"replicas": 0},
        }

    @staticmethod
    def _copy_annotations(dep: Obj, rs: Obj, desired: int, surge: int) -> None:
        ann = rs["metadata"].setdefault("annotations", {})
        for k, v in (dep["metadata"].get("annotations") or {}).items():
            if k not in _SKIP_ANNOTATIONS:
                ann[k] = v
        ann[DESIRED_REPLICAS] = str(desired)
        ann[MAX_REPLICAS] = str(desired + surge)

    @staticmethod
    def _set_replicas(rs: Obj, n: int) -> None:
        if _replicas(rs) != n:
            rs["spec"]["replicas"] = n
            rs["metadata"]["generation"] = int(rs["metadata"].get("generation", 1)) + 1

    def _scale_paused(self, desired: int, new_rs: Obj | None, olds: list[Obj]) -> None:
        active = [rs for rs in [*olds, new_rs] if rs is not None and _replicas(rs) > 0]
        if new_rs is not None and not any(_replicas(rs) for rs in olds):
            self._set_replicas(new_rs, desired)
        elif len(active) == 1:
            self._set_replicas(active[0], desired)

    def _recreate(self, desired: int, new_rs: Obj | None, olds: list[Obj]) -> None:
        assert new_rs is not None
        if any(_replicas(rs) for rs in olds):
            for rs in olds:
                self._set_replicas(rs, 0)
            return
        if any(_st(rs, "replicas") for rs in olds):
            return  # wait for old pods to go before starting new ones
        self._set_replicas(new_rs, desired)

    def _rolling(self, desired: int, surge: int, max_unavailable: int, new_rs: Obj, olds: list[Obj]) -> None:
        all_rs = [new_rs, *olds]
        # Scale up the new ReplicaSet within the surge budget (reconcileNewReplicaSet).
        if _replicas(new_rs) > desired:
            self._set_replicas(new_rs, desired)
        elif _replicas(new_rs) < desired:
            total = sum(_replicas(rs) for rs in all_rs)
            up = min(desired + surge - total, desired - _replicas(new_rs))
            if up > 0:
                self._set_replicas(new_rs, _replicas(new_rs) + up)
        # Scale down old ReplicaSets without dropping below minAvailable (reconcileOldReplicaSets).
        min_available = desired - max_unavailable
        all_count = sum(_replicas(rs) for rs in all_rs)
        new_unavailable = _replicas(new_rs) - _st(new_rs, "availableReplicas")
        budget = all_count - min_available - new_unavailable
        if budget <= 0:
            return
        for rs in olds:  # first the unhealthy replicas, which cost no availability
            if budget <= 0:
                break
            unhealthy = _replicas(rs) - _st(rs, "availableReplicas")
            if _replicas(rs) == 0 or unhealthy <= 0:
                continue
            step = min(budget, unhealthy)
            self._set_replicas(rs, _replicas(rs) - step)
            budget -= step
        available = sum(_st(rs, "availableReplicas") for rs in all_rs)
        down = min(available - min_available, budget)
        for rs in olds:
            if down <= 0:
                break
            if _replicas(rs) == 0:
                continue
            step = min(_replicas(rs), down)
            self._set_replicas(rs, _replicas(rs) - step)
            down -= step

    def _cleanup(self, dep: Obj, olds: list[Obj]) -> None:
        limit = int(dep["spec"].get("revisionHistoryLimit", 10))
        ns = dep["metadata"].get("namespace", "")
        cleanable = []
        for rs in olds:
            stored = self.store.peek("replicasets", ns, rs["metadata"]["name"])
            if stored is not None and _replicas(stored) == 0 and _st(stored, "replicas") == 0:
                cleanable.append(stored)
        cleanable.sort(key=revision)
        for rs in cleanable[: max(0, len(cleanable) - limit)]:
            self.store.delete("replicasets", ns, rs["metadata"]["name"])

    def _update_deployment_status(
        self,
        dep: Obj,
        rses: list[Obj],
        new_rs: Obj | None,
        desired: int,
        max_unavailable: int,
        paused: bool,
        progress_reason: str | None,
        scaled: bool,
        now: float,
    ) -> None:
        m = dep["metadata"]
        uid, generation = m["uid"], int(m.get("generation", 1))
        available = sum(_st(rs, "availableReplicas") for rs in rses)
        total_spec = sum(_replicas(rs) for rs in rses)
        status: dict[str, Any] = {
            "observedGeneration": generation,
            "replicas": sum(_st(rs, "replicas") for rs in rses),
            "updatedReplicas": _st(new_rs, "replicas") if new_rs is not None else 0,
            "readyReplicas": sum(_st(rs, "readyReplicas") for rs in rses),
            "availableReplicas": available,
            "unavailableReplicas": max(0, total_spec - available),
        }
        complete = status["updatedReplicas"] == desired and status["replicas"] == desired and available == desired

        # Progress tracking for the deadline: any scaling, new/adopted RS or new availability counts.
        last_gen, mark = self._progress.get(uid, (generation, now))
        old_status = dep.get("status", {})
        old_new_available = int(old_status.get("availableReplicas", 0) or 0)
        progressed = progress_reason is not None or scaled or last_gen != generation or available > old_new_available
        if progressed or uid not in self._progress:
            mark = now
        self._progress[uid] = (generation, mark)
        deadline = mark + float(dep["spec"].get("progressDeadlineSeconds", 600)) * self.time_scale
        timed_out = not complete and not paused and now > deadline
        if not complete and not paused and not timed_out:
            self._due(deadline + 0.001)

        stamp = now_iso()
        name = new_rs["metadata"]["name"] if new_rs is not None else ""
        conditions: list[Obj] = list(old_status.get("conditions") or [])
        if available >= desired - max_unavailable:
            avail = _condition(
                "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", stamp
            )
        else:
            avail = _condition(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                stamp,
            )
        conditions = _set_condition(conditions, avail)
        prog: Obj | None = None
        if paused:
            prog = _condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", stamp)
        elif complete:
            prog = _condition(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{name}" has successfully progressed.',
                stamp,
            )
        elif timed_out:
            prog = _condition(
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{name}" has timed out progressing.',
                stamp,
            )
        elif progress_reason == "NewReplicaSetCreated":
            prog = _condition("Progressing", "True", progress_reason, f'Created new replica set "{name}"', stamp)
        elif progress_reason == "FoundNewReplicaSet":
            prog = _condition("Progressing", "True", progress_reason, f'Found new replica set "{name}"', stamp)
        elif progressed or not any(c.get("type") == "Progressing" for c in conditions):
            prog = _condition("Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.', stamp)
        if prog is not None:
            conditions = _set_condition(conditions, prog, bump_update=True)
        # Real servers list Available before Progressing once both exist.
        conditions.sort(key=lambda c: {"Available": 0, "Progressing": 1}.get(str(c.get("type")), 2))
        status["conditions"] = conditions
        status = {k: v for k, v in status.items() if v not in (0, None) or k == "observedGeneration"}

        new_dep = copy.deepcopy(dep)
        new_dep["status"] = status
        if new_rs is not None:
            ann = new_dep["metadata"].setdefault("annotations", {})
            ann[REVISION] = new_rs["metadata"].get("annotations", {}).get(REVISION, "1")
        if new_dep != dep:
            self.store.update("deployments", new_dep)

    # --- replicasets ----------------------------------------------------------------------

    def _sync_replicaset(self, rs: Obj, now: float) -> None:
        m = rs["metadata"]
        ns, uid = m.get("namespace", ""), m["uid"]
        pods = [p for p in self.store.values("pods", ns) if controller_uid(p) == uid]
        desired = _replicas(rs)
        if len(pods) < desired:
            for _ in range(desired - len(pods)):
                pod = self._create_pod(rs, now)
                pods.append(pod)
                self._event(
                    rs, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}", "replicaset-controller"
                )
        elif len(pods) > desired:
            # Delete not-ready pods first, then the newest (the real controller's ranking, simplified).
            pods.sort(key=lambda p: (pod_ready(p), p["metadata"].get("creationTimestamp", "")), reverse=False)
            victims = sorted(pods, key=lambda p: (pod_ready(p), _neg_ts(p)))[: len(pods) - desired]
            for pod in victims:
                self.store.delete("pods", ns, pod["metadata"]["name"])
                self._event(
                    rs, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}", "replicaset-controller"
                )
                self._ready_at.pop(pod["metadata"]["uid"], None)
            victim_names = {p["metadata"]["name"] for p in victims}
            pods = [p for p in pods if p["metadata"]["name"] not in victim_names]
        ready = sum(1 for p in pods if pod_ready(p))
        status: dict[str, Any] = {
            "replicas": len(pods),
            "fullyLabeledReplicas": len(pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": int(m.get("generation", 1)),
        }
        # replicas is required in ReplicaSetStatus; the rest are omitted when zero, as on a real server.
        status = {k: v for k, v in status.items() if v or k == "replicas"}
        if rs.get("status") != status:
            new = copy.deepcopy(rs)
            new["status"] = status
            self.store.update("replicasets", new)

    def _create_pod(self, rs: Obj, now: float) -> Obj:
        template = copy.deepcopy(rs["spec"].get("template", {}))
        tmeta = template.get("metadata", {})
        rs_meta = rs["metadata"]
        stamp = now_iso()
        name = f"{rs_meta['name']}-{random_suffix()}"
        while self.store.peek("pods", rs_meta.get("namespace", ""), name) is not None:
            name = f"{rs_meta['name']}-{random_suffix()}"
        spec = template.get("spec", {})
        spec["nodeName"] = NODE_NAME
        pod: Obj = {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "generateName": f"{rs_meta['name']}-",
                "namespace": rs_meta.get("namespace", ""),
                "uid": new_uid(),
                "creationTimestamp": stamp,
                "labels": dict(tmeta.get("labels", {})),
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": rs_meta["name"],
                        "uid": rs_meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": spec,
            "status": {
                "phase": "Pending",
                "conditions": [
                    {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": stamp}
                ],
                "hostIP": "10.0.0.10",
                "startTime": stamp,
                "containerStatuses": [
                    {
                        "name": c.get("name", ""),
                        "image": c.get("image", ""),
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "started": False,
                        "lastState": {},
                        "state": {"waiting": {"reason": "ContainerCreating"}},
                    }
                    for c in spec.get("containers", [])
                ],
                "qosClass": "BestEffort",
            },
        }
        if tmeta.get("annotations"):
            pod["metadata"]["annotations"] = dict(tmeta["annotations"])
        ready_at = now + self.pod_ready_delay * self.time_scale
        self._ready_at[pod["metadata"]["uid"]] = ready_at
        self._due(ready_at)
        self.store.create("pods", pod)
        return pod

    # --- pods ("kubelet") -----------------------------------------------------------------

    def _sync_pod(self, pod: Obj, now: float) -> None:
        status = pod.get("status", {})
        if status.get("phase") != "Pending":
            return
        uid = pod["metadata"]["uid"]
        if uid not in self._ready_at:  # e.g. loaded from disk, or created through the API
            self._ready_at[uid] = now + self.pod_ready_delay * self.time_scale
        due = self._ready_at[uid]
        if now < due:
            self._due(due)
            return
        stamp = now_iso()
        crashing = _is_crashing(pod)
        ready = "False" if crashing else "True"
        containers = pod.get("spec", {}).get("containers", [])
        names = ", ".join(c.get("name", "") for c in containers)
        new = copy.deepcopy(pod)
        conds: list[Obj] = [
            {"type": "Initialized", "status": "True", "lastProbeTime": None, "lastTransitionTime": stamp},
            {"type": "Ready", "status": ready, "lastProbeTime": None, "lastTransitionTime": stamp},
            {"type": "ContainersReady", "status": ready, "lastProbeTime": None, "lastTransitionTime": stamp},
            {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": stamp},
        ]
        if crashing:
            for c in conds[1:3]:
                c["reason"] = "ContainersNotReady"
                c["message"] = f"containers with unready status: [{names}]"
        ip = f"10.244.{random.randint(0, 255)}.{random.randint(2, 254)}"
        statuses = []
        for c in containers:
            cs: Obj = {
                "name": c.get("name", ""),
                "image": c.get("image", ""),
                "imageID": "",
                "containerID": f"containerd://{new_uid().replace('-', '')}",
            }
            if crashing:
                cs.update(
                    {
                        "ready": False,
                        "started": False,
                        "restartCount": 1,
                        "state": {
                            "waiting": {
                                "reason": "CrashLoopBackOff",
                                "message": f"back-off 10s restarting failed container={c.get('name')}",
                            }
                        },
                        "lastState": {
                            "terminated": {"exitCode": 1, "reason": "Error", "startedAt": stamp, "finishedAt": stamp}
                        },
                    }
                )
            else:
                cs.update(
                    {
                        "ready": True,
                        "started": True,
                        "restartCount": 0,
                        "state": {"running": {"startedAt": stamp}},
                        "lastState": {},
                    }
                )
            statuses.append(cs)
        new["status"] = {
            **status,
            "phase": "Running",
            "conditions": conds,
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "containerStatuses": statuses,
        }
        self._ready_at.pop(uid, None)
        self.store.update("pods", new)
        if crashing:
            self._event(new, "Warning", "BackOff", "Back-off restarting failed container", "kubelet")
        else:
            self._event(new, "Normal", "Started", f"Started container {names}", "kubelet")

    # --- events ---------------------------------------------------------------------------

    def _event(self, involved: Obj, etype: str, reason: str, message: str, component: str) -> None:
        """Record a core/v1 Event (what `kubectl describe` and `kubectl get events` show).

        Only the newest ``_EVENT_LIMIT`` events per namespace are kept so the state file stays small."""
        m = involved["metadata"]
        ns = m.get("namespace", "")
        stamp = now_iso()
        event: Obj = {
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {
                "name": f"{m['name']}.{new_uid().replace('-', '')[:16]}",
                "namespace": ns,
                "uid": new_uid(),
                "creationTimestamp": stamp,
            },
            "involvedObject": {
                "kind": involved.get("kind", ""),
                "namespace": ns,
                "name": m["name"],
                "uid": m.get("uid", ""),
                "apiVersion": involved.get("apiVersion", ""),
                "resourceVersion": m.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message,
            "source": {"component": component},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "type": etype,
            "reportingComponent": component,
            "reportingInstance": "",
        }
        self.store.create("events", event)
        existing = self.store.values("events", ns)
        if len(existing) > _EVENT_LIMIT:
            existing.sort(key=lambda e: int(e["metadata"].get("resourceVersion", "0")))
            for old in existing[: len(existing) - _EVENT_LIMIT]:
                self.store.delete("events", ns, old["metadata"]["name"])


def _neg_ts(pod: Obj) -> str:
    # Newest first when sorting ascending: invert the timestamp's characters' order via a tuple trick.
    ts = pod["metadata"].get("creationTimestamp", "")
    return "".join(chr(0x10FFFF - ord(ch)) for ch in ts)
