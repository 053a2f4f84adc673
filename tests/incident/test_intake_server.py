"""`fireline incident intake` as responders run it: a process on a port. Hostile requests get a 4xx with a
short reason and write nothing; a bearer token, when the policy asks for one, is required and never logged;
one log line per request; SIGTERM and SIGINT stop it with exit 0; with `run_reads`, the best runbook's
read-only steps run at once as a plan linked to the incident, after Alertmanager has its answer."""

from __future__ import annotations

import gzip
import http.client
import signal
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from runner.incident.timeline import collect, markdown, zone
from runner.journal.store import open_journal
from tests.conftest import wait_for, write
from tests.incident.documents import db_runbook
from tests.incident.intake_process import Intake
from tests.incident.test_intake import alert, notification


def _nothing_written() -> bool:
    journal = open_journal()
    try:
        return journal.all_runs() == []
    finally:
        journal.close()


def _chunked(url: str, size: int) -> int:
    """POST `size` bytes with chunked transfer encoding (no Content-Length to refuse it by)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    chunk = b"[" * 65536

    def body() -> Any:
        for _ in range(size // len(chunk)):
            yield chunk

    try:
        connection.request("POST", parts.path, body=body(), headers={"Content-Type": "application/json"},
                           encode_chunked=True)  # fmt: skip
        return connection.getresponse().status
    except (BrokenPipeError, ConnectionResetError):  # the server answered and closed while we still sent
        return 413
    finally:
        connection.close()


def test_hostile_requests_get_a_4xx_and_change_nothing(tmp_path: Path) -> None:
    with Intake(tmp_path) as server:
        too_many = notification(*[alert(instance=f"db-{n}") for n in range(501)])
        deep = b'{"version": "4", "alerts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        tried = [
            server.post(notification(), headers={"Content-Type": "text/plain"}),
            server.post(b"alertname=Foo"),
            server.post(b"\x00\xff"),
            server.post(deep),
            server.post(b" " * (1024 * 1024 + 1)),
            server.post({**notification(), "alerts": "all of them"}),
            server.post({**notification(), "version": "3"}),
            server.post(too_many),
            server.post([notification()]),  # type: ignore[arg-type]
            server.post(gzip.compress(b" " * 64 * 1024 * 1024), headers={"Content-Encoding": "gzip"}),
        ]
        assert [status for status, _ in tried] == [415, 400, 400, 400, 413, 400, 400, 413, 400, 415]
        assert tried[3][1] == {"error": "the JSON is nested too deeply"}
        assert all(len(answer["error"]) < 120 for _, answer in tried)
        assert _chunked(server.url, 2 * 1024 * 1024) == 413
        status, _ = server.post(notification(), url=server.url.replace("/alerts", "/elsewhere%0A2026%20forged%20200"))
        assert status == 404
        assert _nothing_written()
        assert server.post(notification()) == (200, {"outcome": "declared", "incident": _first_id()})
        with urllib.request.urlopen(server.url.replace("/alerts", "/healthz"), timeout=30) as health:
            assert health.status == 200  # for a load balancer's or Kubernetes' probe
        assert server.stop() == 0
    requests = [line for line in server.log().splitlines() if " POST /" in line]
    assert len(requests) == 13  # one line per request
    assert sum(1 for line in server.log().splitlines() if " GET /healthz 200" in line) == 1
    assert "Traceback" not in server.log()
    assert not any(line.startswith("2026 forged") for line in server.log().splitlines())  # one line, even so


def _first_id() -> str:
    from datetime import UTC, datetime

    return f"INC-{datetime.now(UTC).year}-001"


POLICY = """\
secrets:
  INTAKE_TOKEN: {from: env, name: TEST_INTAKE_TOKEN}
intake:
  token: {secret: INTAKE_TOKEN}
"""
TOKEN = "s3cret-intake-token-value"


@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_a_configured_token_is_required_and_never_logged(tmp_path: Path, stop_with: signal.Signals) -> None:
    write(tmp_path / "incident-policy.yaml", POLICY)
    with Intake(tmp_path, env={"TEST_INTAKE_TOKEN": TOKEN}) as server:
        for headers in ({}, {"Authorization": f"Basic {TOKEN}"}):
            status, answer = server.post(notification(), headers=headers)
            assert status == 401 and "a bearer token is required" in answer["error"]
        for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {TOKEN}x"}):
            status, answer = server.post(notification(), headers=headers)  # a typo in alertmanager.yml: said so
            assert status == 401 and "the bearer token is not the intake's token" in answer["error"]
        assert _nothing_written()
        status, answer = server.post(notification(), headers={"Authorization": f"Bearer {TOKEN}"})
        assert (status, answer["outcome"]) == (200, "declared")
        server.process.send_signal(stop_with)
        assert server.process.wait(timeout=30) == 0
    assert TOKEN not in server.log() and "401" in server.log()


def test_a_token_naming_no_secret_is_refused_where_it_is_written(tmp_path: Path, cli: Any) -> None:
    write(tmp_path / "p.yaml", "intake:\n  token: {secret: NOWHERE}\n")
    result = cli("incident", "intake", "--listen", "127.0.0.1:0", "--policy", str(tmp_path / "p.yaml"))
    assert result.code == 1 and "p.yaml:2:19: intake.token.secret: secret 'NOWHERE' is not defined" in result.err


def test_a_missing_token_value_stops_the_start(tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_INTAKE_TOKEN", raising=False)
    write(tmp_path / "p.yaml", POLICY)
    result = cli("incident", "intake", "--listen", "127.0.0.1:0", "--policy", str(tmp_path / "p.yaml"))
    assert result.code == 2 and "TEST_INTAKE_TOKEN" in result.err


def test_listen_must_be_host_and_port(cli: Any) -> None:
    result = cli("incident", "intake", "--listen", "nowhere")
    assert result.code == 2 and "HOST:PORT" in result.err


RUNBOOK = db_runbook(
    rest="""\
