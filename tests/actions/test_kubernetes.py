"""kubernetes.* actions against the lab (runner/lab/k8s), driven through a real ActionContext.

Effects are checked with the official client, independently of the actions' own reports.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from kubernetes import client, config, watch

from runner.actions import kubernetes as k8s
from runner.actions.base import ActionContext, Cancelled, Verdict
from runner.actions.k8s import fields, rollout
from runner.actions.k8s.cluster import Conflict
from runner.actions.registry import BUILTIN, get_action
from runner.errors import ActionError, StepTimeout
from runner.lab.k8s import LabCluster, LabConfig
from runner.testing import StaticConnections as Connections

TIME_SCALE = 0.02  # pods ready in 40 ms; progressDeadlineSeconds: 10 → 0.2 s
NS = "demo"
SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "actions" / "kubernetes.json"


class Harness:
    """Runs actions the way the engine does: a fresh ActionContext per step, log lines captured."""

    def __init__(self, lab: LabCluster, connections: Connections) -> None:
        self.lab = lab
        self.connections = connections
        self.lines: list[str] = []

    def ctx(self, timeout: float = 30.0) -> ActionContext:
        return ActionContext("step", self.connections, deadline=time.monotonic() + timeout, emit=self.lines.append)

    def run(self, action: str, step_timeout: float = 30.0, **params: Any) -> Any:
        return get_action(action).run({"connection": "lab", **params}, self.ctx(step_timeout))

    def plan(self, action: str, **params: Any) -> Any:
        return get_action(action).plan({"connection": "lab", **params}, self.ctx())


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[LabCluster]:
    with LabCluster(LabConfig(state_dir=tmp_path / "lab", time_scale=TIME_SCALE)) as cluster:
        cluster.wait_for_rollout("checkout", NS, timeout=10)
        yield cluster


@pytest.fixture
def h(lab: LabCluster) -> Iterator[Harness]:
    connections = Connections({"lab": {"type": "kubernetes", "kubeconfig": str(lab.kubeconfig_path)}})
    yield Harness(lab, connections)
    connections.close()


@pytest.fixture
def api(lab: LabCluster) -> Iterator[client.ApiClient]:
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(lab.kubeconfig_path), client_configuration=cfg)
    with client.ApiClient(cfg) as api_client:
        yield api_client


@pytest.fixture
def apps(api: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api)


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


# --- helpers --------------------------------------------------------------------------------------


def deployment(apps: client.AppsV1Api, name: str = "checkout") -> Any:
    return apps.read_namespaced_deployment(name, NS)


def set_image(apps: client.AppsV1Api, image: str, metadata: dict[str, Any] | None = None, **spec: Any) -> None:
    patch: dict[str, Any] = {
        "spec": {**spec, "template": {"spec": {"containers": [{"name": "checkout", "image": image}]}}}
    }
    if metadata:
        patch["metadata"] = metadata
    apps.patch_namespaced_deployment("checkout", NS, patch)


def image_of(apps: client.AppsV1Api) -> str:
    return str(deployment(apps).spec.template.spec.containers[0].image)


def live_pods(core: client.CoreV1Api) -> list[Any]:
    pods = core.list_namespaced_pod(NS, label_selector="app=checkout").items
    return [p for p in pods if p.metadata.deletion_timestamp is None]


def assert_untouched(list_fn: Callable[..., Any], before: Any) -> None:
    """Nothing changed since the `before` list: same resourceVersions, and a watch from then sees nothing."""
    after = list_fn(NS)
    assert [(i.metadata.name, i.metadata.resource_version) for i in after.items] == [
        (i.metadata.name, i.metadata.resource_version) for i in before.items
    ]
    events = list(
        watch.Watch().stream(list_fn, NS, resource_version=before.metadata.resource_version, timeout_seconds=1)
    )
    assert events == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_kubeconfig(directory: Path, port: int) -> Path:
    """A kubeconfig whose only context, "gone", points at 127.0.0.1:`port`."""
    path = directory / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
        f"clusters: [{{name: gone, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "contexts: [{name: gone, context: {cluster: gone, user: gone}}]\n"
        "users: [{name: gone, user: {}}]\n"
    )
    return path


# --- contract: registry, schema -------------------------------------------------------------------


def test_every_registered_kubernetes_action_has_a_class_and_a_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    names = sorted(n for n in BUILTIN if n.startswith("kubernetes."))
    assert len(names) == 10
    dispatched = [entry["if"]["properties"]["action"]["const"] for entry in schema["allOf"]]
    assert sorted(dispatched) == names
    for name in names:
        action = get_action(name)
        assert action.name == name
        short = name.split(".", 1)[1]
        fragment = schema["$defs"][short]
        assert fragment["additionalProperties"] is False
        assert all("description" in p or "$ref" in p for p in fragment["properties"].values()), short


@pytest.mark.parametrize(
    ("params", "valid"),
    [
        ({"action": "kubernetes.scale", "with": {"connection": "c", "deployment": "d", "by": 2, "max": 9}}, True),
        ({"action": "kubernetes.scale", "with": {"connection": "c", "deployment": "d", "by": 2, "replicas": 3}}, False),
        ({"action": "kubernetes.scale", "with": {"connection": "c", "deployment": "d"}}, False),
        (
            {"action": "kubernetes.rollout_status", "with": {"connection": "c", "deployment": "d", "timeout": "3m"}},
            True,
        ),
        (
            {"action": "kubernetes.rollout_status", "with": {"connection": "c", "deployment": "d", "timeout": "3"}},
            False,
        ),
        (
            {
                "action": "kubernetes.wait",
                "with": {"connection": "c", "selector": "a=b", "condition": "available", "timeout": "1m"},
            },
            False,
        ),
        (
            {
                "action": "kubernetes.delete_pods",
                "with": {"connection": "c", "selector": "a=b", "count": 1, "percent": 10},
            },
            False,
        ),
        ({"action": "kubernetes.get", "with": {"connection": "c", "kind": "pod", "name": "p", "extra": 1}}, False),
    ],
)
def test_schema_accepts_and_rejects(params: dict[str, Any], valid: bool) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    assert validator.is_valid(params) is valid


# --- rollout_restart ------------------------------------------------------------------------------


def test_restart_sets_restarted_at_and_rolls_out(h: Harness, apps: client.AppsV1Api) -> None:
    outcome = h.run("kubernetes.rollout_restart", deployment="checkout")
    annotations = deployment(apps).spec.template.metadata.annotations
    assert annotations[rollout.RESTARTED_AT] == outcome.result["restarted_at"]
    assert outcome.changed and outcome.result["generation"] == 2
    status = h.run("kubernetes.rollout_status", deployment="checkout", timeout="20s")
    assert status.summary == 'deployment "checkout" successfully rolled out'
    assert status.result["revision"] == 2
    assert any(line.startswith('Waiting for deployment "checkout" rollout to finish') for line in h.lines)


def test_restart_plan_is_a_server_dry_run_that_changes_nothing(h: Harness, apps: client.AppsV1Api) -> None:
    before = apps.list_namespaced_deployment(NS)
    plan = h.plan("kubernetes.rollout_restart", deployment="checkout")
    assert plan.verdict is Verdict.WOULD_CHANGE
    (line,) = plan.details
    assert line.startswith("spec.template.metadata.annotations.kubectl.kubernetes.io/restartedAt: <none> → 20")
    assert_untouched(apps.list_namespaced_deployment, before)


def test_restart_refuses_a_paused_deployment(h: Harness, apps: client.AppsV1Api) -> None:
    apps.patch_namespaced_deployment("checkout", NS, {"spec": {"paused": True}})
    with pytest.raises(ActionError, match=r"can't restart paused deployment \"checkout\" \(run rollout resume"):
        h.run("kubernetes.rollout_restart", deployment="checkout")


# --- rollout_undo / history -----------------------------------------------------------------------


def test_undo_rolls_back_to_previous_then_skips_when_already_there(
    h: Harness, apps: client.AppsV1Api, lab: LabCluster
) -> None:
    set_image(apps, "registry.local/checkout:2.0")
    lab.wait_for_rollout("checkout", NS)
    outcome = h.run("kubernetes.rollout_undo", deployment="checkout")
    assert image_of(apps) == "registry.local/checkout:1.0"
    assert outcome.result["from_revision"] == 2 and outcome.result["to_revision"] == 1
    assert outcome.result["images_after"] == ["registry.local/checkout:1.0"]
    lab.wait_for_rollout("checkout", NS)
    # The restored ReplicaSet became revision 3; undoing "to 3" has nothing to do.
    again = h.run("kubernetes.rollout_undo", deployment="checkout", to_revision=3)
    assert again.skipped_reason == "already at revision 3" and not again.changed
    assert h.plan("kubernetes.rollout_undo", deployment="checkout", to_revision=3).verdict is Verdict.NO_CHANGE


def test_undo_to_a_revision_keeps_history_annotations(h: Harness, apps: client.AppsV1Api, lab: LabCluster) -> None:
    # One patch for image and cause, as `kubectl set image --record` does: annotating first would stamp the
    # cause on the ReplicaSet that is current at that moment (the controller syncs annotations onto it).
    for version in ("2.0", "3.0"):
        set_image(
            apps,
            f"registry.local/checkout:{version}",
            metadata={"annotations": {rollout.CHANGE_CAUSE: f"deploy {version}"}},
        )
        lab.wait_for_rollout("checkout", NS)
    history = h.run("kubernetes.rollout_history", deployment="checkout").result
    assert history["current"] == 3
    assert [(r["revision"], r["change_cause"], r["images"]) for r in history["revisions"]] == [
        (1, None, ["registry.local/checkout:1.0"]),
        (2, "deploy 2.0", ["registry.local/checkout:2.0"]),
        (3, "deploy 3.0", ["registry.local/checkout:3.0"]),
    ]
    h.run("kubernetes.rollout_undo", deployment="checkout", to_revision=2)
    dep = deployment(apps)
    assert dep.spec.template.spec.containers[0].image == "registry.local/checkout:2.0"
    assert "pod-template-hash" not in (dep.spec.template.metadata.labels or {})
    # The change cause comes from the ReplicaSet; the revision stays the deployment's own until the
    # controller bumps it.
    assert dep.metadata.annotations[rollout.CHANGE_CAUSE] == "deploy 2.0"


def test_undo_plan_shows_the_image_change_and_changes_nothing(
    h: Harness, apps: client.AppsV1Api, lab: LabCluster
) -> None:
    set_image(apps, "registry.local/checkout:2.0")
    lab.wait_for_rollout("checkout", NS)
    before = apps.list_namespaced_deployment(NS)
    plan = h.plan("kubernetes.rollout_undo", deployment="checkout")
    assert plan.verdict is Verdict.WOULD_CHANGE
    assert (
        "spec.template.spec.containers[checkout].image: registry.local/checkout:2.0 → "
        "registry.local/checkout:1.0" in plan.details
    )
    assert_untouched(apps.list_namespaced_deployment, before)


def test_undo_to_an_unknown_revision_is_a_clear_error(h: Harness) -> None:
    with pytest.raises(ActionError, match=r'unable to find specified revision 7 .*deployment "checkout"') as err:
        h.run("kubernetes.rollout_undo", deployment="checkout", to_revision=7)
    assert err.value.hint is not None and "revisions kept: 1" in err.value.hint


def test_undo_without_history_is_a_clear_error(h: Harness) -> None:
    with pytest.raises(ActionError, match='no rollout history found for deployment "checkout"'):
        h.run("kubernetes.rollout_undo", deployment="checkout")


# --- rollout_status -------------------------------------------------------------------------------


def test_status_fails_on_progress_deadline_and_undo_recovers(h: Harness, apps: client.AppsV1Api) -> None:
    set_image(apps, "registry.local/checkout:2.0-broken", progressDeadlineSeconds=10)
    with pytest.raises(ActionError, match=r'^deployment "checkout" exceeded its progress deadline$'):
        h.run("kubernetes.rollout_status", deployment="checkout", timeout="20s")
    h.run("kubernetes.rollout_undo", deployment="checkout")
    status = h.run("kubernetes.rollout_status", deployment="checkout", timeout="20s")
    assert status.result["images"] == ["registry.local/checkout:1.0"]


def test_status_times_out_with_its_last_message(h: Harness, apps: client.AppsV1Api) -> None:
    set_image(apps, "registry.local/checkout:2.0-broken")  # default deadline: 600 s × 0.02 = 12 s
    started = time.monotonic()
    with pytest.raises(
        ActionError,
        match=r"timed out after 1\.0s waiting for deployment \"checkout\" rollout"
        r".*last status: Waiting for deployment",
    ):
        h.run("kubernetes.rollout_status", deployment="checkout", timeout="1s")
    assert time.monotonic() - started < 3


def test_status_stops_at_the_step_deadline(h: Harness, apps: client.AppsV1Api) -> None:
    set_image(apps, "registry.local/checkout:2.0-broken")
    started = time.monotonic()
    with pytest.raises(
        ActionError, match=r"^step timeout: gave up after \d+ms waiting for deployment \"checkout\" rollout"
    ):
        h.run("kubernetes.rollout_status", step_timeout=1.0, deployment="checkout")
    assert time.monotonic() - started < 3


def test_status_watch_stops_when_the_step_is_cancelled(h: Harness, apps: client.AppsV1Api) -> None:
    set_image(apps, "registry.local/checkout:2.0-broken")
    ctx = h.ctx(timeout=60)
    errors: list[BaseException] = []

    def status() -> None:
        try:
            k8s.RolloutStatus().run({"connection": "lab", "deployment": "checkout", "timeout": "1m"}, ctx)
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    thread = threading.Thread(target=status)
    thread.start()
    time.sleep(0.5)  # the watch is open and blocked by now
    cancelled_at = time.monotonic()
    ctx.cancel()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert time.monotonic() - cancelled_at < 1.0
    assert len(errors) == 1 and isinstance(errors[0], Cancelled)


# --- scale ----------------------------------------------------------------------------------------


def test_scale_absolute_waits_for_available_replicas(h: Harness, apps: client.AppsV1Api) -> None:
    outcome = h.run("kubernetes.scale", deployment="checkout", replicas=5, wait=True, timeout="20s")
    assert outcome.result == {
        "deployment": "checkout",
        "namespace": NS,
        "before": 3,
        "after": 5,
        "requested": 5,
        "clamped": False,
    }
    dep = deployment(apps)
    assert dep.spec.replicas == 5 and dep.status.available_replicas == 5
    assert get_action("kubernetes.scale").is_idempotent({"replicas": 5})  # type: ignore[attr-defined]


def test_scale_relative_is_clamped_by_guards(h: Harness, apps: client.AppsV1Api) -> None:
    outcome = h.run("kubernetes.scale", deployment="checkout", factor=3, max=6)
    assert (outcome.result["before"], outcome.result["requested"], outcome.result["after"]) == (3, 9, 6)
    assert "clamped by the max 6 guard: 9 requested, 6 applied" in outcome.summary
    assert deployment(apps).spec.replicas == 6
    down = h.run("kubernetes.scale", deployment="checkout", by=-10, min=2)
    assert (down.result["after"], down.result["clamped"]) == (2, True)
    assert deployment(apps).spec.replicas == 2


def test_scale_to_the_current_count_is_skipped(h: Harness) -> None:
    outcome = h.run("kubernetes.scale", deployment="checkout", by=1, max=3)
    assert outcome.skipped_reason == "already at 3 replicas" and not outcome.changed
    assert h.plan("kubernetes.scale", deployment="checkout", replicas=3).verdict is Verdict.NO_CHANGE


def test_scale_plan_changes_nothing(h: Harness, apps: client.AppsV1Api) -> None:
    before = apps.list_namespaced_deployment(NS)
    plan = h.plan("kubernetes.scale", deployment="checkout", factor=2)
    assert plan.verdict is Verdict.WOULD_CHANGE
    assert plan.details == ("spec.replicas: 3 → 6",)
    assert_untouched(apps.list_namespaced_deployment, before)


# --- delete_pods ----------------------------------------------------------------------------------


def test_delete_pods_by_count(h: Harness, core: client.CoreV1Api) -> None:
    before = {p.metadata.name for p in live_pods(core)}
    outcome = h.run("kubernetes.delete_pods", selector="app=checkout", count=2, grace_period=0)
    deleted = set(outcome.result["deleted"])
    assert len(deleted) == 2 and deleted <= before and outcome.result["matched"] == 3
    assert not deleted & {p.metadata.name for p in live_pods(core)}


@pytest.mark.parametrize(("percent", "expected"), [(50, 1), (10, 1), (100, 3), (67, 2)])
def test_delete_pods_percent_rounds_down_but_at_least_one(h: Harness, percent: int, expected: int) -> None:
    outcome = h.run("kubernetes.delete_pods", selector="app=checkout", percent=percent)
    assert len(outcome.result["deleted"]) == expected


def test_delete_pods_oldest_first(h: Harness, core: client.CoreV1Api, apps: client.AppsV1Api, lab: LabCluster) -> None:
    h.run("kubernetes.scale", deployment="checkout", replicas=4, wait=True, timeout="20s")
    newest = max(live_pods(core), key=lambda p: (p.metadata.creation_timestamp, p.metadata.name))
    outcome = h.run("kubernetes.delete_pods", selector="app=checkout", count=3, pick="oldest")
    assert newest.metadata.name not in outcome.result["deleted"]
    assert {p.metadata.name for p in live_pods(core)} >= {newest.metadata.name}


def test_delete_pods_refuses_an_empty_selection_unless_allowed(h: Harness) -> None:
    with pytest.raises(ActionError, match='no pods match selector "app=nothing" in namespace "demo"'):
        h.run("kubernetes.delete_pods", selector="app=nothing")
    outcome = h.run("kubernetes.delete_pods", selector="app=nothing", allow_none=True)
    assert outcome.skipped_reason and outcome.result["deleted"] == []


def test_delete_pods_plan_deletes_nothing(h: Harness, core: client.CoreV1Api) -> None:
    before = core.list_namespaced_pod(NS)
    plan = h.plan("kubernetes.delete_pods", selector="app=checkout", percent=100)
    assert plan.verdict is Verdict.WOULD_CHANGE and len(plan.details) == 3
    assert all(line.startswith("delete pod checkout-") for line in plan.details)
    assert_untouched(core.list_namespaced_pod, before)


# --- wait / get -----------------------------------------------------------------------------------


def test_wait_for_available_deployment_and_ready_pods(h: Harness) -> None:
    h.run("kubernetes.scale", deployment="checkout", replicas=4)
    available = h.run("kubernetes.wait", deployment="checkout", condition="ready", timeout="20s")
    assert available.result["ready"] >= 4
    pods = h.run("kubernetes.wait", selector="app=checkout", condition="ready", count=4, timeout="20s")
    assert pods.result["ready"] >= 4 and len(pods.result["pods"]) >= 4
    assert (
        h.run("kubernetes.wait", deployment="checkout", condition="available", timeout="5s").result["available"] is True
    )


def test_wait_times_out_on_pods_that_never_become_ready(h: Harness, apps: client.AppsV1Api) -> None:
    set_image(apps, "registry.local/checkout:2.0-broken")
    with pytest.raises(
        ActionError,
        match=r'timed out after 1\.0s waiting for "app=checkout": 9 ready pods; '
        r"last status: [34] of [34] matching pods ready, 9 wanted$",
    ):
        h.run("kubernetes.wait", selector="app=checkout", condition="ready", count=9, timeout="1s")


def test_get_reads_fields_by_path(h: Harness) -> None:
    outcome = h.run(
        "kubernetes.get",
        kind="deployment",
        name="checkout",
        fields={
            "ready": "status.readyReplicas",
            "image": "spec.template.spec.containers[0].image",
            "revision": "metadata.annotations.deployment.kubernetes.io/revision",
            "quoted": 'metadata.annotations["deployment.kubernetes.io/revision"]',
            "missing": "status.unavailableReplicas",
        },
    )
    assert outcome.result == {
        "kind": "deployment",
        "name": "checkout",
        "namespace": NS,
        "ready": 3,
        "image": "registry.local/checkout:1.0",
        "revision": "1",
        "quoted": "1",
        "missing": None,
    }
    namespace = h.run("kubernetes.get", kind="namespace", name="demo")
    assert namespace.result["object"]["metadata"]["name"] == "demo"
    json.dumps(namespace.result)  # results are JSON for templates and the journal


# --- errors and connections -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("kubernetes.rollout_restart", {}),
        ("kubernetes.rollout_undo", {}),
        ("kubernetes.rollout_status", {"timeout": "5s"}),
        ("kubernetes.rollout_history", {}),
        ("kubernetes.scale", {"replicas": 2}),
        ("kubernetes.wait", {"condition": "available", "timeout": "5s"}),
    ],
)
def test_unknown_deployment_error_names_namespace_and_context(h: Harness, action: str, params: dict[str, Any]) -> None:
    with pytest.raises(ActionError) as err:
        h.run(action, deployment="nope", **params)
    assert str(err.value) == 'deployment "nope" not found in namespace "demo" (context "fireline-lab")'


def test_get_unknown_object_error(h: Harness) -> None:
    with pytest.raises(ActionError, match=r'^cronjob "nightly" not found in namespace "demo" '):
        h.run("kubernetes.get", kind="cronjob", name="nightly")


def test_namespace_precedence(lab: LabCluster) -> None:
    connections = Connections(
        {
            "ctx": {"type": "kubernetes", "kubeconfig": str(lab.kubeconfig_path)},
            "conn": {"type": "kubernetes", "kubeconfig": str(lab.kubeconfig_path), "namespace": "default"},
        }
    )
    ctx = ActionContext("step", connections, deadline=time.monotonic() + 10)
    get = k8s.Get()
    # kubeconfig context namespace (demo)
    assert get.run({"connection": "ctx", "kind": "deployment", "name": "checkout"}, ctx).result["namespace"] == NS
    # the connection's namespace beats the context's
    with pytest.raises(ActionError, match='in namespace "default"'):
        get.run({"connection": "conn", "kind": "deployment", "name": "checkout"}, ctx)
    # the step's namespace beats the connection's
    params = {"connection": "conn", "kind": "deployment", "name": "checkout", "namespace": NS}
    assert get.run(params, ctx).result["namespace"] == NS
    connections.close()


def test_unreachable_api_server_fails_fast_and_clearly(tmp_path: Path) -> None:
    port = closed_port()
    connections = Connections({"lab": {"type": "kubernetes", "kubeconfig": str(write_kubeconfig(tmp_path, port))}})
    ctx = ActionContext("step", connections, deadline=time.monotonic() + 10)
    started = time.monotonic()
    with pytest.raises(ActionError) as err:
        k8s.RolloutStatus().run({"connection": "lab", "deployment": "checkout"}, ctx)
    assert time.monotonic() - started < 2
    assert str(err.value) == (
        f"cannot reach the Kubernetes API at http://127.0.0.1:{port} (context 'gone'): connection refused"
    )


def test_silent_api_server_fails_within_the_step_timeout(tmp_path: Path) -> None:
    # A socket that completes the TCP handshake (listen backlog) but never answers: a hung API server.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        connections = Connections({"lab": {"type": "kubernetes", "kubeconfig": str(write_kubeconfig(tmp_path, port))}})
        ctx = ActionContext("step", connections, deadline=time.monotonic() + 1.0)
        started = time.monotonic()
        with pytest.raises(StepTimeout, match=rf"no answer from the Kubernetes API at http://127.0.0.1:{port} "):
            k8s.Scale().run({"connection": "lab", "deployment": "checkout", "replicas": 2}, ctx)
        assert time.monotonic() - started < 2


def test_unknown_context_lists_the_known_ones(lab: LabCluster) -> None:
    connections = Connections(
        {"lab": {"type": "kubernetes", "kubeconfig": str(lab.kubeconfig_path), "context": "prod"}}
    )
    ctx = ActionContext("step", connections, deadline=time.monotonic() + 10)
    with pytest.raises(ActionError, match="has no context 'prod'") as err:
        k8s.Get().run({"connection": "lab", "kind": "namespace", "name": "demo"}, ctx)
    assert err.value.hint == "contexts there: fireline-lab"


def test_conflicts_are_retried_then_reported(h: Harness) -> None:
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise Conflict("the object has been modified")
        return "ok"

    assert k8s._retry_conflicts(h.ctx(), flaky) == "ok" and len(attempts) == 3

    def always() -> str:
        raise Conflict("the object has been modified")

    with pytest.raises(ActionError, match="gave up after 5 conflicting updates"):
        k8s._retry_conflicts(h.ctx(), always)


# --- pure helpers ---------------------------------------------------------------------------------


def test_rollout_state_messages_follow_kubectl() -> None:
    def dep(generation: int = 1, **status: Any) -> dict[str, Any]:
        return {
            "metadata": {"name": "x", "generation": generation},
            "spec": {"replicas": 3},
            "status": {"observedGeneration": 1, **status},
        }

    assert rollout.rollout_state(dep(generation=2)).message == "Waiting for deployment spec update to be observed..."
    assert rollout.rollout_state(dep(updatedReplicas=1)).message.endswith(
        "1 out of 3 new replicas have been updated..."
    )
    assert rollout.rollout_state(dep(updatedReplicas=3, replicas=4)).message.endswith(
        "1 old replicas are pending termination..."
    )
    assert rollout.rollout_state(dep(updatedReplicas=3, replicas=3, availableReplicas=2)).message.endswith(
        "2 of 3 updated replicas are available..."
    )
    assert rollout.rollout_state(dep(updatedReplicas=3, replicas=3, availableReplicas=3)).done
    failed = rollout.rollout_state(
        dep(conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}])
    )
    assert failed.failed and failed.message == 'deployment "x" exceeded its progress deadline'


def test_field_paths_and_diffs() -> None:
    obj = {"metadata": {"annotations": {"a.b/c": "1"}}, "spec": {"containers": [{"name": "app", "image": "i"}]}}
    assert fields.lookup(obj, "metadata.annotations.a.b/c") == "1"
    assert fields.lookup(obj, "spec.containers[app].image") == "i"
    assert fields.lookup(obj, "spec.containers[1].image") is None
    changed = {
        "metadata": {"annotations": {"a.b/c": "2", "new": "x"}},
        "spec": {"containers": [{"name": "app", "image": "j"}]},
    }
    assert fields.render_diff(fields.diff(obj, changed)) == (
        "metadata.annotations.a.b/c: 1 → 2",
        "metadata.annotations.new: <none> → x",
        "spec.containers[app].image: i → j",
    )


# --- the kubernetes runbooks, end to end through the CLI ---------------------------------------------------

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"


def run_cli(capsys: pytest.CaptureFixture[str], command: str, runbook: str, *inputs: str) -> tuple[int, Any]:
    from runner.cli import main

    argv = [command, str(RUNBOOKS / runbook), "--output", "json"]
    for pair in inputs:
        argv += ["-i", pair]
    if command == "run":
        argv += ["--approve-all", "--reason", "test"]
    capsys.readouterr()
    code = main(argv)
    out = capsys.readouterr().out
    return code, {s["id"]: s for s in json.loads(out)["steps"]} if out.strip() else {}


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRELINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FIRELINE_ACTOR", "tester")


def test_rollback_bad_deploy_runbook(
    lab: LabCluster, apps: client.AppsV1Api, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    set_image(apps, "registry.local/checkout:2.0-broken", progressDeadlineSeconds=10)
    inputs = ("deployment=checkout", f"kubeconfig={lab.kubeconfig_path}", "detect_timeout=20s")
    code, plan = run_cli(capsys, "plan", "rollback-bad-deploy.yaml", *inputs)
    assert code == 0 and plan["undo"]["verdict"] == "would-change"
    assert image_of(apps) == "registry.local/checkout:2.0-broken"
    code, run = run_cli(capsys, "run", "rollback-bad-deploy.yaml", *inputs)
    assert code == 0, run
    assert run["detect"]["status"] == "failed" and run["undo"]["status"] == "ok"
    assert run["confirm"]["outputs"] == {"image": "registry.local/checkout:1.0", "ready": 3}
    assert image_of(apps) == "registry.local/checkout:1.0"


def test_scale_up_under_load_runbook(
    lab: LabCluster, apps: client.AppsV1Api, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = ("deployment=checkout", f"kubeconfig={lab.kubeconfig_path}", "max_replicas=5")
    code, run = run_cli(capsys, "run", "scale-up-under-load.yaml", *inputs)
    assert code == 0, run
    assert run["scale-up"]["outputs"] == {"before": 3, "after": 5}
    assert run["capacity"]["outputs"] == {"ready": 5}
    assert deployment(apps).spec.replicas == 5


def test_restart_stuck_pods_runbook_does_nothing_when_pods_are_ready(
    lab: LabCluster, core: client.CoreV1Api, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    pods = {p.metadata.name for p in live_pods(core)}
    inputs = ("deployment=checkout", "selector=app=checkout", f"kubeconfig={lab.kubeconfig_path}")
    code, run = run_cli(capsys, "run", "restart-stuck-pods.yaml", *inputs)
    assert code == 0, run
    assert [run[s]["status"] for s in ("detect", "replace-oldest", "restart", "final")] == [
        "ok",
        "skipped",
        "skipped",
        "ok",
    ]
    assert {p.metadata.name for p in live_pods(core)} == pods


# --- history times, top and logs ------------------------------------------------------------------


def _result_schema(action: str) -> dict[str, Any]:
    from runner.document.schemas import action_schema

    schema = action_schema(action)
    assert schema is not None
    return dict(schema["x-fireline"]["result"])


def test_history_gives_each_revision_its_creation_time_and_change_cause(
    h: Harness, apps: client.AppsV1Api, lab: LabCluster
) -> None:
    from runner.templating import evaluate

    set_image(apps, "registry.local/checkout:2.0", metadata={"annotations": {rollout.CHANGE_CAUSE: "deploy 2.0"}})
    lab.wait_for_rollout("checkout", NS)
    result = h.run("kubernetes.rollout_history", deployment="checkout").result
    jsonschema.validate(result, _result_schema("kubernetes.rollout_history"))
    rows = result["revisions"]
    assert [(r["revision"], r["change_cause"]) for r in rows] == [(1, None), (2, "deploy 2.0")]
    made = {rs.metadata.name: rs.metadata.creation_timestamp for rs in apps.list_namespaced_replica_set(NS).items}
    for row in rows:
        assert datetime.fromisoformat(row["created"]) == made[row["replicaset"]]
    # What a runbook asks of it: was the current revision deployed within the last hour?
    assert evaluate("now() - parse_time(r.created) < duration('1h')", {"r": rows[-1]}) is True
    assert any(row["created"] in line and "deploy 2.0" in line for line in h.lines)


def test_top_reports_each_pod_the_total_and_the_busiest(
    h: Harness, apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    outcome = h.run("kubernetes.top", deployment="checkout")
    result = outcome.result
    jsonschema.validate(result, _result_schema("kubernetes.top"))
    assert not outcome.changed
    assert (result["deployment"], result["selector"], result["count"]) == ("checkout", "app=checkout", 3)
    assert {row["pod"] for row in result["pods"]} == {p.metadata.name for p in live_pods(core)}
    for row in result["pods"]:
        assert 10 <= row["cpu_millicores"] <= 30 and 80 * 2**20 <= row["memory_bytes"] <= 120 * 2**20
    for field in ("cpu_millicores", "memory_bytes"):
        assert result["total"][field] == sum(row[field] for row in result["pods"])
        assert result["max"][field] == max(row[field] for row in result["pods"])
    assert outcome.summary.startswith('deployment "checkout": 3 pods use ')
    # The lab's load switch (what the resource-pressure fault sets) shows in the next reading.
    apps.patch_namespaced_deployment("checkout", NS, {"metadata": {"annotations": {"lab.fireline.dev/cpu-load": "1"}}})
    hot = h.run("kubernetes.top", selector="app=checkout").result
    assert "deployment" not in hot and all(row["cpu_millicores"] >= 1000 for row in hot["pods"])
    assert h.run("kubernetes.top", selector="app=nothing").result["count"] == 0


def test_top_without_a_metrics_api_says_so(tmp_path: Path, http_server: Any) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        f"apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster: {{server: '{http_server.url}'}}\n"
        "contexts:\n- name: prod\n  context: {cluster: prod, user: u, namespace: shop}\ncurrent-context: prod\n"
        "users:\n- name: u\n  user: {}\n"
    )
    connections = Connections({"prod": {"type": "kubernetes", "kubeconfig": str(kubeconfig)}})
    ctx = ActionContext("step", connections, deadline=time.monotonic() + 10)
    with pytest.raises(ActionError) as err:
        get_action("kubernetes.top").run({"connection": "prod", "selector": "app=checkout"}, ctx)
    assert str(err.value) == "the Metrics API (metrics.k8s.io) is not available on context 'prod'"
    assert "metrics-server" in (err.value.hint or "")
    assert http_server.received[0]["path"].startswith("/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods?")
    connections.close()


def _report(lab: LabCluster, level: str, what: str) -> None:
    from runner.lab.demo_service import DemoServiceConfig, report_request

    report_request(DemoServiceConfig(dsn="", cluster_url=lab.url, namespace=NS), level, what, time.monotonic())


def test_logs_keep_the_lines_a_pattern_finds(h: Harness, lab: LabCluster, core: client.CoreV1Api) -> None:
    for n in range(9):
        _report(lab, "ERROR" if n % 3 == 0 else "INFO", f"GET /health {503 if n % 3 == 0 else 200} #{n}")
    outcome = h.run("kubernetes.logs", deployment="checkout", pattern="ERROR|503", lines=100)
    result = outcome.result
    jsonschema.validate(result, _result_schema("kubernetes.logs"))
    pods = sorted(p.metadata.name for p in live_pods(core))
    assert result["pods"] == pods and not outcome.changed
    assert result["read"] == 3 * 2 + 9  # each pod's start-up and ready lines, and the nine requests
    assert result["count"] == 3 and sorted(e["line"].rsplit("#", 1)[1][0] for e in result["lines"]) == ["0", "3", "6"]
    assert all(" ERROR " in e["line"] and e["pod"] in pods for e in result["lines"])
    assert outcome.summary == "3 of 15 line(s) matching 'ERROR|503' in 3 pod(s)"
    everything = h.run("kubernetes.logs", deployment="checkout", since="1h").result
    assert everything["count"] == everything["read"] == 15
    last = h.run("kubernetes.logs", pod=pods[0], lines=1, container="checkout").result
    assert last["read"] == last["count"] == 1 and last["pods"] == [pods[0]]
    with pytest.raises(ActionError, match=r"pattern '\(oops' is not a usable regular expression"):
        h.run("kubernetes.logs", deployment="checkout", pattern="(oops")
    with pytest.raises(ActionError, match=r'^pod "nope" not found in namespace "demo"'):
        h.run("kubernetes.logs", pod="nope")
