"""kubernetes.* actions: rollouts, scaling, pod deletion, waits and reads, with kubectl 1.32's semantics.

Every mutating action's `plan` sends the very request `run` would send, with dryRun=All, and reports the
fields it would change; the API server's admission and validation therefore run in dry-run too.
Helpers live in runner/actions/k8s/ (client and errors, rollout logic, watches, field paths).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from runner import kubevalues
from runner.actions.base import ActionContext, BaseAction, Outcome, Params, Plan, Verdict
from runner.actions.k8s import fields, rollout, usage
from runner.actions.k8s.cluster import Cluster, Conflict, NotFound, Obj, Ref, cluster_for, not_found_message
from runner.actions.k8s.watching import Deadline, Listing, watch_until
from runner.durations import format_duration, parse_duration
from runner.errors import ActionError, StepTimeout

STRATEGIC_MERGE = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
DRY_RUN = "All"
# kubectl retries optimistic-concurrency conflicts a handful of times before giving up.
CONFLICT_ATTEMPTS = 5
DEFAULT_WAIT = "10m"  # waits without their own timeout, bounded in any case by the step's timeout

T = TypeVar("T")


# --- shared plumbing --------------------------------------------------------------------------


def _target(params: Params, ctx: ActionContext) -> tuple[Cluster, str]:
    """The connection's client and the namespace: params → connection → kubeconfig context → default."""
    cluster = cluster_for(ctx, str(params["connection"]))
    return cluster, str(params.get("namespace") or cluster.namespace)


def _get_deployment(cluster: Cluster, ctx: ActionContext, namespace: str, name: str) -> Obj:
    return cluster.call(
        ctx, cluster.apps().read_namespaced_deployment, name, namespace, ref=Ref("deployment", name, namespace)
    )


def _retry_conflicts(ctx: ActionContext, attempt: Callable[[], T]) -> T:
    """Run a read-modify-write `attempt` again when the object changed between its read and its write."""
    for tries in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            return attempt()
        except Conflict as exc:
            if tries == CONFLICT_ATTEMPTS:
                raise ActionError(
                    f"gave up after {tries} conflicting updates: {exc}",
                    hint="something else keeps changing this object (a controller, a CI job?)",
                ) from None
            ctx.log(f"conflict ({exc}); re-reading and retrying")
            ctx.sleep(0.05 * tries)
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class _Limit:
    """How long a wait may last, and whether the step's deadline (rather than its own timeout) set it."""

    until: float  # time.monotonic()
    seconds: float
    by_step: bool


def _wait_until(ctx: ActionContext, params: Params, default: str = DEFAULT_WAIT) -> _Limit:
    """The `timeout` param, cut short by the step's deadline."""
    own = parse_duration(params.get("timeout") or default)
    seconds = ctx.budget(own, before="starting to wait")
    return _Limit(time.monotonic() + seconds, seconds, by_step=seconds < own)


def _timed_out(limit: _Limit, what: str, last: str | None) -> ActionError:
    suffix = f"; last status: {last}" if last else ""
    if limit.by_step:
        return StepTimeout(f"step timeout: gave up after {format_duration(limit.seconds)} waiting for {what}{suffix}")
    return ActionError(f"timed out after {format_duration(limit.seconds)} waiting for {what}{suffix}")


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _rfc3339_now() -> str:
    """kubectl's restartedAt: local time in RFC 3339 (Go writes UTC as Z)."""
    text = datetime.now().astimezone().isoformat(timespec="seconds")
    return text.replace("+00:00", "Z")


def _dry(dry_run: bool) -> dict[str, str]:
    return {"dry_run": DRY_RUN} if dry_run else {}


# --- rollout restart ---------------------------------------------------------------------------


