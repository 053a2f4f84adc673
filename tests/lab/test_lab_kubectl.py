"""Conformance with real kubectl: get/rollout/scale/delete/apply/set image, and --dry-run=server."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from runner.lab.k8s import LabCluster

from .conftest import Kubectl, wait_until

NS = "demo"


def _state(lab: LabCluster) -> dict[str, Any]:
    """Everything a dry run must leave alone: objects by name and the global resourceVersion."""
    with lab.store.lock:
        return {
            "rv": lab.store.rv,
            "objects": {res: sorted(objs) for res, objs in lab.store.objects.items()},
            "checkout": lab.store.get("deployments", NS, "checkout"),
        }


def _revision_lines(output: str) -> list[tuple[int, str]]:
    rows = []
    for line in output.splitlines():
        m = re.match(r"^(\d+)\s+(\S.*)$", line)
        if m:
            rows.append((int(m.group(1)), m.group(2).strip()))
    return rows


def _rollout_status(kubectl: Kubectl) -> None:
    out = kubectl("rollout", "status", "deployment/checkout", "--timeout=20s").stdout
    assert 'deployment "checkout" successfully rolled out' in out


def test_get_prints_tables(lab: LabCluster, kubectl: Kubectl) -> None:
    out = kubectl("get", "deploy,rs,pods", "-n", NS).stdout
    lines = out.splitlines()
    assert re.match(r"^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$", lines[0])
    assert re.match(r"^deployment\.apps/checkout\s+3/3\s+3\s+3\s+\d+s$", lines[1])
    assert any(re.match(r"^NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE$", line) for line in lines)
    assert any(re.match(r"^replicaset\.apps/checkout-\w+\s+3\s+3\s+3\s+\d+s$", line) for line in lines)
    assert any(re.match(r"^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$", line) for line in lines)
    pods = [line for line in lines if line.startswith("pod/checkout-")]
    assert len(pods) == 3
    assert all(re.match(r"^pod/checkout-\w+-\w{5}\s+1/1\s+Running\s+0\s+\d+s$", p) for p in pods)

    wide = kubectl("get", "deploy", "checkout", "-o", "wide").stdout
    assert "registry.local/checkout:1.0" in wide and "app=checkout" in wide
    assert kubectl("get", "ns").stdout.split()[:3] == ["NAME", "STATUS", "AGE"]
    as_json = json.loads(kubectl("get", "deploy", "checkout", "-o", "json").stdout)
    assert as_json["spec"]["replicas"] == 3
    missing = kubectl("get", "deploy", "nope", check=False)
    assert missing.returncode != 0
    assert 'deployments.apps "nope" not found' in missing.stderr


def test_rollout_restart_status_history(lab: LabCluster, kubectl: Kubectl) -> None:
    assert kubectl("rollout", "restart", "deployment/checkout").stdout.strip() == "deployment.apps/checkout restarted"
    _rollout_status(kubectl)
    history = kubectl("rollout", "history", "deployment/checkout").stdout
    assert re.search(r"^REVISION\s+CHANGE-CAUSE$", history, re.MULTILINE)
    assert _revision_lines(history) == [(1, "<none>"), (2, "<none>")]
    dep = lab.store.get("deployments", NS, "checkout")
    assert dep is not None
    assert "kubectl.kubernetes.io/restartedAt" in dep["spec"]["template"]["metadata"]["annotations"]
    pods = kubectl("get", "pods", "-o", "json").stdout
    assert len(json.loads(pods)["items"]) == 3
    described = kubectl("describe", "deployment", "checkout").stdout
    assert re.search(r"Progressing\s+True\s+NewReplicaSetAvailable", described)
    assert re.search(r"ScalingReplicaSet .* Scaled up replica set checkout-\w+ from 0 to 1", described)


def test_rollout_undo_and_to_revision(lab: LabCluster, kubectl: Kubectl) -> None:
    kubectl("annotate", "deployment/checkout", "kubernetes.io/change-cause=first")
    kubectl("set", "image", "deployment/checkout", "checkout=registry.local/checkout:1.1")
    kubectl("annotate", "deployment/checkout", "kubernetes.io/change-cause=image 1.1", "--overwrite")
    _rollout_status(kubectl)
    kubectl("set", "image", "deployment/checkout", "checkout=registry.local/checkout:1.2")
    kubectl("annotate", "deployment/checkout", "kubernetes.io/change-cause=image 1.2", "--overwrite")
    _rollout_status(kubectl)
    assert _revision_lines(kubectl("rollout", "history", "deployment/checkout").stdout) == [
        (1, "first"),
        (2, "image 1.1"),
        (3, "image 1.2"),
    ]

    assert kubectl("rollout", "undo", "deployment/checkout").stdout.strip() == "deployment.apps/checkout rolled back"
    _rollout_status(kubectl)
    dep = lab.store.get("deployments", NS, "checkout")
    assert dep is not None
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local/checkout:1.1"
    # Revision 2's ReplicaSet was re-adopted as revision 4, not copied.
    assert _revision_lines(kubectl("rollout", "history", "deployment/checkout").stdout) == [
        (1, "first"),
        (3, "image 1.2"),
        (4, "image 1.1"),
    ]
    rs_list = json.loads(kubectl("get", "rs", "-o", "json").stdout)["items"]
    assert len(rs_list) == 3
    readopted = [rs for rs in rs_list if rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"]
    assert readopted[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "2"

    out = kubectl("rollout", "undo", "deployment/checkout", "--to-revision=1").stdout
    assert out.strip() == "deployment.apps/checkout rolled back"
    _rollout_status(kubectl)
    dep = lab.store.get("deployments", NS, "checkout")
    assert dep is not None
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local/checkout:1.0"
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "5"
    revision_5 = kubectl("rollout", "history", "deployment/checkout", "--revision=5").stdout
    assert "registry.local/checkout:1.0" in revision_5


def test_scale_and_delete_pod(lab: LabCluster, kubectl: Kubectl) -> None:
    assert kubectl("scale", "deployment/checkout", "--replicas=5").stdout.strip() == "deployment.apps/checkout scaled"
    _rollout_status(kubectl)
    out = kubectl("get", "deploy", "checkout").stdout
    assert re.search(r"^checkout\s+5/5\s+5\s+5\s", out, re.MULTILINE)

    pods = json.loads(kubectl("get", "pods", "-l", "app=checkout", "-o", "json").stdout)["items"]
    victim = pods[0]["metadata"]["name"]
    out = kubectl("delete", "pod", victim).stdout
    assert re.match(rf'^pod "{victim}" deleted', out)

    def replaced() -> bool:
        items = json.loads(kubectl("get", "pods", "-o", "json").stdout)["items"]
        names = {p["metadata"]["name"] for p in items}
        ready = [
            p
            for p in items
            if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
        ]
        return victim not in names and len(ready) == 5

    wait_until(replaced, timeout=15)


def test_dry_run_server_leaves_state_unchanged(lab: LabCluster, kubectl: Kubectl) -> None:
    kubectl("rollout", "restart", "deployment/checkout")
    _rollout_status(kubectl)
    before = _state(lab)
    pod = json.loads(kubectl("get", "pods", "-o", "json").stdout)["items"][0]["metadata"]["name"]

    out = kubectl("scale", "deployment/checkout", "--replicas=7", "--dry-run=server").stdout
    assert out.strip() == "deployment.apps/checkout scaled (server dry run)"
    out = kubectl("rollout", "undo", "deployment/checkout", "--dry-run=server").stdout
    assert out.strip() == "deployment.apps/checkout rolled back (server dry run)"
    out = kubectl("delete", "pod", pod, "--dry-run=server").stdout
    # kubectl >= 1.33 adds "from demo namespace".
    assert re.match(rf'^pod "{pod}" deleted( from demo namespace)? \(server dry run\)$', out.strip())
    out = kubectl("delete", "deployment", "checkout", "--dry-run=server").stdout
    assert re.match(r'^deployment.apps "checkout" deleted( from demo namespace)? \(server dry run\)$', out.strip())
    # `kubectl rollout restart` has no --dry-run flag; this is the exact patch it sends.
    restart = {
        "spec": {
            "template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2030-01-01T00:00:00Z"}}}
        }
    }
    out = kubectl("patch", "deployment/checkout", "-p", json.dumps(restart), "--dry-run=server").stdout
    assert out.startswith("deployment.apps/checkout patched")  # kubectl 1.32 omits "(server dry run)" here

    assert _state(lab) == before


def test_apply_cronjob_and_deployment(lab: LabCluster, kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "cronjob.yaml"
    text = """\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly-report
