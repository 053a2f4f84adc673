"""`fireline audit verify` re-verifies every approval signature: who approved what, with which key."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.conftest import write
from tests.signers import signing_team

RUNBOOK = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: gated}}
steps:
  - id: change
    action: shell.run
    with: {{argv: [touch, "{marker}"]}}
"""


def _approved_run(cli: Any, tmp_path: Path, monkeypatch) -> tuple[str, Any, Path]:
    team = signing_team(tmp_path, monkeypatch)
    lead, alice = team.key("lead"), team.key("alice")
    runbook = write(tmp_path / "rb.yaml", RUNBOOK.format(marker=tmp_path / "changed"))
    first = cli("run", str(runbook), "--output", "json", "--key", str(lead))
    run_id = first.json()["run_id"]
    assert cli("approve", run_id, "change", "--reason", "INC-5", "--key", str(alice)).code == 0
    assert cli("resume", run_id, "--key", str(lead)).code == 0
    return run_id, team, alice


def test_audit_lists_verified_approvers_with_their_keys(cli, tmp_path, monkeypatch) -> None:
    run_id, team, alice = _approved_run(cli, tmp_path, monkeypatch)
    audited = cli("audit", "verify", run_id)
    assert audited.code == 0, audited.out
    assert f"change by alice (verified, key {team.fingerprint(alice)}) via fireline approve" in audited.out


def test_audit_fails_when_a_signature_no_longer_verifies(cli, tmp_path, monkeypatch) -> None:
    run_id, team, _ = _approved_run(cli, tmp_path, monkeypatch)
    team.allowed.write_text(team.allowed.read_text().replace("alice ", "eve "))  # alice's line now says eve
    audited = cli("audit", "verify", run_id)
    assert audited.code == 1
    assert "change by alice (signature NOT verified" in audited.out
    assert "NOT VERIFIED: the signature does not verify as alice's" in audited.out


def test_audit_without_signers_says_signatures_were_not_checked(cli, tmp_path, monkeypatch) -> None:
    run_id, _, _ = _approved_run(cli, tmp_path, monkeypatch)
    monkeypatch.delenv("FIRELINE_ALLOWED_SIGNERS")
    audited = cli("audit", "verify", run_id)
    assert audited.code == 0
    assert "change by alice (signed, not checked: no allowed-signers file is configured" in audited.out


def test_an_edited_approval_row_fails_the_audit_and_resume_refuses(cli, tmp_path, monkeypatch, fireline_home) -> None:
    team = signing_team(tmp_path, monkeypatch)
    lead, alice = team.key("lead"), team.key("alice")
    marker = tmp_path / "changed"
    runbook = write(tmp_path / "rb.yaml", RUNBOOK.format(marker=marker))
    run_id = cli("run", str(runbook), "--output", "json", "--key", str(lead)).json()["run_id"]
    assert cli("approve", run_id, "change", "--reason", "INC-5", "--key", str(alice)).code == 0
    with sqlite3.connect(fireline_home / "journal.db") as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        table = "journal_events" if "journal_events" in tables else "events"
        seq, data = db.execute(f"SELECT seq, data FROM {table} WHERE type = 'step.approved'").fetchone()
        edited = json.loads(data)
        edited["reason"] = "INC-5 (and everything else)"
        db.execute(f"UPDATE {table} SET data = ? WHERE seq = ?", (json.dumps(edited), seq))
    audited = cli("audit", "verify", run_id)
    assert audited.code == 1 and "the recorded reason is not the one signed" in audited.out
    assert cli("resume", run_id, "--key", str(lead)).code == 1 and not marker.exists()