class RolloutRestart(BaseAction):
    """`kubectl rollout restart deployment/x`: bump the pod template's restartedAt annotation."""

    name: ClassVar[str] = "kubernetes.rollout_restart"
    mutates: ClassVar[bool] = True
    idempotent: ClassVar[bool] = False  # every run starts another rollout

    def plan(self, params: Params, ctx: ActionContext) -> Plan:
        before, after, _ = self._restart(params, ctx, dry_run=True)
        changes = fields.diff(before["spec"]["template"], after["spec"]["template"], "spec.template")
        return Plan(
            Verdict.WOULD_CHANGE,
            f'would restart deployment "{params["deployment"]}" in namespace "{_meta(before).get("namespace")}"',
            fields.render_diff(changes),
            {"changes": [list(c) for c in changes]},
        )

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        before, after, stamp = self._restart(params, ctx, dry_run=False)
        name, namespace = params["deployment"], _meta(after).get("namespace")
        result = {
            "deployment": name,
            "namespace": namespace,
            "restarted_at": stamp,
            "generation": _meta(after).get("generation"),
        }
        if _meta(after).get("generation") == _meta(before).get("generation"):
            # Same-second restarts produce the same annotation: the server saw no change.
            return Outcome(
                result,
                f'deployment "{name}" was already restarted at {stamp}',
                changed=False,
                skipped_reason=f"already restarted at {stamp}",
            )
        return Outcome(result, f'restarted deployment "{name}" in namespace "{namespace}" ({stamp})')

    def _restart(self, params: Params, ctx: ActionContext, dry_run: bool) -> tuple[Obj, Obj, str]:
        cluster, namespace = _target(params, ctx)
        name = str(params["deployment"])
        before = _get_deployment(cluster, ctx, namespace, name)
        if (before.get("spec") or {}).get("paused"):
            raise ActionError(
                f'can\'t restart paused deployment "{name}" (run rollout resume first)',
                hint=f"kubectl rollout resume deployment/{name} -n {namespace}",
            )
        stamp = _rfc3339_now()
        patch = {"spec": {"template": {"metadata": {"annotations": {rollout.RESTARTED_AT: stamp}}}}}
        after = cluster.call(
            ctx,
            cluster.apps().patch_namespaced_deployment,
            name,
            namespace,
            patch,
            _content_type=STRATEGIC_MERGE,
            ref=Ref("deployment", name, namespace),
            **_dry(dry_run),
        )
        return before, after, stamp


# --- rollout undo ------------------------------------------------------------------------------


class RolloutUndo(BaseAction):
    """`kubectl rollout undo deployment/x [--to-revision=N]`: restore an older ReplicaSet's pod template."""

    name: ClassVar[str] = "kubernetes.rollout_undo"
    mutates: ClassVar[bool] = True
    idempotent: ClassVar[bool] = False  # without to_revision, a second undo flips back

    def is_idempotent(self, params: Params) -> bool:
        # With a fixed target, running again finds the template already restored and skips.
        return bool(params.get("to_revision"))

    def plan(self, params: Params, ctx: ActionContext) -> Plan:
        step = self._prepare(params, ctx)
        if step.already:
            return Plan(Verdict.NO_CHANGE, step.skip_message(), data=step.describe())
        after = step.send(ctx, dry_run=True)
        changes = fields.diff(step.dep["spec"]["template"], after["spec"]["template"], "spec.template")
        return Plan(
            Verdict.WOULD_CHANGE,
            f'would roll deployment "{step.name}" back from revision {step.current} to {step.revision}',
            fields.render_diff(changes),
            step.describe(),
        )

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        def attempt() -> Outcome:
            step = self._prepare(params, ctx)
            if step.already:
                return Outcome(
                    step.describe(),
                    step.skip_message(),
                    changed=False,
                    skipped_reason=f"already at revision {step.revision}",
                )
            after = step.send(ctx, dry_run=False)
            result = {**step.describe(), "images_after": rollout.images(after["spec"]["template"])}
            return Outcome(
                result,
                f'rolled deployment "{step.name}" back from revision {step.current} '
                f"to {step.revision} ({', '.join(result['images_after'])})",
            )

        return _retry_conflicts(ctx, attempt)

    def _prepare(self, params: Params, ctx: ActionContext) -> _Undo:
        cluster, namespace = _target(params, ctx)
        name = str(params["deployment"])
        dep = _get_deployment(cluster, ctx, namespace, name)
        listing = cluster.call(ctx, cluster.apps().list_namespaced_replica_set, namespace)
        owned = rollout.owned_replicasets(dep, listing.get("items") or [])
        to_revision = params.get("to_revision")
        revision, rs = rollout.pick_revision(dep, owned, int(to_revision) if to_revision else None)
        if (dep.get("spec") or {}).get("paused"):
            raise ActionError(
                f'you cannot roll back paused deployment "{name}"; resume it first',
                hint=f"kubectl rollout resume deployment/{name} -n {namespace}",
            )
        return _Undo(cluster, namespace, name, dep, rs, revision, rollout.current_revision(dep, owned))


