"""The lab through the official kubernetes Python client: CRUD, the three patch types, /scale, dry-run,
Status errors, selectors and watches."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from runner.lab.k8s import LabCluster, LabConfig, demo_deployment
from runner.lab.k8s.resources import DEPLOYMENTS, NAMESPACES

from .conftest import TIME_SCALE, wait_until

NS = "demo"


def _status(exc: ApiException) -> dict[str, Any]:
    return json.loads(exc.body)


def _pods(core: client.CoreV1Api, selector: str = "app=checkout") -> list[client.V1Pod]:
    return list(core.list_namespaced_pod(NS, label_selector=selector).items)


def _ready_pods(core: client.CoreV1Api, selector: str = "app=checkout") -> list[client.V1Pod]:
    out = []
    for pod in _pods(core, selector):
        conds = {c.type: c.status for c in pod.status.conditions or []}
        if pod.status.phase == "Running" and conds.get("Ready") == "True":
            out.append(pod)
    return out


def test_create_get_list_delete_with_defaults(lab: LabCluster, apps: client.AppsV1Api, core: client.CoreV1Api) -> None:
    created = apps.create_namespaced_deployment(NS, demo_deployment("api", "registry.local/api:1.0", 2))
    assert created.metadata.uid and created.metadata.creation_timestamp
    assert created.metadata.generation == 1
    assert int(created.metadata.resource_version) > 0
    spec = created.spec
    assert spec.strategy.type == "RollingUpdate"
    assert spec.strategy.rolling_update.max_surge == "25%"
    assert spec.strategy.rolling_update.max_unavailable == "25%"
    assert (spec.revision_history_limit, spec.progress_deadline_seconds) == (10, 600)
    assert spec.template.spec.containers[0].image_pull_policy == "IfNotPresent"

    dep = lab.wait_for_rollout("api", NS)
    assert dep["status"]["readyReplicas"] == 2
    got = apps.read_namespaced_deployment("api", NS)
    assert got.status.observed_generation == 1
    conditions = {c.type: c.reason for c in got.status.conditions}
    assert conditions == {"Available": "MinimumReplicasAvailable", "Progressing": "NewReplicaSetAvailable"}
    names = [d.metadata.name for d in apps.list_namespaced_deployment(NS).items]
    assert names == ["api", "checkout"]

    rs = apps.list_namespaced_replica_set(NS, label_selector="app=api").items
    assert len(rs) == 1
    owner = rs[0].metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.uid, owner.controller) == ("Deployment", "api", created.metadata.uid, True)
    assert rs[0].metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    pod_hash = rs[0].metadata.labels["pod-template-hash"]
    assert rs[0].metadata.name == f"api-{pod_hash}"
    pods = _ready_pods(core, "app=api")
    assert len(pods) == 2
    assert all(p.metadata.labels == {"app": "api", "pod-template-hash": pod_hash} for p in pods)
    assert all(p.metadata.owner_references[0].uid == rs[0].metadata.uid for p in pods)

    apps.delete_namespaced_deployment("api", NS)
    with pytest.raises(ApiException) as err:
        apps.read_namespaced_deployment("api", NS)
    assert err.value.status == 404
    # Background propagation: the ReplicaSet and its pods go too.
    assert apps.list_namespaced_replica_set(NS, label_selector="app=api").items == []
    assert _pods(core, "app=api") == []


def test_three_patch_types(lab: LabCluster, apps: client.AppsV1Api) -> None:
    # Strategic merge: containers merge by name, so env is added without restating the image.
    container_patch = {"name": "checkout", "env": [{"name": "MODE", "value": "x"}]}
    patch = {"spec": {"template": {"spec": {"containers": [container_patch]}}}}
    dep = apps.patch_namespaced_deployment(
        "checkout", NS, patch, _content_type="application/strategic-merge-patch+json"
    )
    container = dep.spec.template.spec.containers[0]
    assert container.image == "registry.local/checkout:1.0"
    assert [(e.name, e.value) for e in container.env] == [("MODE", "x")]
    assert dep.metadata.generation == 2

    dep = apps.patch_namespaced_deployment(
        "checkout", NS, {"metadata": {"labels": {"tier": "web"}}}, _content_type="application/merge-patch+json"
    )
    assert dep.metadata.labels == {"app": "checkout", "tier": "web"}
    assert dep.metadata.generation == 2  # metadata-only changes do not bump generation

    dep = apps.patch_namespaced_deployment(
        "checkout",
        NS,
        [{"op": "replace", "path": "/spec/replicas", "value": 4}],
        _content_type="application/json-patch+json",
    )
    assert dep.spec.replicas == 4
    lab.wait_for_rollout("checkout", NS)

    with pytest.raises(ApiException) as err:
        apps.patch_namespaced_deployment(
            "checkout",
            NS,
            [{"op": "test", "path": "/spec/replicas", "value": 9}],
            _content_type="application/json-patch+json",
        )
    assert err.value.status == 422


def test_replace_and_conflict(apps: client.AppsV1Api) -> None:
    dep = apps.read_namespaced_deployment("checkout", NS)
    stale_rv = dep.metadata.resource_version
    dep.spec.template.spec.containers[0].image = "registry.local/checkout:1.1"
    replaced = apps.replace_namespaced_deployment("checkout", NS, dep)
    assert replaced.spec.template.spec.containers[0].image == "registry.local/checkout:1.1"
    assert int(replaced.metadata.resource_version) > int(stale_rv)

    dep.spec.replicas = 1  # still carries the old resourceVersion
    with pytest.raises(ApiException) as err:
        apps.replace_namespaced_deployment("checkout", NS, dep)
    assert err.value.status == 409
    body = _status(err.value)
    assert body["reason"] == "Conflict"
    assert "the object has been modified" in body["message"]

    with pytest.raises(ApiException) as err:
        apps.patch_namespaced_deployment(
            "checkout",
            NS,
            {"metadata": {"resourceVersion": stale_rv}, "spec": {"replicas": 1}},
            _content_type="application/merge-patch+json",
        )
    assert err.value.status == 409


def test_status_error_shapes(apps: client.AppsV1Api) -> None:
    with pytest.raises(ApiException) as err:
        apps.read_namespaced_deployment("nope", NS)
    assert err.value.status == 404
    assert _status(err.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "group": "apps", "kind": "deployments"},
        "code": 404,
    }

    with pytest.raises(ApiException) as err:
        apps.create_namespaced_deployment(NS, demo_deployment())
    assert (err.value.status, _status(err.value)["reason"]) == (409, "AlreadyExists")
    assert _status(err.value)["message"] == 'deployments.apps "checkout" already exists'

    bad = demo_deployment("bad")
    bad["spec"]["replicas"] = -1
    with pytest.raises(ApiException) as err:
        apps.create_namespaced_deployment(NS, bad)
    body = _status(err.value)
    assert (err.value.status, body["reason"]) == (422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "spec.replicas"
    assert "must be greater than or equal to 0" in body["message"]

    mismatch = demo_deployment("bad")
    mismatch["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(ApiException) as err:
        apps.create_namespaced_deployment(NS, mismatch)
    assert err.value.status == 422
    assert "`selector` does not match template `labels`" in _status(err.value)["message"]

    no_selector = demo_deployment("bad")
    no_selector["spec"]["selector"] = {}  # the client itself refuses a missing selector
    with pytest.raises(ApiException) as err:
        apps.create_namespaced_deployment(NS, no_selector)
    assert err.value.status == 422
    assert "spec.selector: Required value" in _status(err.value)["message"]
    assert _status(err.value)["details"]["causes"][0]["field"] == "spec.selector"

    with pytest.raises(ApiException) as err:
        apps.create_namespaced_deployment("missing-ns", demo_deployment("x"))
    assert err.value.status == 404
    assert _status(err.value)["message"] == 'namespaces "missing-ns" not found'


def test_scale_subresource(lab: LabCluster, apps: client.AppsV1Api, core: client.CoreV1Api) -> None:
    scale = apps.read_namespaced_deployment_scale("checkout", NS)
    assert (scale.spec.replicas, scale.status.replicas, scale.status.selector) == (3, 3, "app=checkout")

    apps.patch_namespaced_deployment_scale("checkout", NS, {"spec": {"replicas": 5}})
    wait_until(lambda: len(_ready_pods(core)) == 5)
    lab.wait_for_rollout("checkout", NS)

    scale = apps.read_namespaced_deployment_scale("checkout", NS)
    scale.spec.replicas = 2
    result = apps.replace_namespaced_deployment_scale("checkout", NS, scale)
    assert result.spec.replicas == 2
    wait_until(lambda: len(_pods(core)) == 2)
    dep = lab.wait_for_rollout("checkout", NS)
    assert dep["status"]["replicas"] == 2

    with pytest.raises(ApiException) as err:
        apps.patch_namespaced_deployment_scale("checkout", NS, {"spec": {"replicas": -3}})
    assert err.value.status == 422


def test_dry_run_changes_nothing(lab: LabCluster, apps: client.AppsV1Api, core: client.CoreV1Api) -> None:
    before = apps.read_namespaced_deployment("checkout", NS)
    rv = before.metadata.resource_version
    pod_name = _pods(core)[0].metadata.name
    list_rv = apps.list_namespaced_deployment(NS).metadata.resource_version

    created = apps.create_namespaced_deployment(NS, demo_deployment("ghost"), dry_run="All")
    assert created.metadata.name == "ghost" and created.spec.revision_history_limit == 10
    patched = apps.patch_namespaced_deployment("checkout", NS, {"spec": {"replicas": 7}}, dry_run="All")
    assert patched.spec.replicas == 7
    before.spec.replicas = 9
    assert apps.replace_namespaced_deployment("checkout", NS, before, dry_run="All").spec.replicas == 9
    scaled = apps.patch_namespaced_deployment_scale("checkout", NS, {"spec": {"replicas": 8}}, dry_run="All")
    assert scaled.spec.replicas == 8
    apps.delete_namespaced_deployment("checkout", NS, dry_run="All")
    # kubectl sends dry-run for deletes in the DeleteOptions body.
    core.delete_namespaced_pod(pod_name, NS, body=client.V1DeleteOptions(dry_run=["All"]))

    after = apps.read_namespaced_deployment("checkout", NS)
    assert after.metadata.resource_version == rv
    assert after.spec.replicas == 3
    core.read_namespaced_pod(pod_name, NS)
    with pytest.raises(ApiException):
        apps.read_namespaced_deployment("ghost", NS)
    events = list(
        watch.Watch().stream(apps.list_namespaced_deployment, NS, resource_version=list_rv, timeout_seconds=1)
    )
    assert events == []


def test_label_and_field_selectors(lab: LabCluster, apps: client.AppsV1Api, core: client.CoreV1Api) -> None:
    web = demo_deployment("web")
    web["metadata"]["labels"]["tier"] = "frontend"
    apps.create_namespaced_deployment(NS, web)
    db = demo_deployment("db")
    db["metadata"]["labels"]["tier"] = "db"
    apps.create_namespaced_deployment(NS, db)

    def names(**kw: str) -> list[str]:
        return [d.metadata.name for d in apps.list_namespaced_deployment(NS, **kw).items]

    assert names(label_selector="tier!=db") == ["checkout", "web"]
    assert names(label_selector="app in (web,db),tier!=db") == ["web"]
    assert names(label_selector="tier notin (frontend)") == ["checkout", "db"]
    assert names(label_selector="tier") == ["db", "web"]
    assert names(label_selector="!tier") == ["checkout"]
    assert names(field_selector="metadata.name=db") == ["db"]
    assert names(field_selector="metadata.namespace=demo,metadata.name!=db") == ["checkout", "web"]
    everywhere = apps.list_deployment_for_all_namespaces(field_selector="metadata.namespace=default")
    assert everywhere.items == []

    lab.wait_for_rollout("web", NS)
    running = core.list_namespaced_pod(NS, field_selector="status.phase=Running", label_selector="app=web").items
    assert len(running) == 3
    assert core.list_namespaced_pod(NS, field_selector="status.phase=Pending", label_selector="app=web").items == []


def test_watch_from_resource_version(lab: LabCluster, apps: client.AppsV1Api) -> None:
    rv = apps.list_namespaced_deployment(NS).metadata.resource_version
    apps.patch_namespaced_deployment("checkout", NS, {"metadata": {"labels": {"seen": "yes"}}})
    apps.create_namespaced_deployment(NS, demo_deployment("extra", replicas=1))
    apps.delete_namespaced_deployment("extra", NS)

    seen: list[tuple[str, str]] = []
    w = watch.Watch()
    for event in w.stream(apps.list_namespaced_deployment, NS, resource_version=rv, timeout_seconds=5):
        obj = event["object"]
        seen.append((event["type"], obj.metadata.name))
        if event["type"] == "DELETED":
            w.stop()
    assert seen[0] == ("MODIFIED", "checkout")
    assert ("ADDED", "extra") in seen
    assert seen[-1] == ("DELETED", "extra")


def test_watch_sees_rollout_live(lab: LabCluster, apps: client.AppsV1Api) -> None:
    rv = apps.read_namespaced_deployment("checkout", NS).metadata.resource_version
    result: dict[str, Any] = {}

    def consume() -> None:
        w = watch.Watch()
        for event in w.stream(
            apps.list_namespaced_deployment,
            NS,
            resource_version=rv,
            field_selector="metadata.name=checkout",
            timeout_seconds=10,
        ):
            dep = event["object"]
            reasons = {c.type: c.reason for c in dep.status.conditions or []}
            if dep.status.observed_generation == 2 and reasons.get("Progressing") == "NewReplicaSetAvailable":
                result["done"] = dep
                w.stop()

    thread = threading.Thread(target=consume)
    thread.start()
    apps.patch_namespaced_deployment("checkout", NS, {"spec": {"template": {"metadata": {"annotations": {"v": "2"}}}}})
    thread.join(timeout=15)
    assert "done" in result
    assert result["done"].metadata.annotations["deployment.kubernetes.io/revision"] == "2"


def test_revision_history_and_pruning(lab: LabCluster, apps: client.AppsV1Api) -> None:
    apps.patch_namespaced_deployment("checkout", NS, {"spec": {"revisionHistoryLimit": 2}})
    for i in range(4):
        apps.patch_namespaced_deployment(
            "checkout", NS, {"spec": {"template": {"metadata": {"annotations": {"restart": str(i)}}}}}
        )
        lab.wait_for_rollout("checkout", NS)

    def revisions() -> list[int]:
        items = apps.list_namespaced_replica_set(NS, label_selector="app=checkout").items
        return sorted(int(rs.metadata.annotations["deployment.kubernetes.io/revision"]) for rs in items)

    assert wait_until(lambda: revisions() == [3, 4, 5])

    # Going back to revision 4's template re-adopts that ReplicaSet as revision 6.
    apps.patch_namespaced_deployment(
        "checkout", NS, {"spec": {"template": {"metadata": {"annotations": {"restart": "2"}}}}}
    )
    dep = lab.wait_for_rollout("checkout", NS)
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "6"
    readopted = next(
        rs
        for rs in apps.list_namespaced_replica_set(NS).items
        if rs.metadata.annotations["deployment.kubernetes.io/revision"] == "6"
    )
    assert readopted.metadata.annotations["deployment.kubernetes.io/revision-history"] == "4"


def test_deleted_pod_is_replaced(lab: LabCluster, core: client.CoreV1Api) -> None:
    victim = _pods(core)[0].metadata.name
    core.delete_namespaced_pod(victim, NS)
    wait_until(lambda: len(_ready_pods(core)) == 3 and victim not in {p.metadata.name for p in _pods(core)})


def test_state_survives_restart(tmp_path: Any) -> None:
    cfg = LabConfig(state_dir=tmp_path / "state", time_scale=TIME_SCALE)
    with LabCluster(cfg) as first:
        first.wait_for_rollout("checkout", "demo")
        first.api.patch(DEPLOYMENTS, "demo", "checkout", "application/merge-patch+json", {"spec": {"replicas": 2}})
        first.wait_for_rollout("checkout", "demo")
        first.api.delete(NAMESPACES, "", "default", None, dry_run=False)
        rv_before = first.store.rv
    saved = json.loads((tmp_path / "state" / "state.json").read_text())
    assert saved["resourceVersion"] == rv_before
    with LabCluster(cfg) as second:
        dep = second.store.get("deployments", "demo", "checkout")
        assert dep is not None and dep["spec"]["replicas"] == 2
        assert second.store.get("namespaces", "", "default") is None  # not re-seeded
        assert second.store.rv >= rv_before
        api_cfg = client.Configuration()
        config.load_kube_config(config_file=str(second.kubeconfig_path), client_configuration=api_cfg)
        with client.ApiClient(api_cfg) as api:
            apps = client.AppsV1Api(api)
            assert (
                apps.read_namespaced_deployment("checkout", "demo").metadata.resource_version
                == dep["metadata"]["resourceVersion"]
            )
            # Watch history does not survive a restart: an old resourceVersion is 410 Gone.
            with pytest.raises(ApiException) as err:
                list(
                    watch.Watch().stream(
                        apps.list_namespaced_deployment, "demo", resource_version="1", timeout_seconds=2
                    )
                )
            assert err.value.status == 410
