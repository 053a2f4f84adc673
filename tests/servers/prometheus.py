"""A test-controlled metrics exporter plus real Prometheus and Alertmanager servers on loopback.

    with MetricsExporter() as exporter, start_alertmanager(tmp_path) as am, start_prometheus(
        tmp_path, [exporter.target], rule_files_content=RULES, alertmanager_url=am.url
    ) as prom:
        exporter.set("http_requests_errors_total", 5, labels={"service": "checkout"})
        ...

Scrape and rule evaluation run every second, so "for: 1s" alerts fire within a few seconds.
"""

from __future__ import annotations

import shutil
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from ._http import get_json, request_json
from ._process import ManagedProcess
from .ports import LOOPBACK, ServerNotReady, free_port, wait_for_http

PROMETHEUS_BIN = "/usr/bin/prometheus"
ALERTMANAGER_BIN = "/usr/bin/prometheus-alertmanager"

LabelKey = tuple[tuple[str, str], ...]


# -- exporter ---------------------------------------------------------------------------------------------
def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _format_value(value: float) -> str:
    if value != value:  # NaN
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class _Family:
    def __init__(self, kind: str, help_text: str) -> None:
        self.kind = kind
        self.help = help_text
        self.samples: dict[LabelKey, float] = {}


class MetricsExporter:
    """An HTTP server (stdlib, own thread) that serves `/metrics` from values the test sets.

    Thread-safe: the test thread mutates while Prometheus scrapes. `scrape_count` counts GET /metrics,
    so a test can wait until Prometheus has seen a new value (`wait_for_scrapes`).
    """

    def __init__(self, host: str = LOOPBACK, port: int | None = None) -> None:
        self.host = host
        self._requested_port = port
        self._lock = threading.Lock()
        self._families: dict[str, _Family] = {}
        self._scrapes = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # values
    def set(
        self,
        name: str,
        value: float,
        labels: Mapping[str, str] | None = None,
        *,
        kind: str | None = None,
        help: str = "",  # the exposition format calls it HELP
    ) -> None:
        """Set a sample. `kind` defaults to counter for names ending in _total, gauge otherwise."""
        key: LabelKey = tuple(sorted((labels or {}).items()))
        with self._lock:
            family = self._families.get(name)
            if family is None:
                family = _Family(kind or ("counter" if name.endswith("_total") else "gauge"), help)
                self._families[name] = family
            family.samples[key] = float(value)

    def inc(self, name: str, amount: float = 1.0, labels: Mapping[str, str] | None = None) -> float:
        key: LabelKey = tuple(sorted((labels or {}).items()))
        with self._lock:
            current = self._families[name].samples.get(key, 0.0) if name in self._families else 0.0
        self.set(name, current + amount, labels)
        return current + amount

    def remove(self, name: str, labels: Mapping[str, str] | None = None) -> None:
        """Drop one sample (or the whole metric if labels is None): Prometheus then marks it stale."""
        with self._lock:
            if labels is None:
                self._families.pop(name, None)
            elif name in self._families:
                self._families[name].samples.pop(tuple(sorted(labels.items())), None)

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            for name in sorted(self._families):
                family = self._families[name]
                if family.help:
                    lines.append(f"# HELP {name} {family.help}")
                lines.append(f"# TYPE {name} {family.kind}")
                for key, value in sorted(family.samples.items()):
                    label_text = ",".join(f'{k}="{_escape_label(v)}"' for k, v in key)
                    selector = f"{name}{{{label_text}}}" if label_text else name
                    lines.append(f"{selector} {_format_value(value)}")
        return "\n".join(lines) + "\n"

    @property
    def scrape_count(self) -> int:
        with self._lock:
            return self._scrapes

    def wait_for_scrapes(self, n: int = 1, timeout: float = 10.0) -> None:
        """Block until `n` more scrapes happened: the current values are then in Prometheus."""
        target = self.scrape_count + n
        deadline = time.monotonic() + timeout
        while self.scrape_count < target:
            if time.monotonic() > deadline:
                raise TimeoutError(f"exporter not scraped {n} more time(s) within {timeout}s")
            time.sleep(0.05)

    # server
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("exporter not started")
        return int(self._server.server_address[1])

    @property
    def target(self) -> str:
        """`host:port`, the form Prometheus' static_configs want."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.target}/metrics"

    def start(self) -> MetricsExporter:
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] != "/metrics":
                    self.send_error(404)
                    return
                body = exporter.render().encode()
                with exporter._lock:
                    exporter._scrapes += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # one line per scrape per second would drown pytest's captured output

        # Port 0 lets the kernel pick atomically: no free_port() race for an in-process server.
        self._server = ThreadingHTTPServer((self.host, self._requested_port or 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics-exporter", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> MetricsExporter:
        return self.start() if self._server is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# -- servers -----------------------------------------------------------------------------------------------
class _Daemon:
    """A real server binary on a loopback port, stopped on exit."""

    kind = "server"

    def __init__(self, directory: Path, port: int, process: ManagedProcess) -> None:
        self.directory = directory
        self.port = port
        self.host = LOOPBACK
        self.process = process

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    def stop(self) -> None:
        self.process.stop()

    def __enter__(self) -> Any:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _start_daemon(
    argv_for_port: Callable[[int], list[str]],
    directory: Path,
    ready_path: str,
    timeout: float,
    name: str,
) -> tuple[int, ManagedProcess]:
    """Start a server on a fresh free port and wait for `ready_path`; retry on a lost port race."""
    last_error = ""
    for _attempt in range(3):
        port = free_port()
        proc = ManagedProcess(argv_for_port(port), directory / f"{name}.log", cwd=directory)
        try:
            wait_for_http(f"http://{LOOPBACK}:{port}{ready_path}", timeout, alive=proc.alive)
            return port, proc
        except BaseException as err:
            proc.stop()
            last_error = f"{err}\n{proc.log_tail()}"
            if not isinstance(err, ServerNotReady) or "address already in use" not in last_error:
                raise ServerNotReady(f"{name} did not start: {last_error}") from None
    raise ServerNotReady(f"{name} did not start: {last_error}")


class PrometheusServer(_Daemon):
    kind = "prometheus"

    def __init__(self, directory: Path, port: int, process: ManagedProcess, config_path: Path) -> None:
        super().__init__(directory, port, process)
        self.config_path = config_path

    def __enter__(self) -> PrometheusServer:
        return self

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; returns the `result` vector."""
        qs = urllib.parse.urlencode({"query": expr})
        answer = get_json(f"{self.url}/api/v1/query?{qs}")
        return list(answer["data"]["result"])

    def alerts(self) -> list[dict[str, Any]]:
        """Prometheus' own view of alerts (pending and firing)."""
        return list(get_json(f"{self.url}/api/v1/alerts")["data"]["alerts"])

    def targets(self) -> list[dict[str, Any]]:
        return list(get_json(f"{self.url}/api/v1/targets")["data"]["activeTargets"])

    def wait_for_targets_up(self, timeout: float = 15.0) -> None:
        """Block until every scrape target has been scraped successfully at least once."""
        deadline = time.monotonic() + timeout
        while True:
            targets = self.targets()
            if targets and all(t["health"] == "up" for t in targets):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"targets not all up after {timeout}s: {targets}")
            time.sleep(0.1)

    def reload(self) -> None:
        """Re-read config and rule files (after a test rewrote them); needs --web.enable-lifecycle."""
        request_json("POST", f"{self.url}/-/reload")


