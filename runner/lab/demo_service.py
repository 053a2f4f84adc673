"""The lab's demo service: a tiny "checkout" HTTP service whose health really depends on PostgreSQL (and,
optionally, on its lab deployment being available), so that faults cause a real, observable outage and
mitigations really end it.

GET /health → 200 {"status": "ok"} when a fresh connection and `SELECT 1` succeed within the timeouts,
503 {"status": "error", "error": ...} otherwise. Each request opens its own connection, as a service with
an exhausted pool would have to.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DemoServiceConfig:
    dsn: str
    db_timeout: float = 1.0
    # When set, /health also needs the lab deployment to be Available (a bad rollout takes checkout down).
    cluster_url: str | None = None
    namespace: str = "demo"
    deployment: str = "checkout"


def check_database(config: DemoServiceConfig) -> str | None:
    import psycopg

    try:
        with psycopg.connect(
            config.dsn, connect_timeout=max(1, int(config.db_timeout)), application_name="checkout"
        ) as conn:
            conn.execute(f"SET statement_timeout = {int(config.db_timeout * 1000)}")
            conn.execute("SELECT 1").fetchone()
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return None


def check_deployment(config: DemoServiceConfig) -> str | None:
    if not config.cluster_url:
        return None
    url = f"{config.cluster_url}/apis/apps/v1/namespaces/{config.namespace}/deployments/{config.deployment}"
    try:
        with urllib.request.urlopen(url, timeout=config.db_timeout) as response:
            dep = json.loads(response.read())
    except OSError as exc:
        return f"cluster unreachable: {exc}"
    conditions = {c.get("type"): c for c in dep.get("status", {}).get("conditions", [])}
    available = conditions.get("Available", {}).get("status") == "True"
    ready = int(dep.get("status", {}).get("readyReplicas") or 0)
    if not available or ready == 0:
        return f"deployment {config.deployment} not available ({ready} ready)"
    return None


def report_request(config: DemoServiceConfig, level: str, what: str, started: float) -> None:
    """Tell the lab what was answered: it becomes a line of one of the deployment's pods' logs, so
    `kubectl logs deploy/checkout` shows the service's requests and errors. Sent after the answer, and a lab
    that cannot be told never slows or fails a request."""
    if not config.cluster_url:
        return
    from runner.lab.k8s.logs import line

    took = f"{(time.monotonic() - started) * 1000:.0f}ms"
    text = line(level, f"{what} ({took})" if level == "ERROR" else f"{what} {took}")
    url = f"{config.cluster_url}/lab/v1/namespaces/{config.namespace}/deployments/{config.deployment}/requests"
    request = urllib.request.Request(
        url, json.dumps({"lines": [text]}).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=config.db_timeout):
            pass
    except OSError:
        pass


def _handler(config: DemoServiceConfig) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # health checks would flood the terminal
            pass

        def do_GET(self) -> None:
            started = time.monotonic()
            if self.path != "/health":
                self._send(404, {"error": "not found"})
                report_request(config, "WARN", f"GET {self.path[:200]} 404", started)
                return
            problem = check_database(config) or check_deployment(config)
            self._send(503 if problem else 200, {"status": "error", "error": problem} if problem else {"status": "ok"})
            if problem:
                report_request(config, "ERROR", f"GET /health 503: {problem}", started)
            else:
                report_request(config, "INFO", "GET /health 200", started)

        def _send(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A prober that timed out and hung up is normal during an outage, not worth a traceback.
        pass


class DemoService:
    def __init__(self, config: DemoServiceConfig, port: int = 0) -> None:
        self.config = config
        self._server = _QuietServer(("127.0.0.1", port), _handler(config))
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-service", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> DemoService:
        self._thread.start()
        self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 15.0) -> None:
        """The first request imports the database driver; do it now, not during the first probe."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                return  # the steady-state check will say what is wrong
            time.sleep(0.1)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> DemoService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