class _Undo:
    """One undo decision: the deployment as read, the ReplicaSet chosen, and the patch to send."""

    def __init__(
        self, cluster: Cluster, namespace: str, name: str, dep: Obj, rs: Obj, revision: int, current: int
    ) -> None:
        self.cluster, self.namespace, self.name = cluster, namespace, name
        self.dep, self.rs, self.revision, self.current = dep, rs, revision, current
        self.already = rollout.same_template(rs["spec"]["template"], dep["spec"]["template"])

    def skip_message(self) -> str:
        return (
            f'deployment "{self.name}" is already at revision {self.revision} (its pod template matches that revision)'
        )

    def describe(self) -> Obj:
        return {
            "deployment": self.name,
            "namespace": self.namespace,
            "from_revision": self.current,
            "to_revision": self.revision,
            "replicaset": _meta(self.rs).get("name"),
            "images_before": rollout.images(self.dep["spec"]["template"]),
            "images_target": rollout.images(self.rs["spec"]["template"]),
        }

    def send(self, ctx: ActionContext, dry_run: bool) -> Obj:
        return self.cluster.call(
            ctx,
            self.cluster.apps().patch_namespaced_deployment,
            self.name,
            self.namespace,
            rollout.undo_patch(self.dep, self.rs),
            _content_type=JSON_PATCH,
            ref=Ref("deployment", self.name, self.namespace),
            **_dry(dry_run),
        )


# --- rollout status / history --------------------------------------------------------------------


class RolloutStatus(BaseAction):
    """`kubectl rollout status deployment/x`: watch until the rollout finishes or fails."""

    name: ClassVar[str] = "kubernetes.rollout_status"
    mutates: ClassVar[bool] = False
    idempotent: ClassVar[bool] = True

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        cluster, namespace = _target(params, ctx)
        name = str(params["deployment"])
        limit = _wait_until(ctx, params)
        last: list[str] = []

        def check(objects: dict[str, Obj]) -> bool:
            dep = objects.get(name)
            if dep is None:
                raise NotFound(not_found_message(Ref("deployment", name, namespace), cluster.context))
            state = rollout.rollout_state(dep)
            if not last or last[-1] != state.message:
                last.append(state.message)
                ctx.log(state.message)
            if state.failed:
                raise ActionError(
                    state.message,
                    hint="roll back with kubernetes.rollout_undo; look at the "
                    "new pods' events for why they do not become ready",
                )
            return state.done

        listing = Listing(
            cluster.apps().list_namespaced_deployment, (namespace,), field_selector=f"metadata.name={name}"
        )
        try:
            dep = watch_until(cluster, ctx, listing, limit.until, check)[name]
        except Deadline:
            raise _timed_out(limit, f'deployment "{name}" rollout to finish', last[-1] if last else None) from None
        status = dep.get("status") or {}
        result = {
            "deployment": name,
            "namespace": namespace,
            "revision": rollout.revision_of(dep),
            "replicas": (dep.get("spec") or {}).get("replicas"),
            "updated": status.get("updatedReplicas", 0),
            "available": status.get("availableReplicas", 0),
            "images": rollout.images(dep["spec"]["template"]),
            "message": last[-1],
        }
        return Outcome(result, last[-1], changed=False)


