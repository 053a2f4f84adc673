"""Each fault against the real system it breaks, and its revert: the system is back afterwards, and a second
revert (what `recover` may do) is harmless."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import psycopg
import pytest

from runner.actions.base import ActionContext
from runner.actions.faults import FAULTS
from runner.document.gameday_model import Fault
from runner.testing import StaticConnections
from tests.gameday.conftest import DEPLOYMENT, NAMESPACE, Lab, apps_api, backends, wait_for
from tests.servers import start_sshd


def _ctx(settings: dict[str, dict[str, Any]]) -> ActionContext:
    return ActionContext("fault", StaticConnections(settings), deadline=time.monotonic() + 60)


def _inject_and_revert(fault: Fault, settings: dict[str, dict[str, Any]]) -> tuple[Any, Any]:
    recorded: list[Any] = []
    kind = FAULTS[fault.action]
    state = kind.inject(fault, fault.params, _ctx(settings), recorded.append)
    assert recorded, "a fault must record what its revert needs before it changes anything"
    return state, lambda: kind.revert(fault, fault.params, state, _ctx(settings))


def test_lock_table_blocks_writers_until_reverted(lab: Lab) -> None:
    with psycopg.connect(lab.primary_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS orders (id int)")
    fault = Fault("lock", "postgres.lock_table", {"connection": "db", "table": "orders"}, None, None)
    _, revert = _inject_and_revert(fault, {"db": {"type": "postgres", "dsn": lab.primary_dsn}})
    try:
        with psycopg.connect(lab.primary_dsn, autocommit=True) as writer:
            writer.execute("SET lock_timeout = '200ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                writer.execute("INSERT INTO orders VALUES (1)")
    finally:
        revert()
    with psycopg.connect(lab.primary_dsn, autocommit=True) as writer:
        writer.execute("SET lock_timeout = '2s'")
        writer.execute("INSERT INTO orders VALUES (1)")  # the lock is gone
        writer.execute("DROP TABLE orders")
    revert()  # idempotent
    assert backends(lab.primary_dsn, "fireline-fault-lock") == 0


def test_terminate_backends_fault(lab: Lab) -> None:
    victims = [psycopg.connect(lab.primary_dsn, autocommit=True, application_name="batch-worker") for _ in range(3)]
    try:
        fault = Fault("kill", "postgres.terminate_backends",
                      {"connection": "db", "application_name": "batch-worker"}, None, None)
        state, revert = _inject_and_revert(fault, {"db": {"type": "postgres", "dsn": lab.primary_dsn}})
        assert state["count"] == 3
        wait_for(lambda: backends(lab.primary_dsn, "batch-worker") == 0, "the workers to be terminated")
        assert "nothing to revert" in revert()
    finally:
        for conn in victims:
            with contextlib.suppress(Exception):
                conn.close()


def test_scale_to_zero_and_back(lab: Lab) -> None:
    settings = {"cluster": {"type": "kubernetes", "kubeconfig": lab.kubeconfig, "namespace": NAMESPACE}}
    fault = Fault("zero", "kubernetes.scale", {"connection": "cluster", "deployment": DEPLOYMENT, "replicas": 0},
                  None, None)
    state, revert = _inject_and_revert(fault, settings)
    assert state == {"before": 3}
    assert apps_api(lab.kubeconfig).read_namespaced_deployment_scale(DEPLOYMENT, NAMESPACE).spec.replicas == 0
    wait_for(lambda: _health(lab) == 503, "checkout to go down with no replicas")
    revert()
    revert()  # idempotent: already at 3
    assert apps_api(lab.kubeconfig).read_namespaced_deployment_scale(DEPLOYMENT, NAMESPACE).spec.replicas == 3
    wait_for(lambda: _health(lab) == 200, "checkout to come back")


def test_delete_pods_are_replaced(lab: Lab) -> None:
    from kubernetes import client

    core = client.CoreV1Api(apps_api(lab.kubeconfig).api_client)
    before = {p.metadata.name for p in core.list_namespaced_pod(NAMESPACE, label_selector="app=checkout").items}
    settings = {"cluster": {"type": "kubernetes", "kubeconfig": lab.kubeconfig, "namespace": NAMESPACE}}
    fault = Fault("chaos-monkey", "kubernetes.delete_pods",
                  {"connection": "cluster", "selector": "app=checkout", "count": 1}, None, None)
    state, revert = _inject_and_revert(fault, settings)
    [deleted] = state["deleted"]
    assert deleted in before
    revert()

    def replaced() -> bool:
        pods = core.list_namespaced_pod(NAMESPACE, label_selector="app=checkout").items
        ready = [p for p in pods if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]
        return deleted not in {p.metadata.name for p in pods} and len(ready) == 3

    wait_for(replaced, "the controller to replace the deleted pod", timeout=30)


def test_ssh_fault_runs_its_declared_revert(tmp_path) -> None:
    marker = tmp_path / "maintenance-mode"
    with start_sshd(tmp_path / "ssh", count=2) as fleet:
        settings = {"fleet": {"type": "ssh", "hosts": fleet.aliases, "ssh_config": str(fleet.ssh_config_path)}}
        fault = Fault("maintenance", "ssh.run", {"connection": "fleet", "argv": ["touch", str(marker)]},
                      {"argv": ["rm", "-f", str(marker)]}, None)
        state, revert = _inject_and_revert(fault, settings)
        assert state["ok"] == 2 and marker.exists()
        revert()
        assert not marker.exists()
        revert()  # rm -f: harmless twice


def _health(lab: Lab) -> int:
    from tests.gameday.conftest import health

    return health(lab.service_url)



def test_hold_connections_revert_waits_for_the_slots_the_server_has_not_freed_yet(lab: Lab) -> None:
    """The revert connects once more right after closing the held connections; the server frees their slots a
    moment later, so that connection may be refused as "too many clients" at first. It is tried again."""
    import threading

    settings = {"db": {"type": "postgres", "dsn": lab.primary_dsn}}
    fault = Fault("leak", "postgres.hold_connections", {"connection": "db"}, None, None)
    state, revert = _inject_and_revert(fault, settings)
    assert state["held"] > 0 and state["refused"], "the fault fills every slot the server offers"
    # Other clients hold the slots that free up when the fault lets go, and let go of them a moment later.
    others: list[psycopg.Connection[Any]] = []
    freed = threading.Event()

    def take_freed_slots_then_leave() -> None:
        deadline = time.monotonic() + 20
        while not freed.is_set() and time.monotonic() < deadline:
            with contextlib.suppress(psycopg.OperationalError):
                others.append(psycopg.connect(lab.primary_dsn, autocommit=True, connect_timeout=2))
        time.sleep(0.5)
        for conn in others:
            conn.close()

    from runner.actions import faults

    closing = faults._release

    def release_and_let_others_in(key: str) -> int:
        closed = closing(key)
        wait_for(lambda: len(others) >= closed, "other clients to take the freed slots", timeout=20)
        freed.set()
        return closed

    taker = threading.Thread(target=take_freed_slots_then_leave)
    taker.start()
    try:
        faults._release = release_and_let_others_in  # type: ignore[assignment]
        message = revert()
    finally:
        faults._release = closing  # type: ignore[assignment]
        freed.set()
        taker.join()
    assert message.startswith("closed ")
    assert backends(lab.primary_dsn, "fireline-fault-leak") == 0
