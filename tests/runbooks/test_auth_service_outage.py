"""runbooks/auth-service-outage.yaml, each branch of its decision tree, through the CLI against the lab, a real
PostgreSQL and a flagd file: the cause created first is the one found, its fix really happens, nothing else
changes, and a status update goes out at each stage."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kubernetes import client, config

from runner.lab.demo_service import DemoServiceConfig, report_request
from runner.lab.k8s import LabCluster, LabConfig
from runner.lab.postgres import ThrowawayPostgres
from tests.conftest import write

RUNBOOK = Path(__file__).resolve().parents[2] / "runbooks" / "auth-service-outage.yaml"
NS, DEPLOYMENT, FLAG = "demo", "checkout", "new-login"
COMMON = ("steps", "announce", "deploys", "usage", "db-load", "decide", "triage")


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrowawayPostgres]:
    # Its own server: the database branch terminates idle sessions server-wide.
    with ThrowawayPostgres(tmp_path_factory.mktemp("pg")) as server:
        server.create_database("auth")
        yield server


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[LabCluster]:
    with LabCluster(LabConfig(state_dir=tmp_path / "lab", time_scale=0.02)) as cluster:
        cluster.wait_for_rollout(DEPLOYMENT, NS, timeout=10)
        yield cluster


@pytest.fixture
def apps(lab: LabCluster) -> Iterator[client.AppsV1Api]:
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(lab.kubeconfig_path), client_configuration=cfg)
    with client.ApiClient(cfg) as api:
        yield client.AppsV1Api(api)


@pytest.fixture
def flags_file(tmp_path: Path) -> Path:
    flags = {FLAG: {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "on"}}
    return write(tmp_path / "flags.json", json.dumps({"flags": flags}))


def flag_state(path: Path) -> str:
    return str(json.loads(path.read_text())["flags"][FLAG]["state"])


@pytest.fixture
def tree(cli: Any, lab: LabCluster, pg: ThrowawayPostgres, flags_file: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("PRIMARY_DSN", pg.dsn("auth"))

    def run(*inputs: str, command: str = "run") -> tuple[int, dict[str, Any]]:
        argv = [command, str(RUNBOOK), "-i", f"deployment={DEPLOYMENT}", "-i", f"kubeconfig={lab.kubeconfig_path}"]
        argv += ["-i", f"flags_file={flags_file}"]
        for pair in inputs:
            argv += ["-i", pair]
        if command == "run":
            argv += ["--approve-all", "--reason", "INC-7"]
        result = cli(*argv, "--output", "json")
        return result.code, result.json()

    return run


def ran(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["id"]: step for step in doc["steps"]}


def taken(doc: dict[str, Any], *branch: str) -> None:
    """The steps that ran are the common ones, then exactly this branch."""
    assert list(ran(doc)) == [*COMMON[1:], *branch], list(ran(doc))


def said(doc: dict[str, Any], step: str) -> str:
    """What a status-update step sent (it prints the update)."""
    return " ".join(ran(doc)[step]["log"])


def state(apps: client.AppsV1Api) -> tuple[int, str]:
    dep = apps.read_namespaced_deployment(DEPLOYMENT, NS)
    return int(dep.spec.replicas), str(dep.spec.template.spec.containers[0].image)


def test_validates() -> None:
    from runner.document.runbook import load_runbook

    assert load_runbook(RUNBOOK).name == "auth-service-outage"


def test_healthy_service_no_known_cause_changes_nothing(tree: Any, apps: client.AppsV1Api, flags_file: Path) -> None:
    code, doc = tree()
    assert code == 0, doc
    taken(doc, "no-known-cause")
    decided = ran(doc)["decide"]["outputs"]
    assert decided == {"recent_deploy": False, "exhausted": False, "db_overloaded": False, "feature_suspected": False}
    assert state(apps) == (3, "registry.local/checkout:1.0") and flag_state(flags_file) == "ENABLED"
    assert said(doc, "announce").startswith("[INVESTIGATING] checkout is failing")
    assert "escalating to the on-call engineer" in said(doc, "no-known-cause")


def test_recent_deploy_is_rolled_back(tree: Any, apps: client.AppsV1Api, lab: LabCluster) -> None:
    patch = {
        "metadata": {"annotations": {"kubernetes.io/change-cause": "release 2.0"}},
        "spec": {"template": {"spec": {"containers": [{"name": "checkout", "image": "registry.local/checkout:2.0"}]}}},
    }
    apps.patch_namespaced_deployment(DEPLOYMENT, NS, patch)
    lab.wait_for_rollout(DEPLOYMENT, NS)
    code, doc = tree("cpu_busy_millicores=1")  # saturated too: the deploy is checked first
    assert code == 0, doc
    taken(doc, "deploy-identified", "roll-back", "deploy-mitigated")
    assert ran(doc)["deploys"]["outputs"]["cause"] == "release 2.0"
    assert "checkout revision 2 was deployed at 20" in said(doc, "deploy-identified")
    assert "(release 2.0): rolling it back" in said(doc, "deploy-identified")
    assert "checkout is back on revision 1" in said(doc, "deploy-mitigated")
    assert state(apps) == (3, "registry.local/checkout:1.0")
    # An old deployment is no suspect: the same revisions, with a window shorter than their age.
    time.sleep(1.1)
    code, doc = tree("recent_window=1s")
    assert code == 0 and ran(doc)["decide"]["outputs"]["recent_deploy"] is False


def test_exhausted_pods_are_scaled_up_within_the_maximum(tree: Any, apps: client.AppsV1Api) -> None:
    apps.patch_namespaced_deployment(DEPLOYMENT, NS, {"metadata": {"annotations": {"lab.fireline.dev/cpu-load": "1"}}})
    code, doc = tree("max_replicas=5")
    assert code == 0, doc
    taken(doc, "exhausted-identified", "scale-up", "exhausted-mitigated")
    assert ran(doc)["usage"]["outputs"]["cpu_max"] >= 1000
    assert state(apps) == (5, "registry.local/checkout:1.0")  # 3 x 2 = 6, capped at 5
    assert "pods are saturated" in said(doc, "exhausted-identified")
    assert "checkout scaled from 3 to 5 replicas" in said(doc, "exhausted-mitigated")


def test_overloaded_database_loses_its_idle_sessions_never_firelines(
    tree: Any, apps: client.AppsV1Api, pg: ThrowawayPostgres, flags_file: Path
) -> None:
    leaked = [psycopg.connect(pg.dsn("auth"), application_name="leaky-pool", autocommit=True) for _ in range(6)]
    try:
        code, doc = tree("db_busy_percent=5", "idle_minutes=0")  # 6 or more of 100 sessions: overloaded
        assert code == 0, doc
        taken(doc, "database-identified", "terminate-idle", "database-mitigated")
        terminated = ran(doc)["terminate-idle"]
        assert terminated["summary"] == "terminated 6 sessions"
        # The run's own session was idle too between its steps: never terminated.
        assert all("app=leaky-pool" in line for line in terminated["log"]), terminated["log"]
        assert "Terminated 6 idle sessions; watching." in said(doc, "database-mitigated")
        alive = int(pg.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'leaky-pool'", "auth"))
        assert alive == 0
    finally:
        for conn in leaked:
            conn.close()
    assert state(apps) == (3, "registry.local/checkout:1.0") and flag_state(flags_file) == "ENABLED"


def test_suspected_flag_is_turned_off(tree: Any, apps: client.AppsV1Api, flags_file: Path) -> None:
    code, doc = tree(f"suspect_flag={FLAG}")
    assert code == 0, doc
    taken(doc, "feature-identified", "disable-flag", "errors-after-flag", "flag-helped", "feature-mitigated")
    assert flag_state(flags_file) == "DISABLED"
    assert state(apps) == (3, "registry.local/checkout:1.0")
    assert "Feature flag new-login is suspected" in said(doc, "feature-identified")
    assert "Flag new-login is off and the errors stopped" in said(doc, "feature-mitigated")


def test_a_flag_that_was_not_the_cause_is_turned_back_on(tree: Any, lab: LabCluster, flags_file: Path) -> None:
    service = DemoServiceConfig(dsn="", cluster_url=lab.url, namespace=NS, deployment=DEPLOYMENT)
    for _ in range(3):  # the service keeps failing, flag or no flag
        report_request(service, "ERROR", "GET /login 503: upstream timeout", time.monotonic())
    code, doc = tree(f"suspect_flag={FLAG}")
    assert code == 1, doc
    assert doc["failed_step"] == "flag-helped"
    assert ran(doc)["errors-after-flag"]["outputs"]["errors"] == 3
    assert flag_state(flags_file) == "ENABLED"  # restored by the step's rollback


def test_plan_of_a_healthy_service_follows_the_default_path(tree: Any, apps: client.AppsV1Api) -> None:
    started = time.monotonic()
    code, doc = tree(command="plan")
    assert code == 0, doc
    planned = [step["id"] for step in doc["steps"]]
    assert planned == [*COMMON[1:], "no-known-cause"], planned
    assert time.monotonic() - started < 10
    assert state(apps) == (3, "registry.local/checkout:1.0")