class RolloutHistory(BaseAction):
    """`kubectl rollout history deployment/x`: the revisions kept, with change causes and images."""

    name: ClassVar[str] = "kubernetes.rollout_history"
    mutates: ClassVar[bool] = False
    idempotent: ClassVar[bool] = True

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        cluster, namespace = _target(params, ctx)
        name = str(params["deployment"])
        dep = _get_deployment(cluster, ctx, namespace, name)
        listing = cluster.call(ctx, cluster.apps().list_namespaced_replica_set, namespace)
        owned = rollout.owned_replicasets(dep, listing.get("items") or [])
        rows = rollout.history(owned)
        current = rollout.current_revision(dep, owned)
        result = {"deployment": name, "namespace": namespace, "current": current, "revisions": rows}
        for row in rows:
            cause, created = row["change_cause"] or "<none>", row["created"] or "?"
            ctx.log(f"{row['revision']:>4}  {created}  {cause}  {', '.join(row['images'])}")
        return Outcome(result, f'deployment "{name}": {len(rows)} revisions kept, current {current}', changed=False)


# --- scale -------------------------------------------------------------------------------------


class Scale(BaseAction):
    """`kubectl scale` through the /scale subresource, absolute or relative, within min/max guards."""

    name: ClassVar[str] = "kubernetes.scale"
    mutates: ClassVar[bool] = True
    # Only absolute scaling is safe to repeat; `is_idempotent` says so per step.
    idempotent: ClassVar[bool] = False

    def is_idempotent(self, params: Params) -> bool:
        return "replicas" in params

    def plan(self, params: Params, ctx: ActionContext) -> Plan:
        change = self._scale(params, ctx, dry_run=True)
        if change.before == change.after:
            return Plan(Verdict.NO_CHANGE, change.sentence(params, dry_run=True), data=change.result())
        details = (f"spec.replicas: {change.before} → {change.after}", *change.notes)
        return Plan(Verdict.WOULD_CHANGE, change.sentence(params, dry_run=True), details, change.result())

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        change = self._scale(params, ctx, dry_run=False)
        if change.before == change.after:
            return Outcome(
                change.result(),
                change.sentence(params, dry_run=False),
                changed=False,
                skipped_reason=f"already at {change.after} replicas",
            )
        if params.get("wait"):
            self._wait(params, ctx, change.after)
        return Outcome(change.result(), change.sentence(params, dry_run=False))

    def _scale(self, params: Params, ctx: ActionContext, dry_run: bool) -> _ScaleChange:
        cluster, namespace = _target(params, ctx)
        name = str(params["deployment"])
        ref = Ref("deployment", name, namespace)
        relative = "replicas" not in params
        apps = cluster.apps()

        def attempt() -> _ScaleChange:
            scale = cluster.call(ctx, apps.read_namespaced_deployment_scale, name, namespace, ref=ref)
            change = _ScaleChange.compute(name, namespace, int(scale["spec"].get("replicas") or 0), params)
            if change.before == change.after:
                return change
            body: Obj = {"spec": {"replicas": change.after}}
            if relative:
                # The target was computed from what we read: refuse (409) if it changed meanwhile.
                body["metadata"] = {"resourceVersion": _meta(scale).get("resourceVersion")}
            cluster.call(
                ctx,
                apps.patch_namespaced_deployment_scale,
                name,
                namespace,
                body,
                _content_type=MERGE,
                ref=ref,
                **_dry(dry_run),
            )
            return change

        return _retry_conflicts(ctx, attempt)

    def _wait(self, params: Params, ctx: ActionContext, replicas: int) -> None:
        cluster, namespace = _target(params, ctx)
        name = str(params["deployment"])
        limit = _wait_until(ctx, params)
        listing = Listing(
            cluster.apps().list_namespaced_deployment, (namespace,), field_selector=f"metadata.name={name}"
        )

        def check(objects: dict[str, Obj]) -> bool:
            dep = objects.get(name)
            if dep is None:
                raise NotFound(not_found_message(Ref("deployment", name, namespace), cluster.context))
            status = dep.get("status") or {}
            observed = int(status.get("observedGeneration") or 0) >= int(_meta(dep).get("generation") or 0)
            return (
                observed
                and int(status.get("availableReplicas") or 0) >= replicas
                and int(status.get("replicas") or 0) == replicas
            )

        try:
            watch_until(cluster, ctx, listing, limit.until, check)
        except Deadline:
            raise _timed_out(limit, f'deployment "{name}" to have {replicas} available replicas', None) from None


