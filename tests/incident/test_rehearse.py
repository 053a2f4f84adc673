"""`fireline incident rehearse ID`: the demo's drill incident becomes a scenario that validates and passes on the
lab (opening its own drill, and verifying an action item that waited for a game day of it); a real incident's
mitigation picks the fault that reproduces it, from the step that mitigated or from the words people wrote, and a
mitigation nothing matches gets a fault that says TODO and refuses to run; alerts that fired become probes and
detection signals; hostile titles stay text."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from runner.incident.rehearse import objective, round_text
from runner.journal.store import open_journal
from tests.command import FIRELINE
from tests.conftest import HttpServer, write
from tests.gameday.conftest import CliRunner, Lab, fireline, lab, lab_endpoints
from tests.gameday.flagfile import flags_text, scenario_text, with_response

__all__ = ["lab", "lab_endpoints"]  # the game days' lab, shared with this module
REPO = Path(__file__).resolve().parents[2]


def declare(cli: CliRunner, title: str, *extra: str) -> str:
    result = cli("incident", "declare", "--title", title, "--sev", "SEV2", "--format", "json", *extra)
    assert result.code == 0, result.err
    incident_id = json.loads(result.out)["id"]
    assert isinstance(incident_id, str)
    return incident_id


def rehearse(cli: CliRunner, incident_id: str, out: Path, *extra: str) -> dict[str, Any]:
    result = cli("incident", "rehearse", incident_id, "-o", str(out), *extra)
    assert result.code == 0, result.out + result.err
    assert re.match(f"(wrote|replaced) {re.escape(str(out))}:", result.out), result.out
    valid = cli("validate", str(out))
    assert valid.code == 0, valid.out + valid.err
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


# -- the demo's incident, rehearsed on the lab ----------------------------------------------------------------------
def test_the_demos_incident_rehearsed_passes_on_the_lab_opens_a_drill_and_verifies_an_item(lab: Lab,
                                                                                          tmp_path: Path) -> None:
    demo = subprocess.run([*FIRELINE, "demo"], cwd=tmp_path, env=lab.env, capture_output=True, text=True,
                          timeout=300, check=False, stdin=subprocess.DEVNULL)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    found = re.search(r"incident: +(INC-\d{4}-\d{3,}) \(drill\)", demo.stdout)
    assert found, demo.stdout
    drill = found.group(1)

    out = tmp_path / "scenarios" / "rehearsal.yaml"
    drafted = fireline(lab, "incident", "rehearse", drill, "-o", str(out))
    assert drafted.returncode == 0, drafted.stdout + drafted.stderr
    assert "TODO" not in drafted.stdout
    valid = fireline(lab, "validate", str(out))
    assert valid.returncode == 0, valid.stdout + valid.stderr

    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["metadata"]["name"] == f"rehearse-{drill.lower()}"
    assert data["faults"][0]["action"] == "postgres.hold_connections"
    assert (out.parent / data["response"]["runbook"]).resolve() == REPO / "runbooks" / "db-connection-exhaustion.yaml"
    assert set(data["objectives"]) == {"time_to_detect", "time_to_acknowledge", "time_to_mitigate", "time_to_recover"}

    # The loop with action items: one that a game day of this scenario must verify.
    added = fireline(lab, "actions", "add", drill, "Keep the pool from leaking", "--owner", "sre", "--due",
                     "2099-01-01", "--priority", "high", "--verify-gameday", data["metadata"]["name"])
    assert added.returncode == 0, added.stdout + added.stderr
    listed = fireline(lab, "actions", "list", "--incident", drill, "--format", "json")
    item = json.loads(listed.stdout)[0]["id"]

    ran = fireline(lab, "gameday", "run", str(out), "-i", f"service_url={lab.service_url}", "--report", "none",
                   timeout=180)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    passed = re.search(r"game day (gd-\S+): PASSED", ran.stdout)
    assert passed, ran.stdout
    done = fireline(lab, "actions", "update", item, "--status", "done", "--verified-by", passed.group(1))
    assert done.returncode == 0, done.stdout + done.stderr
    opened = re.search(r"drill incident: (INC-\d{4}-\d{3,})", ran.stdout)
    assert opened and opened.group(1) != drill, ran.stdout
    shown = fireline(lab, "incident", "show", opened.group(1))
    assert shown.returncode == 0, shown.stderr
    assert "Rehearsal of " + drill in shown.stdout
    assert "drill of game day" in shown.stdout


def test_a_drill_whose_scenario_is_gone_is_drafted_from_its_runs_and_says_todo(cli: CliRunner,
                                                                             tmp_path: Path) -> None:
    flags = write(tmp_path / "flags.json", flags_text())
    marker = tmp_path / "responded"
    scenario = write(tmp_path / "scenario.yaml", scenario_text(response=with_response(tmp_path, marker)))
    ran = cli("gameday", "run", str(scenario), "-i", f"flag_file={flags}", "--report", "none")
    assert ran.code == 0, ran.out + ran.err
    drill = re.search(r"drill incident: (INC-\d{4}-\d{3,})", ran.out)
    assert drill, ran.out
    scenario.unlink()

    data = rehearse(cli, drill.group(1), tmp_path / "rehearse.yaml")
    # The response ran a shell command: nothing to reproduce, and no check that can fail.
    assert [f["id"] for f in data["faults"]] == ["todo-fault"]
    assert [p["id"] for p in data["steady_state"]["probes"]] == ["todo-probe"]
    assert data["response"] == {"mode": "runbook", "runbook": "respond.yaml", "inputs": {"marker": str(marker)}}
    assert data["metadata"]["severity"] == "SEV3" and "todo" in data["metadata"]["tags"]


# -- real incidents ----------------------------------------------------------------------------------------------------
FLAG_RUNBOOK = """\
apiVersion: fireline/v1
kind: Runbook
metadata:
  name: new-login-off
  mitigates: true
