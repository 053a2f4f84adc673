"""Smoke tests for tests/servers: each helper starts a REAL server and we prove it does its job.

These are deliberately end-to-end: a broken sshd config, a rule that never fires, or an Unleash that
ignores its tokens must make them fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers._http import HttpError, request_json
from tests.servers.ports import free_port, wait_for_http, wait_for_port
from tests.servers.prometheus import MetricsExporter, start_alertmanager, start_prometheus
from tests.servers.sshd import start_sshd
from tests.servers.unleash import UnleashServer, start_unleash


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _eventually(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


# -- ports -------------------------------------------------------------------------------------------------
def test_free_port_and_waits() -> None:
    port = free_port()
    assert 1024 < port < 65536
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))  # really free: we can bind it
        server.listen()
        wait_for_port("127.0.0.1", port, timeout=2)
    with pytest.raises(RuntimeError):
        wait_for_http(f"http://127.0.0.1:{free_port()}/", timeout=0.3)


# -- sshd --------------------------------------------------------------------------------------------------
def test_sshd_runs_commands_through_real_ssh_client(tmp_path: Path) -> None:
    with start_sshd(tmp_path, count=3) as fleet:
        assert len(fleet.hosts) == 3
        assert len({port for _, port in fleet.hosts}) == 3
        assert all(host == "127.0.0.1" for host, _ in fleet.hosts)
        known = fleet.known_hosts_path.read_text().splitlines()
        assert [line.split()[0] for line in known] == [f"[127.0.0.1]:{p}" for _, p in fleet.hosts]
        assert all(line.split()[1] == "ssh-ed25519" for line in known)

        # The exact command from the brief, through the generated ssh_config.
        subprocess.run(
            ["ssh", "-F", str(fleet.ssh_config_path), "web-1", "true"], check=True, timeout=30
        )
        for alias in fleet.aliases:
            result = fleet.run(alias, f"echo hello-from-{alias}; id -un; exit 7")
            assert result.returncode == 7, result.stderr  # remote exit status comes back
            assert result.stdout.split() == [f"hello-from-{alias}", fleet.user]

        # Host and port from `hosts`, without the ssh_config aliases (what a library like fabric uses).
        host, port = fleet.hosts[1]
        out = subprocess.run(
            [
                "ssh", "-p", str(port), "-i", str(fleet.client_key_path), "-o", "IdentitiesOnly=yes",
                "-o", f"UserKnownHostsFile={fleet.known_hosts_path}", "-o", "StrictHostKeyChecking=yes",
                "-o", "BatchMode=yes", f"{fleet.user}@{host}", "echo $((6 * 7))",
            ],
            capture_output=True, text=True, timeout=30, check=True,
        )
        assert out.stdout.strip() == "42"

        # Auth is real: a key that is not in authorized_keys is refused.
        stranger = tmp_path / "stranger_key"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True, timeout=30
        )
        denied = subprocess.run(
            [
                "ssh", "-F", "/dev/null", "-p", str(port), "-i", str(stranger), "-o", "IdentitiesOnly=yes",
                "-o", f"UserKnownHostsFile={fleet.known_hosts_path}", "-o", "BatchMode=yes",
                f"{fleet.user}@{host}", "true",
            ],
            capture_output=True, text=True, timeout=30, check=False,
        )
        assert denied.returncode == 255
        assert "Permission denied" in denied.stderr
        ports = [p for _, p in fleet.hosts]
        pids = [s.process.pid for s in fleet.servers if s.process is not None]
    assert not any(_listening(p) for p in ports)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_sshd_twenty_instances_start_fast(tmp_path: Path) -> None:
    started = time.monotonic()
    with start_sshd(tmp_path, count=20) as fleet:
        elapsed = time.monotonic() - started
        assert len(fleet.servers) == 20
        assert elapsed < 10, f"20 sshd took {elapsed:.1f}s to start"
        procs = {
            alias: subprocess.Popen(
                fleet.ssh_argv(alias, "echo", alias), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, stdin=subprocess.DEVNULL,
            )
            for alias in ("web-1", "web-10", "web-20")
        }
        for alias, proc in procs.items():
            out, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, err
            assert out.strip() == alias
    assert not any(_listening(p) for _, p in fleet.hosts)


# -- prometheus + alertmanager ------------------------------------------------------------------------------
RULES = """
groups:
  - name: fireline-smoke
    rules:
      - alert: CheckoutErrorsHigh
        expr: http_requests_errors_total{service="checkout"} > 10
        for: 1s
        labels:
          severity: page
        annotations:
          summary: checkout is failing