class _ScaleChange:
    """Current and target replica counts, and why the target differs from what was asked."""

    def __init__(
        self, name: str, namespace: str, before: int, requested: int, after: int, notes: tuple[str, ...]
    ) -> None:
        self.name, self.namespace = name, namespace
        self.before, self.requested, self.after, self.notes = before, requested, after, notes

    @classmethod
    def compute(cls, name: str, namespace: str, before: int, params: Params) -> _ScaleChange:
        if "replicas" in params:
            requested = int(params["replicas"])
        elif "by" in params:
            requested = before + int(params["by"])
        else:
            # Round up: scaling "by 1.5x" under load should never give fewer pods than asked for.
            requested = math.ceil(before * float(params["factor"]))
        low = max(0, int(params.get("min", 0)))
        high = params.get("max")
        after = max(low, requested)
        if high is not None:
            after = min(int(high), after)
        notes: tuple[str, ...] = ()
        if after != requested:
            bound = f"max {high}" if high is not None and after == int(high) else f"min {low}"
            notes = (f"clamped by the {bound} guard: {requested} requested, {after} applied",)
        return cls(name, namespace, before, requested, after, notes)

    def result(self) -> Obj:
        return {
            "deployment": self.name,
            "namespace": self.namespace,
            "before": self.before,
            "after": self.after,
            "requested": self.requested,
            "clamped": bool(self.notes),
        }

    def sentence(self, params: Params, dry_run: bool) -> str:
        where = f'deployment "{self.name}" in namespace "{self.namespace}"'
        if self.before == self.after:
            text = f"{where} already has {self.after} replicas"
        else:
            verb = "would scale" if dry_run else "scaled"
            text = f"{verb} {where} from {self.before} to {self.after} replicas"
        return "; ".join((text, *self.notes))


# --- delete pods --------------------------------------------------------------------------------


class DeletePods(BaseAction):
    """Delete some of the pods a label selector matches (their controllers replace them)."""

    name: ClassVar[str] = "kubernetes.delete_pods"
    mutates: ClassVar[bool] = True
    idempotent: ClassVar[bool] = False

    def plan(self, params: Params, ctx: ActionContext) -> Plan:
        selection = self._select(params, ctx)
        if not selection.chosen:
            return Plan(Verdict.NO_CHANGE, selection.nothing_message())
        deleted = self._delete(params, ctx, selection, dry_run=True)
        details = tuple(f"delete pod {name}" for name in deleted)
        note = " (a real run picks again at random)" if selection.pick == "random" else ""
        return Plan(
            Verdict.WOULD_CHANGE,
            f'would delete {len(deleted)} of {selection.matched} pods matching "{selection.selector}"{note}',
            details,
            selection.result(deleted),
        )

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        selection = self._select(params, ctx)
        if not selection.chosen:
            return Outcome(
                selection.result([]),
                selection.nothing_message(),
                changed=False,
                skipped_reason="no pods match the selector",
            )
        deleted = self._delete(params, ctx, selection, dry_run=False)
        for name in deleted:
            ctx.log(f"deleted pod {name}")
        return Outcome(
            selection.result(deleted),
            f"deleted {len(deleted)} of {selection.matched} pods "
            f'matching "{selection.selector}" in namespace "{selection.namespace}"',
        )

    def _select(self, params: Params, ctx: ActionContext) -> _PodSelection:
        cluster, namespace = _target(params, ctx)
        selector = str(params["selector"])
        pods = cluster.call(ctx, cluster.core().list_namespaced_pod, namespace, label_selector=selector)
        # Pods already terminating are going anyway: deleting them again would inflate the blast radius.
        live = [p for p in pods.get("items") or [] if not _meta(p).get("deletionTimestamp")]
        if not live and not params.get("allow_none"):
            raise ActionError(
                f'no pods match selector "{selector}" in namespace "{namespace}" (context "{cluster.context}")',
                hint="check the selector and namespace, or set allow_none: true",
            )
        pick = str(params.get("pick") or "random")
        chosen = _choose(live, _how_many(len(live), params), pick)
        return _PodSelection(cluster, namespace, selector, pick, len(live), chosen)

    def _delete(self, params: Params, ctx: ActionContext, selection: _PodSelection, dry_run: bool) -> list[str]:
        from kubernetes.client import V1DeleteOptions

        grace = params.get("grace_period")
        # dryRun belongs in the DeleteOptions body: the API server ignores query options when a body is sent.
        seconds = int(parse_duration(grace)) if grace is not None else None
        options = V1DeleteOptions(dry_run=[DRY_RUN] if dry_run else None, grace_period_seconds=seconds)
        core, deleted = selection.cluster.core(), []
        for pod in selection.chosen:
            name = _meta(pod)["name"]
            try:
                selection.cluster.call(
                    ctx,
                    core.delete_namespaced_pod,
                    name,
                    selection.namespace,
                    body=options,
                    ref=Ref("pod", name, selection.namespace),
                )
            except NotFound:
                ctx.log(f"pod {name} was already gone")
                continue
            deleted.append(name)
        return deleted


