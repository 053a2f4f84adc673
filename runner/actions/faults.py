"""Game-day faults and their reverts. Every fault records what its revert needs (durably, through `record`)
before it changes anything, so `fireline gameday recover` can undo it even after a kill -9. Reverts are
idempotent.

What the validator and the game day need to know about a fault apart from running it (does it take a
declared revert command, does it fall under a blast-radius limit) is data in schemas/faults.json, under
`x-fireline`, keyed by fault: `fault_traits(name)` reads it, so nothing outside this package names a fault.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from runner.actions.base import ActionContext
from runner.actions.declarations import TRAITS_KEY, schema_dir
from runner.actions.registry import get_action
from runner.errors import ActionError

if TYPE_CHECKING:
    from runner.document.gameday_model import Fault

Record = Callable[[Mapping[str, Any]], None]
State = Mapping[str, Any]


class Revert(StrEnum):
    OWN = "own"  # the fault knows how to undo itself from what it recorded
    DECLARED = "declared"  # the scenario says how (`revert:`, with the same action's parameters)


class BlastRadius(StrEnum):
    PODS = "pods"  # removes pods matched by `selector`: limited by the guardrail `max_pods_percent`


@dataclass(frozen=True)
class FaultTraits:
    revert: Revert = Revert.OWN
    blast_radius: BlastRadius | None = None


@cache
def _declared() -> dict[str, Any]:
    with (schema_dir() / "faults.json").open(encoding="utf-8") as fh:
        traits: dict[str, Any] = json.load(fh).get(TRAITS_KEY, {})
    return traits


def fault_traits(name: str) -> FaultTraits:
    """What schemas/faults.json declares about a fault (defaults for one it says nothing about)."""
    declared = _declared().get(name, {})
    radius = declared.get("blast_radius")
    return FaultTraits(
        revert=Revert(declared.get("revert", Revert.OWN)),
        blast_radius=BlastRadius(radius) if radius is not None else None,
    )


def pods_matched(params: Mapping[str, Any], ctx: ActionContext) -> int:
    """How many pods the `selector` of a fault with a pod blast radius matches now: what its `count` is
    measured against."""
    from runner.actions.k8s.cluster import cluster_for

    cluster = cluster_for(ctx, params["connection"])
    pods = cluster.call(
        ctx,
        cluster.core().list_namespaced_pod,
        params.get("namespace") or cluster.namespace,
        label_selector=params["selector"],
    )
    return len(pods.get("items", []))


class FaultKind(Protocol):
    def inject(self, fault: Fault, params: Mapping[str, Any], ctx: ActionContext, record: Record) -> State: ...

    def revert(self, fault: Fault, params: Mapping[str, Any], state: State, ctx: ActionContext) -> str: ...


# Live resources a fault holds inside this process (held connections, open transactions). After a crash
# they are gone with the process; reverts then clean up on the server side.
_HELD: dict[str, list[Any]] = {}
_HELD_LOCK = threading.Lock()


def _hold(key: str, resource: Any) -> None:
    with _HELD_LOCK:
        _HELD.setdefault(key, []).append(resource)


def _release(key: str) -> int:
    with _HELD_LOCK:
        resources = _HELD.pop(key, [])
    for resource in resources:
        with contextlib.suppress(Exception):
            resource.close()
    return len(resources)


def _pg_settings(params: Mapping[str, Any], ctx: ActionContext) -> Mapping[str, Any]:
    return ctx.connection(params["connection"], "postgres")


# A revert that has just closed the held connections connects once more to clean up. The server frees a
# closed connection's slot a moment after the client hung up, so that connection may be refused as "too
# many clients" for a short while: it is tried again for this long before the revert counts as failed.
_SLOTS_FREED_WITHIN = 10.0


def _revert_connection(dsn: str) -> Any:
    import psycopg

    deadline, pause = time.monotonic() + _SLOTS_FREED_WITHIN, 0.05
    while True:
        try:
            return psycopg.connect(dsn, autocommit=True, connect_timeout=5, application_name="fireline-revert")
        except psycopg.OperationalError as exc:
            if not _out_of_slots(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 1.0)


def _out_of_slots(exc: Exception) -> bool:
    # libpq reports a refusal at connect time as text; the SQLSTATE (53300) is not always set then.
    text = str(exc)
    return getattr(exc, "sqlstate", None) == "53300" or "too many clients" in text or "slots are reserved" in text


def _terminate_by_app(params: Mapping[str, Any], ctx: ActionContext, application_name: str) -> int:
    with _revert_connection(_pg_settings(params, ctx)["dsn"]) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (application_name,),
        ).fetchall()
    return len(rows)


class HoldConnections:
    """A leaking pool: idle connections opened and held until the server refuses (or `count`)."""

    def inject(self, fault: Fault, params: Mapping[str, Any], ctx: ActionContext, record: Record) -> State:
        import psycopg

        app = params.get("application_name") or f"fireline-fault-{fault.id}"
        record({"application_name": app})
        dsn = _pg_settings(params, ctx)["dsn"]
        wanted = params.get("count") or int(params.get("max", 500))
        opened, refused = 0, ""
        while opened < wanted:
            try:
                conn = psycopg.connect(dsn, autocommit=True, connect_timeout=5, application_name=app)
            except psycopg.OperationalError as exc:
                if params.get("count"):
                    raise ActionError(f"could only open {opened} of {wanted} connections: {exc}") from None
                refused = str(exc).strip().splitlines()[-1]
                break
            _hold(app, conn)
            opened += 1
        return {"application_name": app, "held": opened, "refused": refused}

    def revert(self, fault: Fault, params: Mapping[str, Any], state: State, ctx: ActionContext) -> str:
        app = state.get("application_name") or params.get("application_name") or f"fireline-fault-{fault.id}"
        closed = _release(app)
        leftover = _terminate_by_app(params, ctx, app)
        return f"closed {closed} held connection(s), terminated {leftover} leftover"


class LockTable:
    def inject(self, fault: Fault, params: Mapping[str, Any], ctx: ActionContext, record: Record) -> State:
        import psycopg
        from psycopg import sql

        app = f"fireline-fault-{fault.id}"
        record({"application_name": app})
        conn = psycopg.connect(_pg_settings(params, ctx)["dsn"], connect_timeout=5, application_name=app)
        schema, _, table = params["table"].rpartition(".")
        ident = sql.Identifier(schema, table) if schema else sql.Identifier(table)
        mode = params.get("mode", "ACCESS EXCLUSIVE")
        conn.execute(sql.SQL("LOCK TABLE {} IN " + mode + " MODE").format(ident))  # mode: schema enum
        _hold(app, conn)  # the transaction stays open: the lock is held until revert
        return {"application_name": app, "table": params["table"], "mode": mode}

    def revert(self, fault: Fault, params: Mapping[str, Any], state: State, ctx: ActionContext) -> str:
        app = state.get("application_name") or f"fireline-fault-{fault.id}"
        released = _release(app)  # closing a connection rolls its transaction back
        leftover = _terminate_by_app(params, ctx, app)
        return f"released the lock ({released} held, {leftover} terminated)"


class ActionFault:
    """A fault that is a runbook action (delete pods, terminate backends): nothing to put back, the system
    heals itself (a controller recreates pods, clients reconnect)."""

    def inject(self, fault: Fault, params: Mapping[str, Any], ctx: ActionContext, record: Record) -> State:
        record({})
        return dict(get_action(fault.action).run(params, ctx).result)

    def revert(self, fault: Fault, params: Mapping[str, Any], state: State, ctx: ActionContext) -> str:
        return "nothing to revert: the system replaces what was removed"


class ScaleFault:
    def inject(self, fault: Fault, params: Mapping[str, Any], ctx: ActionContext, record: Record) -> State:
        current = (
            get_action("kubernetes.get")
            .run(
                {
                    **_k8s_target(params),
                    "kind": "deployment",
                    "name": params["deployment"],
                    "fields": {"replicas": "spec.replicas"},
                },
                ctx,
            )
            .result
        )
        before = _field(current, "replicas")
        record({"before": before})
        get_action("kubernetes.scale").run(params, ctx)
        return {"before": before}

    def revert(self, fault: Fault, params: Mapping[str, Any], state: State, ctx: ActionContext) -> str:
        if state.get("before") is None:
            raise ActionError("the replica count before the fault was not recorded; scale back by hand")
        get_action("kubernetes.scale").run(
            {**_k8s_target(params), "deployment": params["deployment"], "replicas": int(state["before"])}, ctx
        )
        return f"scaled {params['deployment']} back to {state['before']}"


class BadRollout:
    def inject(self, fault: Fault, params: Mapping[str, Any], ctx: ActionContext, record: Record) -> State:
        from runner.actions.k8s.cluster import cluster_for

        cluster = cluster_for(ctx, params["connection"])
        namespace = params.get("namespace") or cluster.namespace
        dep = cluster.call(ctx, cluster.apps().read_namespaced_deployment, params["deployment"], namespace)
        containers = dep["spec"]["template"]["spec"]["containers"]
        container = next((c for c in containers if c["name"] == params.get("container")), containers[0])
        revision = int(dep["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", "0"))
        image = params.get("image") or _broken(container["image"])
        record(
            {"revision": revision, "image": container["image"], "container": container["name"], "namespace": namespace}
        )
        patch = {"spec": {"template": {"spec": {"containers": [{"name": container["name"], "image": image}]}}}}
        cluster.call(ctx, cluster.apps().patch_namespaced_deployment, params["deployment"], namespace, patch)
        return {
            "revision": revision,
            "image": container["image"],
            "container": container["name"],
            "namespace": namespace,
            "broken_image": image,
        }

    def revert(self, fault: Fault, params: Mapping[str, Any], state: State, ctx: ActionContext) -> str:
        """Put the recorded image back. Not `rollout undo` to a revision number: a responder's undo re-adopts
        the old ReplicaSet under a new number, and the revert must still be a no-op then."""
        from runner.actions.k8s.cluster import cluster_for

        if not state.get("image"):
            raise ActionError("the image before the fault was not recorded; roll back by hand")
        cluster = cluster_for(ctx, params["connection"])
        namespace = state.get("namespace") or params.get("namespace") or cluster.namespace
        dep = cluster.call(ctx, cluster.apps().read_namespaced_deployment, params["deployment"], namespace)
        container = next(c for c in dep["spec"]["template"]["spec"]["containers"] if c["name"] == state["container"])
        if container["image"] == state["image"]:
            return f"{params['deployment']} already runs {state['image']}"
        patch = {
            "spec": {"template": {"spec": {"containers": [{"name": state["container"], "image": state["image"]}]}}}
        }
        cluster.call(ctx, cluster.apps().patch_namespaced_deployment, params["deployment"], namespace, patch)
        return f"{params['deployment']} set back to {state['image']}"


class ResourcePressure:
    """The lab's pods of a deployment use more CPU or memory (what `kubectl top` and `kubernetes.top` then
    show), through annotations on the deployment that the lab's Metrics API reads. Lab only: a real cluster
    has no such switch, so the fault refuses any other API server rather than pretend to load it."""

    def inject(self, fault: Fault, params: Mapping[str, Any], ctx: ActionContext, record: Record) -> State:
        from runner.actions.k8s.cluster import cluster_for
        from runner.lab.k8s.metrics import CPU_LOAD, MEMORY_LOAD

        cluster = cluster_for(ctx, params["connection"])
        _require_lab(cluster, ctx)
        namespace = params.get("namespace") or cluster.namespace
        dep = cluster.call(ctx, cluster.apps().read_namespaced_deployment, params["deployment"], namespace)
        annotations = dep["metadata"].get("annotations") or {}
        previous = {key: annotations.get(key) for key in (CPU_LOAD, MEMORY_LOAD)}
        record({"namespace": namespace, "previous": previous})
        load = {CPU_LOAD: params.get("cpu"), MEMORY_LOAD: params.get("memory")}
        patch = {"metadata": {"annotations": {k: str(v) for k, v in load.items() if v is not None}}}
        cluster.call(ctx, cluster.apps().patch_namespaced_deployment, params["deployment"], namespace, patch)
        return {"namespace": namespace, "previous": previous, "cpu": params.get("cpu"), "memory": params.get("memory")}

    def revert(self, fault: Fault, params: Mapping[str, Any], state: State, ctx: ActionContext) -> str:
        from runner.actions.k8s.cluster import cluster_for

        if not isinstance(state.get("previous"), Mapping):
            raise ActionError("the load before the fault was not recorded; remove the lab.fireline.dev annotations")
        cluster = cluster_for(ctx, params["connection"])
        namespace = state.get("namespace") or params.get("namespace") or cluster.namespace
        # A merge patch: null removes an annotation the deployment did not have before.
        patch = {"metadata": {"annotations": dict(state["previous"])}}
        cluster.call(ctx, cluster.apps().patch_namespaced_deployment, params["deployment"], namespace, patch)
        return f"{params['deployment']} back to its usual load"


def _require_lab(cluster: Any, ctx: ActionContext) -> None:
    from kubernetes import client

    version = cluster.call(ctx, client.VersionApi(cluster.api_client).get_code)
    if not str(version.get("gitVersion", "")).endswith("-fireline-lab"):
        raise ActionError(
            f"kubernetes.resource_pressure loads the fireline lab only; context {cluster.context!r} is a real "
            f"cluster ({version.get('gitVersion', 'unknown version')})",
            hint="on a real cluster, load pods with a tool such as stress-ng (a shell.run or ssh.run fault)",
        )


class FlagFault:
    def inject(self, fault: Fault, params: Mapping[str, Any], ctx: ActionContext, record: Record) -> State:
        read = {k: params[k] for k in ("connection", "flag", "environment", "project") if k in params}
        before = get_action("flags.get").run(read, ctx).result
        previous = {k: before[k] for k in ("enabled", "rollout", "variant") if before.get(k) is not None}
        record({"previous": previous})
        get_action("flags.set").run(params, ctx)
        return {"previous": previous}

    def revert(self, fault: Fault, params: Mapping[str, Any], state: State, ctx: ActionContext) -> str:
        from runner.actions.flags import revert_params

        if not state.get("previous"):
            raise ActionError("the flag's state before the fault was not recorded; restore it by hand")
        get_action("flags.set").run(revert_params(params, {"previous": state["previous"]}), ctx)
        return f"restored flag {params['flag']} to {state['previous']}"


# The parameters of a command fault that belong to its command alone: a declared revert replaces them.
_COMMAND_ONLY: dict[str, tuple[str, ...]] = {
    "ssh.run": ("argv", "command"),
    "shell.run": ("argv", "command", "stdin", "expect_exit"),
}


def revert_command_params(action: str, params: Mapping[str, Any], revert: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters a declared revert runs with (and is validated with): the fault's other parameters
    (connection, hosts, working directory, environment, timeout), then the revert's own."""
    only = _COMMAND_ONLY.get(action, ("argv", "command"))
    return {k: v for k, v in params.items() if k not in only} | dict(revert)


