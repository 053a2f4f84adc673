"""http.check and http.request through real runs against a local HTTP server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import HttpServer, write

HEADER = "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: t}\n"


def test_http_check_expectations(tmp_path: Path, cli, http_server: HttpServer) -> None:
    http_server.routes["/health"] = (200, json.dumps({"status": "ok", "checks": [{"db": "up"}]}))
    http_server.routes["/broken"] = (503, "down")
    path = write(
        tmp_path / "rb.yaml",
        HEADER
        + f"""\
connections:
  api: {{type: http, url: "{http_server.url}", headers: {{X-Team: sre}}}}
steps:
  - id: ok
    action: http.check
    with: {{connection: api, url: /health, expect: {{status: 200, body_contains: ok, json: {{"checks[0].db": up}}}}}}
    outputs: {{status: "{{{{ result.json.status }}}}"}}
  - id: broken
    action: http.check
    on_failure: continue
    with: {{url: "{http_server.url}/broken", expect: {{status: [200, 204]}}}}
""",
    )
    doc = cli("run", str(path), "--output", "json").json()
    steps = {s["id"]: s for s in doc["steps"]}
    assert steps["ok"]["outputs"] == {"status": "ok"}
    assert steps["broken"]["status"] == "failed" and "status 503, expected 200 or 204" in steps["broken"]["summary"]
    assert http_server.received[0]["headers"]["X-Team"] == "sre"


def test_http_request_post_is_gated_and_sent_once_approved(tmp_path: Path, cli, http_server: HttpServer) -> None:
    http_server.routes["/deploys/freeze"] = (201, '{"frozen": true}')
    path = write(
        tmp_path / "rb.yaml",
        HEADER
        + f"""\
steps:
  - id: freeze
    action: http.request
    with: {{url: "{http_server.url}/deploys/freeze", method: POST, json: {{reason: incident}}, expect: {{status: 201}}}}
""",
    )
    assert cli("run", str(path)).code == 3
    assert http_server.received == []  # failed closed: nothing was sent
    plan = cli("plan", str(path), "--output", "plain")
    assert "would send POST" in plan.out and http_server.received == []
    assert cli("run", str(path), "--approve", "freeze", "--reason", "INC-7").code == 0
    assert [(r["method"], json.loads(r["body"])) for r in http_server.received] == [("POST", {"reason": "incident"})]
