"""control.*: a manual step fails closed without a person, and goes on once it is confirmed."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import write

HEADER = "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: t}\n"


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
