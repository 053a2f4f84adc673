"""`fireline audit verify`, as an auditor uses it after an incident: an untouched run verifies and lists who
approved what; a run whose journal was edited behind fireline's back (one approval row changed with sqlite3)
fails verification, naming the event, and `fireline resume` refuses it before running anything."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from runner.journal.store import open_journal
from tests.conftest import write

GATED = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: audited}}
steps:
  - id: look
    action: shell.run
    with: {{command: "true"}}
    approval: {{required: false}}
  - id: restart
    action: shell.run
    with: {{command: "echo restarted >> {marker}"}}
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "postgresql":
        monkeypatch.setenv("FIRELINE_STORE", request.getfixturevalue("pg_db"))
    return str(request.param)


def _approved_run(cli: Any, tmp_path: Path) -> tuple[str, Path]:
    marker = tmp_path / "marker"
    runbook = write(tmp_path / "rb.yaml", GATED.format(marker=marker))
    paused = cli("run", str(runbook), "--output", "json")
    assert paused.code == 3, paused.out + paused.err
    run_id = str(paused.json()["run_id"])
    approved = cli("approve", run_id, "restart", "--as", "lead", "--reason", "INC-42")
    assert approved.code == 0, approved.err
    return run_id, marker


def _edit_approval(fireline_home: Path, run_id: str) -> int:
    """What someone with write access to the journal file could do: claim someone else approved."""
    db = sqlite3.connect(fireline_home / "journal.db")
    with db:
        seq = db.execute(
            "SELECT seq FROM journal_events WHERE run_id = ? AND type = 'step.approved'", (run_id,)
        ).fetchone()[0]
        db.execute("UPDATE journal_events SET actor = 'oncall-2' WHERE seq = ?", (seq,))
    db.close()
    return int(seq)


def test_an_untouched_run_verifies_and_lists_its_approvals(cli: Any, tmp_path: Path, store: str) -> None:
    run_id, _ = _approved_run(cli, tmp_path)
    result = cli("audit", "verify", run_id[:8])
    assert result.code == 0, result.out + result.err
    lines = result.out.splitlines()
    assert lines[0].startswith(f"run {run_id}: ok (")
    approval = next(line for line in lines if "restart by lead" in line)
    assert "via fireline approve at 20" in approval and approval.endswith(": INC-42")
    # On the team store the server says which database login recorded the approval.
    assert ("recorded by database user fireline" in approval) == (store == "postgresql")


def test_an_edited_approval_fails_verification_and_resume_refuses(
    cli: Any, tmp_path: Path, fireline_home: Path
) -> None:
    run_id, marker = _approved_run(cli, tmp_path)
    seq = _edit_approval(fireline_home, run_id)
    result = cli("audit", "verify", run_id)
    assert result.code == 1, result.out + result.err
    assert f"run {run_id}: DOES NOT VERIFY" in result.out
    assert f"event {seq} (step.approved of step restart): edited" in result.out
    before = len(open_journal().events(run_id))
    resumed = cli("resume", run_id, "--output", "plain")
    assert resumed.code == 1, resumed.out + resumed.err
    assert f"event {seq} (step.approved of step restart): edited" in resumed.err and "refusing to resume" in resumed.err
    assert not marker.exists()  # nothing ran
    cancelled = cli("runs", "cancel", run_id, "--reason", "INC-42", "--as", "lead")
    assert cancelled.code == 1 and f"event {seq} (step.approved of step restart): edited" in cancelled.err
    assert "refusing to cancel it" in cancelled.err
    assert len(open_journal().events(run_id)) == before  # nothing was written


def test_all_runs_are_verified_and_one_broken_run_fails_the_whole(
    cli: Any, tmp_path: Path, fireline_home: Path
) -> None:
    first, _ = _approved_run(cli, tmp_path)
    second, _ = _approved_run(cli, tmp_path)
    assert cli("audit", "verify", "--all").code == 0
    _edit_approval(fireline_home, second)
    result = cli("audit", "verify", "--all", "--json")
    assert result.code == 1
    verdicts = {r["run_id"]: (r["ok"], [b["kind"] for b in r["breaks"]]) for r in result.json()}
    assert verdicts == {first: (True, []), second: (False, ["edited"])}
    plain = cli("audit", "verify", "--all")
    assert plain.out.splitlines()[-1].startswith("2 runs, 1 that do not verify")


def test_a_run_recorded_before_the_chain_is_reported_not_chained(cli: Any, fireline_home: Path) -> None:
    from tests.journal.test_backend import _v2_journal

    fireline_home.mkdir(parents=True)
    _v2_journal(fireline_home / "journal.db")
    result = cli("audit", "verify", "run-old2")
    assert result.code == 0, result.out + result.err
    assert "run run-old2: ok (4 events, 4 not chained (recorded before journal schema version 5))" in result.out


@pytest.mark.parametrize(
    ("args", "message"),
    [((), "name one run, or --all"), (("run-x", "--all"), "name one run, or --all"), (("nope",), "no run 'nope'")],
)
def test_what_to_verify_must_be_said_clearly(cli: Any, args: tuple[str, ...], message: str) -> None:
    result = cli("audit", "verify", *args)
    assert result.code == 2 and message in result.err
