"""`fireline gameday schedule` emits a CronJob that a real kubectl applies to the lab cluster."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import yaml

from tests.gameday.conftest import CliRunner, Lab, kubectl, wait_for

CHAOS_NS = "chaos-drills"


def test_cronjob_applies_to_the_lab(lab: Lab, cli: CliRunner, tmp_path: Path) -> None:
    manifest = tmp_path / "f.yaml"
    result = cli("gameday", "schedule", "scenarios/checkout-db-exhaustion.yaml", "--emit", "cronjob",
                 "--namespace", CHAOS_NS, "-o", str(manifest))
    assert result.code == 0, result.out + result.err
    assert yaml.safe_load(manifest.read_text(encoding="utf-8"))["metadata"]["namespace"] == CHAOS_NS

    cache = tmp_path / "kube-cache"
    assert CHAOS_NS not in namespace_names(lab, cache)
    # `kubectl create namespace` would be the natural command, but the lab rejects its protobuf body (see
    # test_kubectl_create_namespace below); the same object through `kubectl apply` is sent as JSON.
    namespace = tmp_path / "namespace.yaml"
    namespace.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": CHAOS_NS}}))
    kubectl(lab.kubeconfig, "apply", "-f", str(namespace), cache_dir=cache)
    try:
        applied = kubectl(lab.kubeconfig, "apply", "-f", str(manifest), cache_dir=cache)
        assert "cronjob.batch/checkout-db-exhaustion created" in applied.stdout
        listed = json.loads(kubectl(lab.kubeconfig, "get", "cronjob", "-n", CHAOS_NS, "-o", "json",
                                    cache_dir=cache).stdout)
        (cronjob,) = listed["items"]
        assert cronjob["metadata"]["name"] == "checkout-db-exhaustion"
        assert cronjob["spec"]["schedule"] == "0 14 * * 3"
        assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
        container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == ["gameday", "run", "/opt/fireline/scenarios/checkout-db-exhaustion.yaml"]
        # Applying the same manifest again changes nothing (the schedule is declarative).
        again = kubectl(lab.kubeconfig, "apply", "-f", str(manifest), cache_dir=cache)
        assert "unchanged" in again.stdout, again.stdout
    finally:
        kubectl(lab.kubeconfig, "delete", "namespace", CHAOS_NS, "--wait=false", cache_dir=cache)
    left = json.loads(kubectl(lab.kubeconfig, "get", "cronjobs", "-A", "-o", "json", cache_dir=cache).stdout)
    assert [c for c in left["items"] if c["metadata"]["namespace"] == CHAOS_NS] == []
    wait_for(lambda: CHAOS_NS not in namespace_names(lab, cache), f"namespace {CHAOS_NS} to be gone", 10)


def namespace_names(lab: Lab, cache: Path) -> set[str]:
    listed = json.loads(kubectl(lab.kubeconfig, "get", "namespaces", "-o", "json", cache_dir=cache).stdout)
    return {n["metadata"]["name"] for n in listed["items"]}


def test_kubectl_create_namespace(lab: Lab, tmp_path: Path) -> None:
    cache = tmp_path / "kube-cache"
    try:
        kubectl(lab.kubeconfig, "create", "namespace", "chaos-created", cache_dir=cache)
    finally:
        with contextlib.suppress(AssertionError):
            kubectl(lab.kubeconfig, "delete", "namespace", "chaos-created", "--wait=false", cache_dir=cache)