spec:
  schedule: "0 2 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: report
            image: registry.local/report:1.0
"""
    manifest.write_text(text)
    assert kubectl("apply", "-f", str(manifest)).stdout.strip() == "cronjob.batch/nightly-report created"
    assert kubectl("apply", "-f", str(manifest)).stdout.strip() == "cronjob.batch/nightly-report unchanged"
    manifest.write_text(text.replace("0 2 * * *", "30 3 * * *"))
    assert kubectl("apply", "-f", str(manifest)).stdout.strip() == "cronjob.batch/nightly-report configured"
    out = kubectl("get", "cronjobs").stdout
    assert re.search(r"^nightly-report\s+30 3 \* \* \*\s", out, re.MULTILINE)
    cj = lab.store.get("cronjobs", NS, "nightly-report")
    assert cj is not None and cj["spec"]["concurrencyPolicy"] == "Allow"
    assert "kubectl.kubernetes.io/last-applied-configuration" in cj["metadata"]["annotations"]

    deploy = tmp_path / "deploy.yaml"
    deploy.write_text("""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: payments
spec:
  replicas: 2
  selector:
    matchLabels: {app: payments}
  template:
    metadata:
      labels: {app: payments}
    spec:
      containers:
      - name: payments
        image: registry.local/payments:1.0