class CommandFault:
    """A command that breaks something (`action`: ssh.run on hosts, shell.run locally), undone by the command
    the scenario declares (`revert:`)."""

    def __init__(self, action: str) -> None:
        self.action = action

    def inject(self, fault: Fault, params: Mapping[str, Any], ctx: ActionContext, record: Record) -> State:
        record({})
        return dict(get_action(self.action).run(params, ctx).result)

    def revert(self, fault: Fault, params: Mapping[str, Any], state: State, ctx: ActionContext) -> str:
        get_action(self.action).run(revert_command_params(self.action, params, fault.revert or {}), ctx)
        return "ran the revert command"


def _k8s_target(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: params[k] for k in ("connection", "namespace") if k in params}


def _field(result: Mapping[str, Any], name: str) -> Any:
    fields = result.get("fields")
    if isinstance(fields, Mapping) and name in fields:
        return fields[name]
    return result.get(name)


def _broken(image: str) -> str:
    repo, sep, tag = image.rpartition(":")
    return f"{repo}:{tag}-broken" if sep and "/" not in tag else f"{image}:latest-broken"


def revert_fault(fault: Fault, params: Mapping[str, Any], state: State, ctx: ActionContext) -> tuple[bool, str]:
    """(ok, what happened). A failed revert is reported, never raised: the next fault is still reverted."""
    try:
        return True, FAULTS[fault.action].revert(fault, params, state, ctx)
    except Exception as exc:  # any failure, said loudly in the journal and the output
        return False, f"REVERT FAILED: {exc}"


FAULTS: dict[str, FaultKind] = {
    "postgres.hold_connections": HoldConnections(),
    "postgres.lock_table": LockTable(),
    "postgres.terminate_backends": ActionFault(),
    "kubernetes.delete_pods": ActionFault(),
    "kubernetes.scale": ScaleFault(),
    "kubernetes.bad_rollout": BadRollout(),
    "kubernetes.resource_pressure": ResourcePressure(),
    "flags.set": FlagFault(),
    "ssh.run": CommandFault("ssh.run"),
    "shell.run": CommandFault("shell.run"),
    # A restart replaces every pod by a rolling update: nothing to put back.
    "kubernetes.rollout_restart": ActionFault(),
}
