"""The demo environment: a throwaway PostgreSQL, the emulated Kubernetes cluster and the checkout demo
service, wired together and torn down as one. Used by `fireline demo` and the game-day tests."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from runner.lab.demo_service import DemoService, DemoServiceConfig
from runner.lab.postgres import ThrowawayPostgres

APP_ROLE = "checkout"
# Small, so that a leaking pool exhausts it in a fraction of a second; 3 of them stay reserved for
# superusers, which is how the responder (and fireline) still get in during the outage.
MAX_CONNECTIONS = 20


@dataclass(frozen=True)
class LabEndpoints:
    primary_dsn: str  # superuser: responders, runbooks, reverts
    app_dsn: str  # the application's own role, which the leak exhausts
    service_url: str
    kubeconfig: str
    cluster_url: str

    def environment(self) -> dict[str, str]:
        """Environment variables the shipped scenarios and runbooks read their secrets and inputs from."""
        return {
            "PRIMARY_DSN": self.primary_dsn,
            "APP_DSN": self.app_dsn,
            "CHECKOUT_URL": self.service_url,
            "KUBECONFIG": self.kubeconfig,
        }


class DemoEnvironment:
    def __init__(self, base_dir: Path | None = None, time_scale: float = 0.05) -> None:
        self._owned = base_dir is None
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="fireline-lab-"))
        self.time_scale = time_scale
        self._stack = contextlib.ExitStack()
        self.endpoints: LabEndpoints | None = None

    def __enter__(self) -> LabEndpoints:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> LabEndpoints:
        from runner.lab.k8s import LabCluster, LabConfig

        pg = ThrowawayPostgres(self.base_dir / "postgres")
        pg.start(max_connections=MAX_CONNECTIONS)
        self._stack.callback(pg.stop)
        pg.psql(f"CREATE ROLE {APP_ROLE} LOGIN")
        pg.psql(f"CREATE DATABASE {APP_ROLE} OWNER {APP_ROLE}")
        cluster = LabCluster(
            LabConfig(state_dir=self.base_dir / "cluster", time_scale=self.time_scale, pod_ready_delay=1.0)
        )
        cluster.start()
        self._stack.callback(cluster.stop)
        cluster.wait_for_rollout("checkout", "demo", timeout=30)
        service = DemoService(DemoServiceConfig(dsn=pg.dsn(APP_ROLE, user=APP_ROLE), cluster_url=cluster.url))
        service.start()
        self._stack.callback(service.stop)
        self.endpoints = LabEndpoints(
            pg.dsn(APP_ROLE), pg.dsn(APP_ROLE, user=APP_ROLE), service.url, str(cluster.kubeconfig_path), cluster.url
        )
        return self.endpoints

    def stop(self) -> None:
        self._stack.close()
        if self._owned:
            shutil.rmtree(self.base_dir, ignore_errors=True)
