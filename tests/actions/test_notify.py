"""notify.status_update through real runs: to stdout, a file and a webhook on a local HTTP server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import HttpServer, write

HEADER = "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: t}\n"


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


def _notes_runbook(tmp_path: Path, extra: str = "") -> str:
    notes = tmp_path / "notes"
    notes.mkdir(exist_ok=True)
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
    {extra}
    with:
      status: investigating
      summary: Checkout errors
      to: {{file: "{notes}/{{{{ inputs.team }}}}.log"}}
""",
        )
    )


def test_status_update_file_is_shown_resolved_in_plan_and_at_the_gate(tmp_path: Path, cli) -> None:
    path = _notes_runbook(tmp_path, "approval: {required: true}")  # not gated unless the runbook asks
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


def test_a_status_update_is_not_gated_and_a_plan_never_sends_it(tmp_path: Path, cli, http_server: HttpServer) -> None:
    http_server.routes["/hook"] = (200, "ok")
    log = tmp_path / "updates.log"
    path = write(
        tmp_path / "rb.yaml",
        HEADER
        + f"""\
steps:
  - id: tell-stdout
    action: notify.status_update
    with: {{status: investigating, summary: Checkout errors}}
  - id: tell-everyone
    action: notify.status_update
    with:
      status: identified
      summary: Pool exhausted
      to: {{file: "{log}", webhook: "{http_server.url}/hook"}}
""",
    )
    plan = cli("plan", str(path), "--output", "plain")
    assert plan.code == 0, plan.out
    # What would be sent is shown; nothing is sent, not even to the terminal as if it had been.
    assert "WOULD-CHANGE tell-stdout (notify.status_update): would post a status update to stdout" in plan.out
    assert "ran (read-only)" not in plan.out
    assert "[IDENTIFIED] Pool exhausted" in plan.out
    assert not log.exists() and http_server.received == []
    ran = cli("run", str(path), "--output", "plain")  # no terminal, no --approve: nothing to wait for
    assert ran.code == 0, ran.out
    assert "needs approval" not in ran.out
    assert "[INVESTIGATING] Checkout errors" in ran.out
    assert "[IDENTIFIED] Pool exhausted" in log.read_text()
    assert len(http_server.received) == 1


def test_a_runbook_can_still_ask_approval_for_a_status_update(tmp_path: Path, cli) -> None:
    path = _notes_runbook(tmp_path, "approval: {required: true}")
    gated = cli("run", path, "-i", "team=core", "--output", "plain")
    assert gated.code == 3 and "note needs approval" in gated.out, gated.out
    assert not (tmp_path / "notes" / "core.log").exists()