inputs:
  flags_file: {type: string, required: true}
  flag: {type: string, default: some-flag}
  service_url: {type: string, default: "http://127.0.0.1:9/"}
connections:
  flags: {type: flagd, path: "{{ inputs.flags_file }}"}
steps:
  - id: login-page
    action: http.check
    with: {url: "{{ inputs.service_url }}/login", expect: {status: 200}}
  - id: before
    action: flags.get
    with: {connection: flags, flag: "{{ inputs.flag }}"}
  - id: disable
    action: flags.set
    with: {connection: flags, flag: "{{ inputs.flag }}", enabled: false}
    approval: {required: true}
"""


def test_a_disabled_flag_becomes_a_flag_fault_with_the_run_s_connection_and_inputs(
    cli: CliRunner, tmp_path: Path, http_server: HttpServer
) -> None:
    http_server.routes["/login"] = (200, "ok")
    flags = write(tmp_path / "flags.json", json.dumps({"flags": {"new-login": {
        "state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "on"}}}))
    runbook = write(tmp_path / "runbooks" / "new-login-off.yaml", FLAG_RUNBOOK)
    incident = declare(cli, "Logins fail after the new login page")
    run = cli("run", str(runbook), "--incident", incident, "-i", f"flags_file={flags}", "-i", "flag=new-login",
              "-i", f"service_url={http_server.url}", "--approve-all", "--reason", "test")
    assert run.code == 0, run.out + run.err

    out = tmp_path / "scenarios" / "rehearse.yaml"
    data = rehearse(cli, incident, out)
    assert data["faults"] == [{"id": "flags-set", "action": "flags.set", "duration": "10m",
                               "with": {"connection": "flags", "flag": "new-login", "enabled": True}}]
    assert data["connections"] == {"flags": {"type": "flagd", "path": "{{ inputs.flags_file }}"}}
    assert data["inputs"]["flags_file"]["default"] == str(flags)
    assert data["response"] == {"mode": "runbook", "runbook": "../runbooks/new-login-off.yaml",
                                "inputs": {"flags_file": str(flags), "flag": "new-login",
                                           "service_url": http_server.url}}
    # The HTTP check the run made is the probe, as it ran; flags.get says nothing about health and is left out.
    assert data["steady_state"]["probes"] == [{"id": "login-page", "probe": "http.get", "timeout": "5s",
                                               "with": {"url": f"{http_server.url}/login", "expect": {"status": 200}}}]
    assert "todo" not in data["metadata"]["tags"] and "TODO" not in data["metadata"]["description"]
    # Objectives come from the measured times (declared now: each interval is a few seconds at most).
    assert data["objectives"]["time_to_mitigate"] == "10s"


DB_RUNBOOK = """\
apiVersion: fireline/v1
kind: Runbook
metadata:
  name: end-idle-sessions
  mitigates: true