class _PodSelection:
    def __init__(
        self, cluster: Cluster, namespace: str, selector: str, pick: str, matched: int, chosen: list[Obj]
    ) -> None:
        self.cluster, self.namespace, self.selector, self.pick = cluster, namespace, selector, pick
        self.matched, self.chosen = matched, chosen

    def nothing_message(self) -> str:
        return f'no pods match selector "{self.selector}" in namespace "{self.namespace}"'

    def result(self, deleted: list[str]) -> Obj:
        return {"namespace": self.namespace, "selector": self.selector, "matched": self.matched, "deleted": deleted}


def _how_many(matched: int, params: Params) -> int:
    """Blast radius: `count`, or `percent` rounded down but at least one pod when any match; else all."""
    if matched == 0:
        return 0
    if "count" in params:
        return min(matched, int(params["count"]))
    if "percent" in params:
        return min(matched, max(1, math.floor(matched * float(params["percent"]) / 100)))
    return matched


def _choose(pods: list[Obj], count: int, pick: str) -> list[Obj]:
    if pick == "oldest":
        return sorted(pods, key=lambda p: (_meta(p).get("creationTimestamp") or "", _meta(p)["name"]))[:count]
    return random.sample(pods, count)


# --- wait --------------------------------------------------------------------------------------


class Wait(BaseAction):
    """Wait for a deployment to be Available (or have N ready replicas), or for N ready pods."""

    name: ClassVar[str] = "kubernetes.wait"
    mutates: ClassVar[bool] = False
    idempotent: ClassVar[bool] = True

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        cluster, namespace = _target(params, ctx)
        limit = _wait_until(ctx, params)
        if params.get("deployment"):
            name = str(params["deployment"])
            listing = Listing(
                cluster.apps().list_namespaced_deployment, (namespace,), field_selector=f"metadata.name={name}"
            )
            check, what = self._deployment_check(params, cluster, namespace, name)
        else:
            selector = str(params["selector"])
            listing = Listing(cluster.core().list_namespaced_pod, (namespace,), label_selector=selector)
            check, what = self._pods_check(params, selector)
        seen: list[Obj] = []

        def tracked(objects: dict[str, Obj]) -> bool:
            done, result = check(objects)
            seen[:] = [result]
            return done

        try:
            watch_until(cluster, ctx, listing, limit.until, tracked)
        except Deadline:
            raise _timed_out(limit, what, _wait_status(seen[-1]) if seen else None) from None
        return Outcome({"namespace": namespace, **seen[-1]}, f"{what}: done", changed=False)

    def _deployment_check(
        self, params: Params, cluster: Cluster, namespace: str, name: str
    ) -> tuple[Callable[[dict[str, Obj]], tuple[bool, Obj]], str]:
        condition = str(params.get("condition") or "available")
        count = params.get("count")

        def check(objects: dict[str, Obj]) -> tuple[bool, Obj]:
            dep = objects.get(name)
            if dep is None:
                raise NotFound(not_found_message(Ref("deployment", name, namespace), cluster.context))
            status = dep.get("status") or {}
            ready = int(status.get("readyReplicas") or 0)
            available = (rollout.condition(dep, "Available") or {}).get("status") == "True"
            result = {"deployment": name, "ready": ready, "available": available}
            if condition == "available":
                return available, result
            wanted = int(count) if count is not None else int((dep.get("spec") or {}).get("replicas") or 0)
            return ready >= wanted, {**result, "wanted": wanted}

        wanted = f"{count} ready replicas" if condition == "ready" and count is not None else condition
        return check, f'deployment "{name}" to be {wanted}'

    def _pods_check(self, params: Params, selector: str) -> tuple[Callable[[dict[str, Obj]], tuple[bool, Obj]], str]:
        count = params.get("count")

        def check(objects: dict[str, Obj]) -> tuple[bool, Obj]:
            live = [p for p in objects.values() if not _meta(p).get("deletionTimestamp")]
            ready = sorted(_meta(p)["name"] for p in live if _pod_ready(p))
            # Without a count: every matching pod, and at least one (an empty selection is not "ready").
            wanted = int(count) if count is not None else max(1, len(live))
            return len(ready) >= wanted, {
                "selector": selector,
                "ready": len(ready),
                "wanted": wanted,
                "matched": len(live),
                "pods": ready,
            }

        wanted = f"{count} ready pods" if count is not None else "all pods ready"
        return check, f'"{selector}": {wanted}'