""")
    assert kubectl("apply", "-f", str(deploy)).stdout.strip() == "deployment.apps/payments created"
    lab.wait_for_rollout("payments", NS)
    deploy.write_text(deploy.read_text().replace("replicas: 2", "replicas: 4"))
    assert kubectl("apply", "-f", str(deploy)).stdout.strip() == "deployment.apps/payments configured"
    dep = lab.wait_for_rollout("payments", NS)
    assert dep["status"]["availableReplicas"] == 4
    assert kubectl("delete", "-f", str(manifest)).returncode == 0
    assert lab.store.get("cronjobs", NS, "nightly-report") is None


def test_broken_image_exceeds_progress_deadline(lab: LabCluster, kubectl: Kubectl) -> None:
    # 60 s at time_scale 0.01 is 0.6 s of real time.
    kubectl("patch", "deployment/checkout", "-p", '{"spec":{"progressDeadlineSeconds":60}}')
    out = kubectl("set", "image", "deployment/checkout", "checkout=registry.local/checkout:2.0-broken").stdout
    assert out.strip() == "deployment.apps/checkout image updated"
    status = kubectl("rollout", "status", "deployment/checkout", "--timeout=20s", check=False)
    assert status.returncode != 0
    assert 'deployment "checkout" exceeded its progress deadline' in status.stderr

    pods = kubectl("get", "pods").stdout
    assert re.search(r"checkout-\w+-\w{5}\s+0/1\s+CrashLoopBackOff\s+1\s", pods)
    # Availability held: maxUnavailable rounds down to 0 of 3, so the old pods keep serving.
    assert re.search(r"^checkout\s+3/3\s+1\s+3\s", kubectl("get", "deploy").stdout, re.MULTILINE)

    kubectl("rollout", "undo", "deployment/checkout")
    _rollout_status(kubectl)
    assert "CrashLoopBackOff" not in kubectl("get", "pods").stdout