inputs:
  instance: {type: string, required: true}
steps:
  - id: count-connections
    name: Count connections
    action: shell.run
    read_only: true
    with: {argv: [echo, "connections on {{ inputs.instance }}: 95"]}
    outputs: {said: "{{ result.stdout | trim }}"}
  - id: restart
    action: shell.run
    with: {argv: ["false"]}
""",
)


def test_run_reads_plans_the_best_runbook_at_once(tmp_path: Path) -> None:
    write(tmp_path / "runbooks" / "db.yaml", RUNBOOK)
    write(tmp_path / "incident-policy.yaml", "intake:\n  runbooks: [runbooks]\n  run_reads: true\n")
    with Intake(tmp_path) as server:
        status, answer = server.post(notification())
        assert (status, answer["outcome"]) == (200, "declared")
        incident_id = answer["incident"]

        def planned() -> str:
            journal = open_journal()
            try:
                text = markdown(collect(journal, incident_id, zone(None)))
            finally:
                journal.close()
            return text if "plan done" in text else ""

        text = wait_for(planned, "the plan of the suggested runbook on the timeline", timeout=60)
        assert server.stop() == 0
    assert "suggested runbook db-connection-exhaustion" in text
    assert "linked plan" in text and "count-connections: read: ran (read-only): exit 0" in text
    assert "said = connections on db-1: 95" in text  # the read's output, on the incident's timeline
    assert "restart: would-change" in text and "plan done: 1 read, 1 would-change" in text  # only planned
    assert "planned runbook db-connection-exhaustion" in server.log()


def test_an_internal_error_is_a_500_without_details_and_logged_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real part fails this way on purpose: the decision is replaced by one that raises an error of fireline's
    own (a bug), whose message holds a secret."""
    import asyncio

    from aiohttp.test_utils import TestClient, TestServer

    from runner.incident import intake_server
    from runner.incident.intake import IntakeSettings
    from runner.secrets import Redactor

    redactor = Redactor()
    redactor.add("s3cret-in-the-error")
    lines: list[str] = []

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the store said s3cret-in-the-error")

    monkeypatch.setattr(intake_server.intake, "receive", broken)
    config = intake_server.Config(intake_server.Listen("127.0.0.1", 0), IntakeSettings(), redactor=redactor)

    async def post() -> tuple[int, str]:
        receiver = intake_server.Receiver(config, open_journal(), lines.append)
        async with TestClient(TestServer(intake_server.application(receiver))) as client:
            answer = await client.post("/alerts", json=notification())
            status, body = answer.status, await answer.text()
        await receiver.stop()
        return status, body

    status, body = asyncio.run(post())
    assert (status, body) == (500, '{"error": "internal error"}')
    log = "\n".join(lines)
    assert "RuntimeError: the store said ***" in log and "s3cret-in-the-error" not in log
    assert " POST /alerts 500 internal error" in log
    assert _nothing_written()


def test_a_port_in_use_is_said_plainly(cli: Any) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("incident", "intake", "--listen", f"127.0.0.1:{port}")
    assert result.code == 1 and f"cannot listen on 127.0.0.1:{port}" in result.err
    assert "Traceback" not in result.err


def test_a_lost_store_connection_is_opened_again(tmp_path: Path, pg_db: str, postgres: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A PostgreSQL restart or a dropped connection costs Alertmanager nothing: the notification is decided again
    on a new connection (and counts once)."""
    from psycopg.conninfo import conninfo_to_dict

    monkeypatch.setenv("FIRELINE_STORE", pg_db)
    database = conninfo_to_dict(pg_db)["dbname"]
    with Intake(tmp_path) as server:
        assert server.post(notification())[1]["outcome"] == "declared"
        wait_for(lambda: "runbooks suggested" in server.log(), "the follow-up of the declaration")
        postgres.psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' "
                      "AND application_name = 'fireline'")  # fmt: skip
        status, answer = server.post(notification(alert(), alert(instance="db-2")))
        assert (status, answer["outcome"], answer["incident"]) == (200, "attached", _first_id())
        assert server.stop() == 0