def _wait_status(result: Obj) -> str:
    """The last state seen by a wait, in words, for its timeout message."""
    if "matched" in result:
        return f"{result['ready']} of {result['matched']} matching pods ready, {result['wanted']} wanted"
    text = f"{result['ready']} ready replicas, Available={result['available']}"
    return f"{text}, {result['wanted']} wanted" if "wanted" in result else text


def _pod_ready(pod: Obj) -> bool:
    return (rollout.condition(pod, "Ready") or {}).get("status") == "True"


# --- get ---------------------------------------------------------------------------------------

# kind → (API group accessor, read method, namespaced)
_READERS: dict[str, tuple[str, str, bool]] = {
    "deployment": ("apps", "read_namespaced_deployment", True),
    "replicaset": ("apps", "read_namespaced_replica_set", True),
    "pod": ("core", "read_namespaced_pod", True),
    "namespace": ("core", "read_namespace", False),
    "cronjob": ("batch", "read_namespaced_cron_job", True),
}


class Get(BaseAction):
    """Read one object and pick fields out of it: `fields: {ready: status.readyReplicas}`."""

    name: ClassVar[str] = "kubernetes.get"
    mutates: ClassVar[bool] = False
    idempotent: ClassVar[bool] = True

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        cluster, namespace = _target(params, ctx)
        kind, name = str(params["kind"]), str(params["name"])
        group, method, namespaced = _READERS[kind]
        api: Any = getattr(cluster, group)()
        args = (name, namespace) if namespaced else (name,)
        obj = cluster.call(ctx, getattr(api, method), *args, ref=Ref(kind, name, namespace if namespaced else None))
        result: Obj = {"kind": kind, "name": name, "namespace": namespace if namespaced else None}
        wanted = params.get("fields") or {}
        if wanted:
            result.update({out: fields.lookup(obj, str(path)) for out, path in wanted.items()})
        else:
            _meta(obj).pop("managedFields", None)
            result["object"] = obj
        shown = ", ".join(f"{k}={fields.show(result[k])}" for k in wanted) or "read"
        return Outcome(result, f"{kind} {name}: {shown}", changed=False)


# --- top and logs ------------------------------------------------------------------------------

METRICS_GROUP, METRICS_VERSION = "metrics.k8s.io", "v1beta1"
# Pods whose logs one step reads at most (a deployment of hundreds would be a flood, not an answer).
MAX_LOG_PODS = 50
# Matching lines printed under the step (all of them are in the result).
SHOWN_LINES = 20


def _pods_selector(cluster: Cluster, ctx: ActionContext, namespace: str, params: Params) -> str:
    """The label selector of the pods a step is about: a deployment's own selector, or the one given."""
    if "deployment" in params:
        dep = _get_deployment(cluster, ctx, namespace, str(params["deployment"]))
        return kubevalues.label_selector_text((dep.get("spec") or {}).get("selector"))
    return str(params["selector"])


def _what(params: Params) -> str:
    return f'deployment "{params["deployment"]}"' if "deployment" in params else f'pods "{params.get("selector")}"'


