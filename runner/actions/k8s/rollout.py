"""Deployment rollout logic as kubectl 1.32 has it, as pure functions over API objects (JSON dicts).

Kept free of I/O so that status messages, revision choice and the undo patch can be read (and tested)
without a cluster.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from runner.errors import ActionError

Obj = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
HASH_LABEL = "pod-template-hash"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
# Annotations `kubectl rollout undo` keeps from the deployment instead of taking them from the ReplicaSet:
# they describe the deployment's own history, not the pod template being restored.
UNDO_SKIPPED_ANNOTATIONS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)
PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"


@dataclass(frozen=True)
class RolloutState:
    message: str
    done: bool
    failed: bool = False


def rollout_state(dep: Obj) -> RolloutState:
    """kubectl's DeploymentStatusViewer: the same checks in the same order, the same words."""
    name = dep["metadata"]["name"]
    meta, spec, status = dep["metadata"], dep.get("spec") or {}, dep.get("status") or {}
    if int(meta.get("generation") or 0) > int(status.get("observedGeneration") or 0):
        return RolloutState("Waiting for deployment spec update to be observed...", False)
    progressing = condition(dep, "Progressing")
    if progressing is not None and progressing.get("reason") == PROGRESS_DEADLINE_EXCEEDED:
        return RolloutState(f'deployment "{name}" exceeded its progress deadline', False, failed=True)
    waiting = f'Waiting for deployment "{name}" rollout to finish: '
    updated = int(status.get("updatedReplicas") or 0)
    replicas = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    wanted = spec.get("replicas")
    if wanted is not None and updated < int(wanted):
        return RolloutState(f"{waiting}{updated} out of {wanted} new replicas have been updated...", False)
    if replicas > updated:
        return RolloutState(f"{waiting}{replicas - updated} old replicas are pending termination...", False)
    if available < updated:
        return RolloutState(f"{waiting}{available} of {updated} updated replicas are available...", False)
    return RolloutState(f'deployment "{name}" successfully rolled out', True)


def condition(obj: Obj, kind: str) -> Obj | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def revision_of(obj: Obj) -> int | None:
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def owned_replicasets(dep: Obj, replicasets: list[Obj]) -> list[Obj]:
    """The ReplicaSets this deployment controls (a label match alone could be another owner's)."""
    uid = dep["metadata"]["uid"]
    return [
        rs
        for rs in replicasets
        if any(
            ref.get("controller") and ref.get("uid") == uid
            for ref in (rs.get("metadata") or {}).get("ownerReferences") or []
        )
    ]


def current_revision(dep: Obj, owned: list[Obj]) -> int:
    revision = revision_of(dep)
    if revision is not None:
        return revision
    return max((r for r in map(revision_of, owned) if r is not None), default=0)


def pick_revision(dep: Obj, owned: list[Obj], to_revision: int | None) -> tuple[int, Obj]:
    """The ReplicaSet to roll back to: `to_revision`, or the highest revision below the current one."""
    by_revision = {r: rs for rs in owned if (r := revision_of(rs)) is not None}
    name = dep["metadata"]["name"]
    if to_revision is not None:
        if to_revision not in by_revision:
            known = ", ".join(map(str, sorted(by_revision))) or "none"
            raise ActionError(
                f'unable to find specified revision {to_revision} in the history of deployment "{name}"',
                hint=f"revisions kept: {known} (see kubernetes.rollout_history)",
            )
        return to_revision, by_revision[to_revision]
    current = current_revision(dep, owned)
    older = [r for r in by_revision if r < current]
    if not older:
        raise ActionError(
            f'no rollout history found for deployment "{name}": nothing to undo to',
            hint="the previous ReplicaSet may have been pruned (spec.revisionHistoryLimit)",
        )
    previous = max(older)
    return previous, by_revision[previous]


def template_without_hash(template: Obj) -> Obj:
    """A pod template as the deployment would carry it: the controller adds pod-template-hash to RS copies."""
    out = copy.deepcopy(template)
    labels = (out.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return out


def same_template(a: Obj, b: Obj) -> bool:
    return template_without_hash(a) == template_without_hash(b)


def undo_patch(dep: Obj, rs: Obj) -> list[Obj]:
    """kubectl's rollback JSON patch: restore the RS's pod template and its non-history annotations."""
    dep_annotations = dep["metadata"].get("annotations") or {}
    annotations = {k: v for k, v in dep_annotations.items() if k in UNDO_SKIPPED_ANNOTATIONS}
    annotations.update(
        {
            k: v
            for k, v in ((rs.get("metadata") or {}).get("annotations") or {}).items()
            if k not in UNDO_SKIPPED_ANNOTATIONS
        }
    )
    return [
        {"op": "replace", "path": "/spec/template", "value": template_without_hash(rs["spec"]["template"])},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]


def images(template: Obj) -> list[str]:
    return [str(c.get("image", "")) for c in ((template.get("spec") or {}).get("containers") or [])]


def history(owned: list[Obj]) -> list[Obj]:
    """`kubectl rollout history` rows, oldest first, with when each revision's ReplicaSet was created (a
    re-adopted revision keeps its first creation time, as on a real cluster)."""
    rows = []
    for rs in owned:
        revision = revision_of(rs)
        if revision is None:
            continue
        annotations = rs["metadata"].get("annotations") or {}
        rows.append(
            {
                "revision": revision,
                "change_cause": annotations.get(CHANGE_CAUSE),
                "created": rs["metadata"].get("creationTimestamp"),
                "images": images(rs["spec"]["template"]),
                "replicaset": rs["metadata"]["name"],
            }
        )
    return sorted(rows, key=lambda row: row["revision"])