inputs:
  app: {type: string, default: ""}
secrets:
  PRIMARY_DSN: {from: env, name: PRIMARY_DSN}
connections:
  db: {type: postgres, dsn: "{{ secrets.PRIMARY_DSN }}"}
steps:
  - id: sessions
    action: postgres.query
    with: {connection: db, sql: "SELECT pid FROM pg_stat_activity WHERE application_name = 'none-such'",
           expect: {rows: 0}}
  - id: listing
    action: postgres.query
    with: {connection: db, sql: "SELECT count(*) FROM pg_stat_activity"}
  - id: end-idle
    action: postgres.terminate_backends
    approval: {required: true}
    with: {connection: db, state: idle, application_name: "{{ inputs.app }}"}
"""


def test_terminated_idle_sessions_become_a_held_connections_fault_on_the_runbook_s_database(
    cli: CliRunner, tmp_path: Path, pg_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRIMARY_DSN", pg_db)
    runbook = write(tmp_path / "end-idle-sessions.yaml", DB_RUNBOOK)
    incident = declare(cli, "Checkout cannot get a database connection")
    with psycopg.connect(pg_db, application_name="leaky-pool", autocommit=True):  # the leak, idle
        run = cli("run", str(runbook), "--incident", incident, "-i", "app=leaky-pool", "--approve-all",
                  "--reason", "t")
    assert run.code == 0, run.out + run.err
    assert "terminated 1" in run.out, run.out
    data = rehearse(cli, incident, tmp_path / "rehearse.yaml")
    assert data["faults"] == [{"id": "postgres-hold-connections", "action": "postgres.hold_connections",
                               "duration": "10m", "with": {"connection": "db", "application_name": "leaky-pool"}}]
    assert data["secrets"] == {"PRIMARY_DSN": {"from": "env", "name": "PRIMARY_DSN"}}
    assert data["connections"] == {"db": {"type": "postgres", "dsn": "{{ secrets.PRIMARY_DSN }}"}}
    # The query that states what healthy is becomes a probe; the one that only lists does not.
    assert [p["id"] for p in data["steady_state"]["probes"]] == ["sessions"]
    assert pg_db not in (tmp_path / "rehearse.yaml").read_text(encoding="utf-8")


def test_a_mitigation_nothing_matches_gets_a_fault_that_says_todo_and_refuses_to_run(cli: CliRunner,
                                                                                   tmp_path: Path) -> None:
    incident = declare(cli, "Search is slow")
    assert cli("incident", "note", incident, "Restarted the search cache nodes one by one").code == 0
    assert cli("incident", "mitigated", incident).code == 0
    out = tmp_path / "rehearse.yaml"
    result = cli("incident", "rehearse", incident, "-o", str(out))
    assert result.code == 0, result.err
    assert "TODO: no fault action matches the mitigation" in result.out
    data = rehearse(cli, incident, out, "--force")
    fault = data["faults"][0]
    assert fault["id"] == "todo-fault" and "TODO" in " ".join(fault["with"]["argv"])
    assert "todo" in data["metadata"]["tags"]
    assert "TODO: no fault action matches the mitigation" in data["metadata"]["description"]
    assert data["response"] == {"mode": "manual"}
    assert out.read_text(encoding="utf-8").splitlines()[1].startswith("# TODO")
    # Run as it is, it stops before any fault: its placeholder probe fails and says why.
    ran = cli("gameday", "run", str(out), "--report", "none")
    assert ran.code == 1, ran.out + ran.err
    assert "TODO: replace this probe with a check" in ran.out + ran.err
    assert "NOT-STARTED" in ran.out and "no fault was injected" in ran.out
    # With a probe that holds, the placeholder fault itself refuses at its injection, saying TODO.
    data["steady_state"]["probes"] = [{"id": "fine", "probe": "shell.run", "with": {"argv": ["true"]}}]
    out.write_text(yaml.safe_dump(data), encoding="utf-8")
    ran = cli("gameday", "run", str(out), "--report", "none")
    assert ran.code == 1, ran.out + ran.err
    assert "TODO: no fault reproduces this incident's mitigation yet" in ran.out
    assert "reverted" in ran.out


def test_a_rollback_told_in_words_picks_the_bad_rollout_fault_with_placeholders(cli: CliRunner,
                                                                               tmp_path: Path) -> None:
    incident = declare(cli, "Checkout 500s after release 41")
    assert cli("incident", "note", incident, "We rolled back checkout to release 40", "--kind", "decision").code == 0
    data = rehearse(cli, incident, tmp_path / "rehearse.yaml")
    fault = data["faults"][0]
    assert fault["action"] == "kubernetes.bad_rollout"
    assert fault["with"] == {"deployment": "todo-deployment", "connection": "todo_kubernetes"}
    assert data["connections"]["todo_kubernetes"] == {"type": "kubernetes"}
    assert "rolled back" in data["metadata"]["description"]


def test_a_rollback_told_in_words_takes_the_response_run_s_cluster_and_deployment(cli: CliRunner, lab: Lab,
                                                                                  tmp_path: Path) -> None:
    incident = declare(cli, "Checkout 500s after release 41")
    # The rollback runbook finds the rollout healthy (the lab's is) and changes nothing; people rolled back by hand.
    run = cli("run", str(REPO / "runbooks" / "rollback-bad-deploy.yaml"), "--incident", incident,
              "-i", "deployment=checkout", "-i", "namespace=demo", "-i", "detect_timeout=5s")
    assert run.code == 0, run.out + run.err
    assert cli("incident", "note", incident, "Rolled back checkout by hand to release 40").code == 0

    data = rehearse(cli, incident, tmp_path / "scenarios" / "rehearse.yaml")
    assert data["faults"][0]["action"] == "kubernetes.bad_rollout"
    assert data["faults"][0]["with"] == {"deployment": "checkout", "namespace": "demo", "connection": "cluster"}
    # The rollout check the runbook made is the probe, on the runbook's own connection and its inputs.
    assert data["steady_state"]["probes"] == [{"id": "detect", "probe": "kubernetes", "timeout": "5s", "with": {
        "connection": "cluster", "deployment": "checkout", "condition": "rolled_out"}}]
    assert data["connections"]["cluster"]["namespace"] == "{{ inputs.namespace }}"
    assert data["inputs"]["namespace"]["default"] == "demo"
    response = dict(data["response"])
    used = tmp_path / "scenarios" / response.pop("runbook")
    assert used.resolve() == REPO / "runbooks" / "rollback-bad-deploy.yaml"
    assert response == {"mode": "runbook",
                        "inputs": {"deployment": "checkout", "namespace": "demo", "detect_timeout": "5s"}}
    assert "TODO: the fault kubernetes.bad_rollout was chosen from the words" in data["metadata"]["description"]


def test_alerts_that_fired_become_prometheus_probes_and_detection_signals(cli: CliRunner, tmp_path: Path) -> None:
    incident = declare(cli, "Database full")
    alert = {"alertname": 'Disk"Full\\', "labels": {"alertname": 'Disk"Full\\', "severity": "critical"},
             "annotations": {"summary": "disk"}, "starts_at": "2026-12-04T09:00:00Z", "ends_at": "",
             "fingerprint": "abc", "generator_url": "http://prometheus.internal:9090/graph?g0.expr=up"}
    open_journal().append(incident, "incident.alert", actor="alertmanager", data={
        "group_key": "{}:{alertname=\"DiskFull\"}", "status": "firing", "receiver": "fireline",
        "alerts": [alert], "external_url": "http://alertmanager.internal:9093"}, durable=True)
    data = rehearse(cli, incident, tmp_path / "rehearse.yaml")
    probe = next(p for p in data["steady_state"]["probes"] if p["probe"] == "prometheus.query")
    assert probe["with"]["query"] == 'count(ALERTS{alertname="Disk\\"Full\\\\",alertstate="firing"})'
    assert probe["with"]["expect"] == {"op": "==", "value": 0} and probe["with"]["empty"] == "zero"
    assert data["connections"]["prometheus"] == {"type": "prometheus", "url": "http://prometheus.internal:9090"}
    assert data["connections"]["alertmanager"] == {"type": "alertmanager", "url": "http://alertmanager.internal:9093"}
    assert {"alert": {"connection": "alertmanager", "name": 'Disk"Full\\'}} in data["detection"]


HOSTILE = [
    'key: value\n- item: [1, 2}\n# comment',
    "--- !!python/object:os.system\n...",
    "&anchor *alias {{ inputs.x }} {% raw %}",
    "'\"\\ tabs\tand ünïcödé ✓",
]


def test_hostile_titles_stay_text(cli: CliRunner, tmp_path: Path) -> None:
    for i, title in enumerate(HOSTILE):
        incident = declare(cli, title)
        data = rehearse(cli, incident, tmp_path / f"r{i}.yaml")
        assert data["metadata"]["title"] == f"Rehearsal of {incident}: {title}"
        assert data["metadata"]["name"] == f"rehearse-{incident.lower()}"


def test_an_existing_file_is_kept_without_force_and_unknown_incidents_are_usage_errors(cli: CliRunner,
                                                                                      tmp_path: Path) -> None:
    incident = declare(cli, "Anything")
    out = write(tmp_path / "mine.yaml", "people wrote this\n")
    refused = cli("incident", "rehearse", incident, "-o", str(out))
    assert refused.code == 2 and "exists" in refused.err
    assert out.read_text(encoding="utf-8") == "people wrote this\n"
    assert cli("incident", "rehearse", incident, "-o", str(out), "--force").code == 0
    assert yaml.safe_load(out.read_text(encoding="utf-8"))["kind"] == "GameDay"
    under_a_file = cli("incident", "rehearse", incident, "-o", str(out / "x.yaml"))
    assert under_a_file.code == 2 and str(out) in under_a_file.err and "Traceback" not in under_a_file.err
    unknown = cli("incident", "rehearse", "INC-2026-999", "-o", str(tmp_path / "x.yaml"))
    assert unknown.code == 2 and "Traceback" not in unknown.err
    assert not (tmp_path / "x.yaml").exists()


@pytest.mark.parametrize(("measured", "interval", "expected"), [
    (0.199, 0.25, "5s"),   # the demo's detection: ten intervals (2.5s) is the least a game day can tell apart
    (4.0, 0.1, "5s"),
    (7 * 60 + 5, 1.0, "10m"),
    (61 * 60, 1.0, "90m"),
    (25 * 3600 + 1, 1.0, "26h"),
])
def test_an_objective_is_the_measured_time_rounded_up_and_never_below_ten_intervals(
    measured: float, interval: float, expected: str
) -> None:
    assert round_text(objective(measured, interval)) == expected