class Top(BaseAction):
    """`kubectl top pods` for a deployment's pods (or a selector's): CPU and memory per pod, their total and
    the busiest pod's, from the Metrics API."""

    name: ClassVar[str] = "kubernetes.top"
    mutates: ClassVar[bool] = False
    idempotent: ClassVar[bool] = True

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        cluster, namespace = _target(params, ctx)
        selector = _pods_selector(cluster, ctx, namespace, params)
        try:
            listing = cluster.call(
                ctx,
                cluster.custom().list_namespaced_custom_object,
                METRICS_GROUP,
                METRICS_VERSION,
                namespace,
                "pods",
                label_selector=selector,
                ref=Ref("metrics", "pods", namespace),
            )
        except NotFound:
            raise ActionError(
                f"the Metrics API ({METRICS_GROUP}) is not available on context {cluster.context!r}",
                hint="the cluster needs metrics-server (kubectl top needs it too)",
            ) from None
        rows = usage.pod_rows(listing.get("items") or [])
        total, peak = usage.totals(rows)
        result: Obj = {"namespace": namespace, "selector": selector, "count": len(rows), "pods": rows}
        result.update({"total": total, "max": peak})
        if "deployment" in params:
            result["deployment"] = str(params["deployment"])
        for row in rows:
            ctx.log(f"{row['pod']}  {row['cpu_millicores']}m  {usage.mebibytes(row['memory_bytes'])}")
        if not rows:
            return Outcome(result, f"{_what(params)}: no pod metrics (no running pods?)", changed=False)
        summary = (
            f"{_what(params)}: {len(rows)} pods use {total['cpu_millicores']}m CPU and "
            f"{usage.mebibytes(total['memory_bytes'])} memory (busiest: {peak['cpu_millicores']}m, "
            f"{usage.mebibytes(peak['memory_bytes'])})"
        )
        return Outcome(result, summary, changed=False)


class Logs(BaseAction):
    """`kubectl logs --tail=N` of a pod or of every pod of a deployment, keeping the lines a pattern finds."""

    name: ClassVar[str] = "kubernetes.logs"
    mutates: ClassVar[bool] = False
    idempotent: ClassVar[bool] = True

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        cluster, namespace = _target(params, ctx)
        pattern = usage.compile_pattern(params.get("pattern"))
        pods = self._pods(cluster, ctx, namespace, params)
        options: dict[str, Any] = {"tail_lines": int(params.get("lines", 100))}
        if params.get("container"):
            options["container"] = str(params["container"])
        if params.get("since"):
            options["since_seconds"] = max(1, math.ceil(parse_duration(params["since"])))
        found: list[Obj] = []
        read = 0
        for pod in pods:
            text = cluster.call_text(
                ctx, cluster.core().read_namespaced_pod_log, pod, namespace, ref=Ref("pod", pod, namespace), **options
            )
            read += len(text.splitlines())
            found += usage.matching(pod, text, pattern)
        result: Obj = {"namespace": namespace, "pods": pods, "read": read, "count": len(found), "lines": found}
        for entry in found[-SHOWN_LINES:]:
            ctx.log(f"{entry['pod']}: {entry['line']}" if len(pods) > 1 else entry["line"])
        if len(found) > SHOWN_LINES:
            ctx.log(f"... and {len(found) - SHOWN_LINES} earlier line(s), all in the step's result")
        which = f" matching {params['pattern']!r}" if pattern is not None else ""
        return Outcome(result, f"{len(found)} of {read} line(s){which} in {len(pods)} pod(s)", changed=False)

    def _pods(self, cluster: Cluster, ctx: ActionContext, namespace: str, params: Params) -> list[str]:
        if "pod" in params:
            return [str(params["pod"])]
        selector = _pods_selector(cluster, ctx, namespace, params)
        listing = cluster.call(ctx, cluster.core().list_namespaced_pod, namespace, label_selector=selector)
        names = sorted(
            _meta(pod)["name"]
            for pod in listing.get("items") or []
            if (pod.get("status") or {}).get("phase") not in ("Pending", None)
        )
        if len(names) > MAX_LOG_PODS:
            ctx.log(f"{len(names)} pods match; reading the first {MAX_LOG_PODS}")
        return names[:MAX_LOG_PODS]