class AlertmanagerServer(_Daemon):
    kind = "alertmanager"

    def __init__(self, directory: Path, port: int, process: ManagedProcess, config_path: Path) -> None:
        super().__init__(directory, port, process)
        self.config_path = config_path

    def __enter__(self) -> AlertmanagerServer:
        return self

    def alerts(
        self, active: bool = True, silenced: bool = True, inhibited: bool = True
    ) -> list[dict[str, Any]]:
        """GET /api/v2/alerts (Alertmanager only lists alerts that have not ended)."""
        flags = {"active": active, "silenced": silenced, "inhibited": inhibited}
        qs = urllib.parse.urlencode({k: str(v).lower() for k, v in flags.items()})
        return list(get_json(f"{self.url}/api/v2/alerts?{qs}"))

    def firing(self, alertname: str) -> list[dict[str, Any]]:
        """Active (state "active", i.e. firing and neither silenced nor inhibited) alerts of that name."""
        return [
            a
            for a in self.alerts()
            if a["labels"].get("alertname") == alertname and a["status"]["state"] == "active"
        ]


def _require(binary: str) -> None:
    if shutil.which(binary) is None:
        raise FileNotFoundError(f"{binary} not installed (run .ci/install-servers.sh)")


def start_prometheus(
    workdir: Path,
    scrape_targets: Sequence[str],
    rule_files_content: str | None = None,
    alertmanager_url: str | None = None,
    *,
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
    timeout: float = 30.0,
) -> PrometheusServer:
    """Run /usr/bin/prometheus in `workdir/prometheus`, scraping `scrape_targets` ("host:port").

    `rule_files_content` is written to rules.yml verbatim (a full rule file: `groups: [...]`).
    `alertmanager_url` (e.g. AlertmanagerServer.url) is where firing/resolved alerts are pushed.
    Returns once /-/ready answers 200. The job is called "fireline-test".
    """
    _require(PROMETHEUS_BIN)
    directory = Path(workdir).resolve() / "prometheus"
    directory.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": scrape_interval,
            "scrape_timeout": scrape_interval,  # must not exceed the interval
            "evaluation_interval": evaluation_interval,
        },
        "scrape_configs": [
            {"job_name": "fireline-test", "static_configs": [{"targets": list(scrape_targets)}]}
        ],
    }
    if rule_files_content is not None:
        rules_path = directory / "rules.yml"
        rules_path.write_text(rule_files_content)
        config["rule_files"] = [str(rules_path)]
    if alertmanager_url is not None:
        parsed = urllib.parse.urlsplit(alertmanager_url)
        config["alerting"] = {
            "alertmanagers": [
                {
                    "scheme": parsed.scheme or "http",
                    "path_prefix": parsed.path or "/",
                    "api_version": "v2",
                    "timeout": "2s",
                    "static_configs": [{"targets": [parsed.netloc]}],
                }
            ]
        }
    config_path = directory / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    data_dir = directory / "data"

    def argv(port: int) -> list[str]:
        return [
            PROMETHEUS_BIN,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={data_dir}",
            f"--web.listen-address={LOOPBACK}:{port}",
            # Lets tests POST /-/reload after rewriting rules instead of restarting.
            "--web.enable-lifecycle",
        ]

    port, proc = _start_daemon(argv, directory, "/-/ready", timeout, "prometheus")
    return PrometheusServer(directory, port, proc, config_path)


