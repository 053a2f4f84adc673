"""Pod logs in the lab with real kubectl: `kubectl logs deploy/checkout`, `kubectl logs POD --tail=N`, the
demo service's requests spread over the deployment's ready pods, and a crashing image's error."""

from __future__ import annotations

import json
import re
import time

from runner.lab.demo_service import DemoServiceConfig, report_request
from runner.lab.k8s import LabCluster

from .conftest import Kubectl, wait_until

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO |WARN |ERROR) \S")


def pod_names(kubectl: Kubectl) -> list[str]:
    return sorted(p.removeprefix("pod/") for p in kubectl("get", "pods", "-o", "name").stdout.split())


def report(lab: LabCluster, level: str, what: str) -> None:
    """What the demo service does after answering a request."""
    report_request(DemoServiceConfig(dsn="", cluster_url=lab.url), level, what, time.monotonic())


def test_kubectl_logs_of_a_deployment_and_of_a_pod(lab: LabCluster, kubectl: Kubectl) -> None:
    out = kubectl("logs", "deploy/checkout")
    assert re.match(r"Found 3 pods, using pod/checkout-\w+-\w+", out.stderr), out.stderr
    lines = out.stdout.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        "INFO  starting checkout (registry.local/checkout:1.0)",
        "INFO  ready, listening on :8080",
    ]
    assert all(LINE.match(line) for line in lines), lines
    for n in range(6):
        report(lab, "INFO" if n % 2 else "ERROR", f"GET /health {200 if n % 2 else 503} request-{n}")
    # Spread over the three ready pods in turn, like a Service: two requests each.
    logs = {pod: kubectl("logs", pod).stdout for pod in pod_names(kubectl)}
    requests = {pod: re.findall(r"request-\d", text) for pod, text in logs.items()}
    assert sorted(n for found in requests.values() for n in found) == [f"request-{n}" for n in range(6)]
    assert all(len(found) == 2 for found in requests.values()), requests
    pod, text = next(iter(logs.items()))
    last = text.splitlines()[-1]
    assert kubectl("logs", pod, "--tail=1").stdout.splitlines() == [last]
    assert kubectl("logs", pod, "--tail=5").stdout == text  # fewer lines than asked for: all of them
    assert kubectl("logs", pod, "--since=1h").stdout == text
    assert kubectl("logs", pod, "-c", "checkout").stdout == text
    stamped = kubectl("logs", pod, "--tail=1", "--timestamps").stdout
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z " + re.escape(last) + "$", stamped.strip()), stamped
    errors = [line for text in logs.values() for line in text.splitlines() if " ERROR " in line]
    assert len(errors) == 3 and all("GET /health 503" in line for line in errors)


def test_kubectl_logs_errors(lab: LabCluster, kubectl: Kubectl) -> None:
    pod = pod_names(kubectl)[0]
    wrong = kubectl("logs", pod, "-c", "sidecar", check=False)
    assert wrong.returncode == 1 and f"container sidecar is not valid for pod {pod}" in wrong.stderr
    missing = kubectl("logs", "checkout-nope", check=False)
    assert missing.returncode == 1 and 'pods "checkout-nope" not found' in missing.stderr


def test_a_crashing_image_logs_its_error(lab: LabCluster, kubectl: Kubectl) -> None:
    kubectl("set", "image", "deployment/checkout", "checkout=registry.local/checkout:1.1-broken")

    def broken_pod() -> str | None:
        pods = json.loads(kubectl("get", "pods", "-o", "json").stdout)["items"]
        broken = [p for p in pods if p["spec"]["containers"][0]["image"].endswith("-broken")]
        return broken[0]["metadata"]["name"] if broken else None

    pod = wait_until(broken_pod)
    out = kubectl("logs", pod).stdout
    assert "ERROR fatal: cannot start registry.local/checkout:1.1-broken: exit status 1" in out, out
    assert "ready, listening" not in out


def test_request_reports_name_a_deployment(lab: LabCluster) -> None:
    import urllib.error
    import urllib.request

    def post(path: str, body: bytes) -> tuple[int, str]:
        request = urllib.request.Request(lab.url + path, body, {"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    base = "/lab/v1/namespaces/demo/deployments"
    assert post(f"{base}/checkout/requests", b'{"lines": ["x"]}') == (200, '{"written":1,"pods":3}')
    status, body = post(f"{base}/nope/requests", b'{"lines": ["x"]}')
    assert status == 404 and 'deployments.apps \\"nope\\" not found' in body
    status, body = post(f"{base}/checkout/requests", b'{"lines": "x"}')
    assert status == 400 and "a request report is" in body
