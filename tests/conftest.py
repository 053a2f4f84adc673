"""Shared fixtures: an isolated FIRELINE_HOME for every test, a real throwaway PostgreSQL, a local HTTP
server, and a helper that runs the CLI in-process and captures what the user saw."""

from __future__ import annotations

import http.server
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest

# Every action's result is checked against the shape the action declares (runner/actions/results.py), here
# and in every fireline process the tests start: each action test is a conformance test too. Set before
# anything imports the engine, which reads the switch once.
os.environ["FIRELINE_CHECK_RESULTS"] = "1"

from runner.lab.postgres import ThrowawayPostgres

REPO = Path(__file__).resolve().parent.parent
T = TypeVar("T")


@pytest.fixture(autouse=True)
def fireline_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "fireline-home"
    monkeypatch.setenv("FIRELINE_HOME", str(home))
    monkeypatch.setenv("FIRELINE_ACTOR", "responder")
    monkeypatch.delenv("CI", raising=False)
    return home


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrowawayPostgres]:
    with ThrowawayPostgres(tmp_path_factory.mktemp("pg")) as server:
        yield server


@pytest.fixture
def pg_db(postgres: ThrowawayPostgres, request: pytest.FixtureRequest) -> str:
    """A fresh database per test; returns its DSN."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    postgres.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return postgres.create_database(name)


@dataclass
class Cli:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    """Run `fireline ARGS` in-process; returns exit code and captured output."""
    from runner.cli import main

    def invoke(*args: str) -> Cli:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Cli(code, captured.out, captured.err)

    return invoke


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, str]]] = {}
    received: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self.received.append({"method": self.command, "path": self.path, "body": body, "headers": dict(self.headers)})
        status, text = self.routes.get(self.path, (404, "not found"))
        payload = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if text[:1] in "{[" else "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _answer


@dataclass
class HttpServer:
    url: str
    routes: dict[str, tuple[int, str]]
    received: list[dict[str, Any]]


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    handler = type("Handler", (_Handler,), {"routes": {}, "received": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HttpServer(f"http://127.0.0.1:{server.server_address[1]}", handler.routes, handler.received)
    finally:
        server.shutdown()
        server.server_close()


def wait_for(check: Callable[[], T], what: str, timeout: float = 15.0, every: float = 0.02) -> T:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T = check()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
        time.sleep(every)
        last = check()
    return last


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
