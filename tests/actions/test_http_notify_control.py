"""http.*, notify.status_update and control.* through real runs against a local HTTP server."""

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


def test_status_update_to_file_and_slack_compatible_webhook(
    tmp_path: Path, cli, http_server: HttpServer, monkeypatch
) -> None:
    http_server.routes["/hook"] = (200, "ok")
    monkeypatch.setenv("HOOK_URL", f"{http_server.url}/hook")
    log = tmp_path / "updates.log"
    path = write(
        tmp_path / "rb.yaml",
        HEADER
        + f"""\
secrets:
  HOOK: {{from: env, name: HOOK_URL}}
steps:
  - id: update
    action: notify.status_update
    approval: {{required: false}}
    with:
      status: mitigating
      summary: Checkout errors are dropping after the rollback
      impact: 5% of checkouts failed for 12 minutes
      actions: [Rolled back to 1.4.2, Watching error rate]
      eta: 15 minutes
      next_update: 30m
      to: {{file: "{log}", webhook: "{{{{ secrets.HOOK }}}}"}}
""",
    )
    result = cli("run", str(path), "--output", "plain")
    assert result.code == 0, result.out
    assert http_server.url not in result.out  # the webhook URL is a secret
    text = log.read_text()
    assert "[MITIGATING] Checkout errors are dropping" in text and "Next update in: 30m" in text
    posted = json.loads(http_server.received[0]["body"])
    assert "Rolled back to 1.4.2" in posted["text"]


def test_manual_step_fails_closed_then_is_confirmed(tmp_path: Path, cli, fireline_home) -> None:
    path = write(
        tmp_path / "rb.yaml",
        HEADER
        + """\
steps:
  - id: call-vendor
    action: control.manual
    with: {instructions: "Call the payment provider and ask for their status page."}
  - id: after
    action: control.sleep
    with: {duration: 1ms}
""",
    )
    first = cli("run", str(path), "--output", "json")
    assert first.code == 3
    run_id = first.json()["run_id"]
    assert cli("approve", run_id, "call-vendor", "--as", "alice", "--reason", "called, they are degraded").code == 0
    resumed = cli("resume", run_id, "--output", "json")
    assert resumed.code == 0
    assert [s["status"] for s in resumed.json()["steps"]] == ["ok", "ok"]


def _notes_runbook(tmp_path: Path) -> str:
    notes = tmp_path / "notes"
    notes.mkdir()
    return str(
        write(
            tmp_path / "notes.yaml",
            HEADER
            + f"""\
inputs:
  team: {{type: string, required: true}}
steps:
  - id: note
    action: notify.status_update
    with:
      status: investigating
      summary: Checkout errors
      to: {{file: "{notes}/{{{{ inputs.team }}}}.log"}}
""",
        )
    )


def test_status_update_file_is_shown_resolved_in_plan_and_at_the_gate(tmp_path: Path, cli) -> None:
    path = _notes_runbook(tmp_path)
    resolved = tmp_path.resolve() / "notes" / "core.log"
    plan = cli("plan", path, "-i", "team=core", "--output", "plain")
    assert plan.code == 0 and f"to file {resolved}" in plan.out, plan.out
    gated = cli("run", path, "-i", "team=core", "--output", "plain")  # no terminal: the gate fails closed
    assert gated.code == 3 and f"what will change: would post a status update to file {resolved}" in gated.out
    assert not resolved.exists()
    assert cli("run", path, "-i", "team=core", "--approve", "note", "--reason", "INC-9").code == 0
    assert "[INVESTIGATING] Checkout errors" in resolved.read_text()


def test_status_update_file_may_not_leave_the_templated_directory(tmp_path: Path, cli) -> None:
    path = _notes_runbook(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "notes" / "out").symlink_to(elsewhere)
    for team in ("../../x", "../notes-x", "out/y", "sub/../../x"):
        run = cli("run", path, "-i", f"team={team}", "--approve", "note", "--reason", "INC-9", "--output", "plain")
        assert run.code == 1, (team, run.out, run.err)
        assert f"outside {(tmp_path / 'notes').resolve()}" in run.out, run.out
        plan = cli("plan", path, "-i", f"team={team}", "--output", "plain")
        assert "CANNOT-CHECK" in plan.out and "outside" in plan.out, plan.out
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.log"))
    assert written == [], written
    inside = cli("run", path, "-i", "team=sub/core", "--approve", "note", "--reason", "INC-9")
    assert inside.code == 0 and (tmp_path / "notes" / "sub" / "core.log").exists()