def start_alertmanager(
    workdir: Path,
    *,
    webhook_url: str | None = None,
    resolve_timeout: str = "5s",
    timeout: float = 30.0,
) -> AlertmanagerServer:
    """Run /usr/bin/prometheus-alertmanager in `workdir/alertmanager`, standalone (no gossip).

    Routing notifies at once (group_wait 0s, group_interval 1s); `webhook_url`, if given, receives
    the notifications (Alertmanager webhook JSON), otherwise they go to a receiver with no target.
    """
    _require(ALERTMANAGER_BIN)
    directory = Path(workdir).resolve() / "alertmanager"
    directory.mkdir(parents=True, exist_ok=True)
    receiver: dict[str, Any] = {"name": "test"}
    if webhook_url is not None:
        receiver["webhook_configs"] = [{"url": webhook_url, "send_resolved": True}]
    config = {
        "global": {"resolve_timeout": resolve_timeout},
        "route": {
            "receiver": "test",
            "group_by": ["alertname"],
            "group_wait": "0s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [receiver],
    }
    config_path = directory / "alertmanager.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    data_dir = directory / "data"

    def argv(port: int) -> list[str]:
        return [
            ALERTMANAGER_BIN,
            f"--config.file={config_path}",
            f"--storage.path={data_dir}",
            f"--web.listen-address={LOOPBACK}:{port}",
            # Empty address disables the HA gossip mesh: otherwise it binds 0.0.0.0:9094 (shared,
            # non-loopback) and waits for peers before it is ready.
            "--cluster.listen-address=",
        ]

    port, proc = _start_daemon(argv, directory, "/-/ready", timeout, "alertmanager")
    return AlertmanagerServer(directory, port, proc, config_path)
