"""A real Alertmanager delivering to `fireline incident intake`: an alert opens an incident with the matching
runbook suggested on its timeline; the group firing again (a new alert joins it) attaches to that incident;
the alerts resolving are noted on the timeline and leave the incident open (the resolution gate resolves)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from runner.incident.intake import ALERT, IncidentAlert
from runner.incident.store import list_incidents
from runner.journal.store import open_journal
from tests.command import FIRELINE
from tests.conftest import wait_for, write
from tests.incident.documents import db_runbook
from tests.incident.intake_process import Intake
from tests.servers._http import request_json
from tests.servers.prometheus import start_alertmanager

RUNBOOK = db_runbook(
    "  severity: [SEV1, SEV2]\n  symptoms: [Too many connections]\n",
    """\
steps:
  - {id: count, action: shell.run, read_only: true, with: {argv: [echo, "95"]}}
""",
)


def _push(am_url: str, instances: list[str], ends_in: timedelta) -> None:
    """POST /api/v2/alerts, as Prometheus does."""
    now = datetime.now(UTC)
    alerts = [
        {
            "labels": {
                "alertname": "PostgresTooManyConnections",
                "severity": "critical",
                "service": "checkout",
                "instance": instance,
            },
            "annotations": {"summary": "Primary has too many connections"},
            "startsAt": (now - timedelta(minutes=3)).isoformat(),
            "endsAt": (now + ends_in).isoformat(),
            "generatorURL": "http://prometheus.example:9090/graph",
        }
        for instance in instances
    ]
    request_json("POST", f"{am_url}/api/v2/alerts", alerts)


def _alerts_of(incident_id: str) -> list[IncidentAlert]:
    journal = open_journal()
    try:
        return [IncidentAlert.of(e) for e in journal.events(incident_id, (ALERT,))]
    finally:
        journal.close()


def _incidents() -> list[Any]:
    journal = open_journal()
    try:
        return list_incidents(journal)
    finally:
        journal.close()


def _timeline(incident_id: str, cwd: Path) -> str:
    done = subprocess.run([*FIRELINE, "incident", "timeline", incident_id], cwd=cwd, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_real_alertmanager_alert_opens_one_incident_and_the_group_attaches(tmp_path: Path) -> None:
    write(tmp_path / "runbooks" / "db.yaml", RUNBOOK)
    write(tmp_path / "incident-policy.yaml", "intake:\n  runbooks: [runbooks]\n")
    with Intake(tmp_path) as intake, start_alertmanager(tmp_path, webhook_url=intake.url) as am:
        _push(am.url, ["db-1"], ends_in=timedelta(minutes=10))
        found = wait_for(_incidents, "an incident declared by the alert", timeout=60)
        assert len(found) == 1
        incident = found[0]
        assert incident.title == "Primary has too many connections" and str(incident.severity) == "SEV1"
        assert incident.systems == ("checkout",)

        def suggested() -> str:
            text = _timeline(incident.id, tmp_path)
            return text if "suggested runbook" in text else ""

        timeline = wait_for(suggested, "the runbook suggestion on the timeline", timeout=60)
        assert "suggested runbook db-connection-exhaustion" in timeline
        assert f"fireline run runbooks/db.yaml --incident {incident.id}" in timeline
        assert 'milestone detected (by alert {}:{alertname="PostgresTooManyConnections"})' in timeline

        # The group fires again: a second alert joins it, and Alertmanager notifies the group once more.
        _push(am.url, ["db-1", "db-2"], ends_in=timedelta(minutes=10))
        wait_for(lambda: any(len(a.alerts) == 2 for a in _alerts_of(incident.id)), "the grown group", timeout=60)
        assert [i.id for i in _incidents()] == [incident.id]

        # The alerts end: Alertmanager sends the group resolved; it is noted, the incident stays open.
        _push(am.url, ["db-1", "db-2"], ends_in=timedelta(seconds=-1))
        wait_for(lambda: any(a.status == "resolved" for a in _alerts_of(incident.id)), "the resolution", timeout=60)
        assert intake.stop() == 0
    after = _incidents()
    assert [(i.id, str(i.status)) for i in after] == [(incident.id, "investigating")]
    timeline = _timeline(incident.id, tmp_path)
    assert "alert resolved (received: Alertmanager receiver test): PostgresTooManyConnections (2 resolved)" in timeline
    assert "POST /alerts 200 firing declared" in intake.log()


def test_alertmanager_sends_the_token_the_policy_requires(tmp_path: Path) -> None:
    """The README's Alertmanager configuration: `http_config.authorization` carries the intake's bearer token."""
    import yaml

    token = "alertmanager-to-fireline-token"
    write(tmp_path / "incident-policy.yaml", "secrets:\n  TOKEN: {from: env, name: TEST_INTAKE_TOKEN}\n"
          "intake:\n  token: {secret: TOKEN}\n")  # fmt: skip
    with Intake(tmp_path, env={"TEST_INTAKE_TOKEN": token}) as intake, start_alertmanager(tmp_path) as am:
        config = yaml.safe_load(am.config_path.read_text())
        webhook = {"url": intake.url, "send_resolved": True, "http_config": {"authorization": {"credentials": token}}}
        config["receivers"] = [{"name": "test", "webhook_configs": [webhook]}]
        am.config_path.write_text(yaml.safe_dump(config))
        request_json("POST", f"{am.url}/-/reload")
        _push(am.url, ["db-1"], ends_in=timedelta(minutes=10))
        found = wait_for(_incidents, "an incident declared through the token", timeout=60)
        assert len(found) == 1
        assert intake.stop() == 0
    assert token not in intake.log() and "POST /alerts 200 firing declared" in intake.log()
