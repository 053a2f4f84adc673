"""Cost of a kubernetes step inside fireline compared with the same kubectl command, against the lab.

    .venv/bin/python benchmarks/kubernetes_step.py [--repeat 30] [--kubectl /usr/bin/kubectl]

Measured, each N times against one lab (runner/lab/k8s), median and p95 of the wall time:

* read:  `kubernetes.get` (one GET of the deployment, one field picked) vs
         `kubectl get deployment checkout -o jsonpath={.status.readyReplicas}`
* write: `kubernetes.scale` (GET /scale + PATCH /scale) toggling 3 ↔ 4 replicas vs
         `kubectl scale deployment checkout --replicas=N`
* in-process "cold": first step of a run (imports the kubernetes client, reads the kubeconfig, builds the
  client) — measured once per fresh interpreter, in a subprocess
* `fireline run` of a one-step runbook (whole process: interpreter, CLI, validation, journal, the step)

The action runs are what the engine calls: `Action.run(params, ActionContext)`, with the client cached for
the run as the engine caches it. kubectl pays its process start, kubeconfig load and discovery cache
check every time: that is what a shell step calling kubectl would pay.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import _peer  # noqa: E402 - beside this script

from runner.actions.base import ActionContext  # noqa: E402 - after the path fix above
from runner.actions.registry import get_action  # noqa: E402
from runner.lab.k8s import LabCluster, LabConfig  # noqa: E402

RUNBOOK = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: bench-kubernetes-get, title: Benchmark one kubernetes step}
inputs:
  kubeconfig: {type: string, default: ""}
connections:
  lab: {type: kubernetes, kubeconfig: "{{ inputs.kubeconfig }}"}
steps:
  - id: read
    action: kubernetes.get
    with: {connection: lab, kind: deployment, name: checkout, fields: {ready: status.readyReplicas}}
"""

COLD_SNIPPET = """\
import time, sys
started = time.perf_counter()
from runner.actions.base import ActionContext
from runner.actions.registry import get_action
class C:
    def settings(self, name, family): return {"type": "kubernetes", "kubeconfig": sys.argv[1]}
    def resource(self, key, factory, close): return factory()
get_action("kubernetes.get").run({"connection": "lab", "kind": "deployment", "name": "checkout",
    "fields": {"ready": "status.readyReplicas"}}, ActionContext("bench", C()))
print(time.perf_counter() - started)
"""


class Connections:
    """The run-scoped connection cache, as the engine keeps it."""

    def __init__(self, kubeconfig: Path) -> None:
        self._settings = {"type": "kubernetes", "kubeconfig": str(kubeconfig)}
        self._cache: dict[str, Any] = {}

    def settings(self, name: str, family: str) -> Mapping[str, Any]:
        return self._settings

    def resource(self, key: str, factory: Callable[[], Any], close: Callable[[Any], None] | None) -> Any:
        if key not in self._cache:
            self._cache[key] = factory()
        return self._cache[key]


def timed(fn: Callable[[int], object], repeat: int) -> list[float]:
    samples = []
    for index in range(repeat):
        started = time.perf_counter()
        fn(index)
        samples.append(time.perf_counter() - started)
    return samples


MEDIANS: dict[str, float] = {}  # label -> median seconds, for --json


def summary(label: str, samples: list[float]) -> str:
    MEDIANS[label] = statistics.median(samples)
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"{label:<44} n={len(samples):<3} median {statistics.median(samples) * 1000:8.1f} ms   p95 {p95 * 1000:8.1f} ms"
    )


def run_checked(cmd: list[str], env: Mapping[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def bench(lab: LabCluster, workdir: Path, repeat: int, kubectl: str | None) -> list[str]:
    kubeconfig = lab.kubeconfig_path
    connections = Connections(kubeconfig)
    get, scale = get_action("kubernetes.get"), get_action("kubernetes.scale")
    get_params = {
        "connection": "lab",
        "kind": "deployment",
        "name": "checkout",
        "fields": {"ready": "status.readyReplicas"},
    }

    def ctx() -> ActionContext:
        return ActionContext("bench", connections, deadline=time.monotonic() + 30)

    get.run(get_params, ctx())  # warm: import, kubeconfig, client (the "cold" line measures this part)
    lines = [summary("fireline action kubernetes.get (warm)", timed(lambda i: get.run(get_params, ctx()), repeat))]
    lines.append(
        summary(
            "fireline action kubernetes.scale 3↔4 (warm)",
            timed(
                lambda i: scale.run({"connection": "lab", "deployment": "checkout", "replicas": 4 - i % 2}, ctx()),
                repeat,
            ),
        )
    )
    python = sys.executable
    cold = [
        float(run_checked([python, "-c", COLD_SNIPPET, str(kubeconfig)]).strip()) for _ in range(max(3, repeat // 5))
    ]
    lines.append(summary("fireline action, cold (imports+client+GET)", cold))
    if kubectl:
        base = [kubectl, "--kubeconfig", str(kubeconfig), "--cache-dir", str(workdir / "kube-cache"), "-n", "demo"]
        lines.append(
            summary(
                "kubectl get deployment -o jsonpath",
                timed(
                    lambda i: run_checked(
                        [*base, "get", "deployment", "checkout", "-o", "jsonpath={.status.readyReplicas}"]
                    ),
                    repeat,
                ),
            )
        )
        lines.append(
            summary(
                "kubectl scale deployment 3↔4",
                timed(
                    lambda i: run_checked([*base, "scale", "deployment", "checkout", f"--replicas={4 - i % 2}"]), repeat
                ),
            )
        )
    fireline = Path(python).with_name("fireline")
    if fireline.exists():
        runbook = workdir / "bench-kubernetes-get.yaml"
        runbook.write_text(RUNBOOK, encoding="utf-8")
        env = {**os.environ, "FIRELINE_HOME": str(workdir / "home"), "FIRELINE_ACTOR": "bench"}
        cmd = [str(fireline), "run", str(runbook), "--output", "plain", "-i", f"kubeconfig={kubeconfig}"]
        lines.append(
            summary(
                "fireline run (1-step runbook, whole process)",
                timed(lambda i: run_checked(cmd, env), max(3, repeat // 3)),
            )
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--kubectl", default=os.environ.get("FIRELINE_KUBECTL") or shutil.which("kubectl"))
    _peer.add_json_option(parser)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fireline-bench-k8s-") as tmp:
        workdir = Path(tmp)
        with LabCluster(LabConfig(state_dir=workdir / "lab", time_scale=0.01)) as lab:
            lab.wait_for_rollout("checkout", "demo")
            print(
                f"lab at {lab.url}; kubectl: {args.kubectl or 'not found (skipped)'}; python {sys.version.split()[0]}"
            )
            for line in bench(lab, workdir, args.repeat, args.kubectl):
                print(line)
    pairs = {
        "fireline action kubernetes.get (warm)": "kubectl get deployment -o jsonpath",
        "fireline action kubernetes.scale 3↔4 (warm)": "kubectl scale deployment 3↔4",
    }
    results = []
    for label, median in MEDIANS.items():
        peer = MEDIANS.get(pairs.get(label, ""))
        if label not in pairs.values():
            results.append(_peer.Result(f"{label}, median" + (" (peer: kubectl)" if peer else ""), median, "s",
                                        "(shown)", None, peer=peer, ratio=median / peer if peer else None))
    _peer.write_results(args.json, "kubernetes_step", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