"""


def test_alert_fires_and_clears_in_alertmanager(tmp_path: Path) -> None:
    labels = {"service": "checkout"}
    with (
        MetricsExporter() as exporter,
        start_alertmanager(tmp_path) as alertmanager,
        start_prometheus(
            tmp_path, [exporter.target], rule_files_content=RULES, alertmanager_url=alertmanager.url
        ) as prometheus,
    ):
        exporter.set("http_requests_errors_total", 5, labels=labels)
        exporter.set("queue_depth", 3)
        # Prometheus 2.42 applies new scrape targets on a fixed 5 s tick: most of this test's time.
        prometheus.wait_for_targets_up(timeout=20)
        _eventually(lambda: prometheus.query("queue_depth"), 10, "queue_depth scraped")
        assert prometheus.query("queue_depth")[0]["value"][1] == "3"
        assert alertmanager.alerts() == []

        exporter.set("http_requests_errors_total", 15, labels=labels)
        firing = _eventually(lambda: alertmanager.firing("CheckoutErrorsHigh"), 20, "alert firing")
        assert firing[0]["labels"]["severity"] == "page"
        assert firing[0]["labels"]["service"] == "checkout"
        assert firing[0]["annotations"]["summary"] == "checkout is failing"

        exporter.set("http_requests_errors_total", 5, labels=labels)
        _eventually(lambda: not alertmanager.alerts(), 20, "alert cleared")
        assert not [a for a in prometheus.alerts() if a["state"] == "firing"]
        ports = [prometheus.port, alertmanager.port, exporter.port]
    assert not any(_listening(p) for p in ports)


# -- unleash -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def postgres_dsn() -> Iterator[str]:
    from runner.lab.postgres import ThrowawayPostgres

    # Not pytest's tmp_path: the server runs as the `postgres` user when we are root, and
    # /tmp/pytest-of-root is 0700, so the cluster lives in its own /tmp dir (removed afterwards).
    base = Path(tempfile.mkdtemp(prefix="fireline-pg-"))
    try:
        with ThrowawayPostgres(base / "pg") as pg:
            yield pg.create_database("unleash")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _client_flag(unleash: UnleashServer, name: str, enabled: bool) -> dict[str, Any] | None:
    """The flag as the client API shows it, if it is there with that `enabled` state."""
    for flag in unleash.client_features()["features"]:
        if flag["name"] == name and flag["enabled"] is enabled:
            return dict(flag)
    return None


@pytest.mark.slow
def test_unleash_flag_round_trip(tmp_path: Path, postgres_dsn: str) -> None:
    with start_unleash(tmp_path, postgres_dsn) as unleash:
        print(f"unleash startup: {unleash.startup_seconds:.1f}s")
        assert unleash.url.startswith("http://127.0.0.1:")

        # The admin API must demand a token (auth type is not "none").
        with pytest.raises(HttpError) as no_token:
            request_json("GET", unleash.url + "/api/admin/projects/default/features")
        assert no_token.value.status == 401
        # A client token cannot do admin things either.
        with pytest.raises(HttpError) as wrong_token:
            request_json(
                "GET",
                unleash.url + "/api/admin/projects/default/features",
                headers={"Authorization": unleash.client_token},
            )
        assert wrong_token.value.status in (401, 403)

        created = unleash.admin(
            "POST",
            "/api/admin/projects/default/features",
            {"name": "fireline.smoke-flag", "type": "kill-switch", "description": "smoke test"},
        )
        assert created["name"] == "fireline.smoke-flag"

        # Not yet enabled: an application sees it, disabled. The client API serves a cached
        # revision that Unleash refreshes on a timer, so an application (like us) polls.
        _eventually(lambda: _client_flag(unleash, "fireline.smoke-flag", enabled=False), 15, "flag visible")

        unleash.admin(
            "POST", "/api/admin/projects/default/features/fireline.smoke-flag/environments/development/on"
        )
        flag = _eventually(lambda: _client_flag(unleash, "fireline.smoke-flag", enabled=True), 15, "flag on")
        assert flag["type"] == "kill-switch"
        # Enabling with no strategy gives it Unleash's default (100% rollout) so SDKs evaluate it on.
        assert flag["strategies"], flag

        unleash.admin(
            "POST", "/api/admin/projects/default/features/fireline.smoke-flag/environments/development/off"
        )
        _eventually(lambda: _client_flag(unleash, "fireline.smoke-flag", enabled=False), 15, "flag off")
        port = unleash.port
    assert not _listening(port)
