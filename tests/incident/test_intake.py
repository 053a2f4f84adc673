"""What `fireline incident intake` decides for each Alertmanager notification (runner.incident.intake): the
strict parse, the severity mapping, declaring, attaching, noting resolved alerts, a group that fires again
after its incident, deliveries of the same notification, two declarations racing, and runbook suggestions."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runner.incident import intake
from runner.incident.intake import AlertStatus, IntakeSettings, Outcome, PayloadRejected
from runner.incident.model import Milestone, Severity, Status
from runner.incident.store import incident_events, load
from runner.incident.timeline import collect, markdown, zone
from runner.journal.store import Journal, open_journal
from runner.policy import load_policy
from tests.conftest import write
from tests.incident.documents import db_runbook

GROUP = '{}/{severity="critical"}:{alertname="PostgresTooManyConnections"}'
NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def alert(status: str = "firing", instance: str = "db-1", starts: str = "2026-12-04T09:52:26.739266876+01:00",
          **labels: str) -> dict[str, Any]:  # fmt: skip
    return {
        "status": status,
        "labels": {
            "alertname": "PostgresTooManyConnections",
            "severity": "critical",
            "service": "checkout",
            "instance": instance,
            **labels,
        },
        "annotations": {"summary": "Primary has too many connections", "description": "95 of 100 slots taken"},
        "startsAt": starts,
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-12-04T09:59:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=pg_connections",
        "fingerprint": f"fp-{instance}",
    }


def notification(*alerts: dict[str, Any], status: str = "firing", group: str = GROUP) -> dict[str, Any]:
    every = list(alerts) or [alert()]
    return {
        "version": "4",
        "groupKey": group,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "fireline",
        "groupLabels": {"alertname": "PostgresTooManyConnections"},
        "commonLabels": {"alertname": "PostgresTooManyConnections", "severity": "critical", "service": "checkout"},
        "commonAnnotations": {"summary": "Primary has too many connections", "description": "95 of 100 slots taken"},
        "externalURL": "http://alertmanager:9093",
        "alerts": every,
    }


def parsed(data: dict[str, Any]) -> intake.Notification:
    return intake.parse(json.dumps(data).encode())


@pytest.fixture
def journal() -> Any:
    store = open_journal()
    yield store
    store.close()


# -- parsing -------------------------------------------------------------------------------------------------------


def test_a_notification_is_read_into_typed_data() -> None:
    found = parsed(notification(alert(), alert("resolved", instance="db-2")))
    assert found.group_key == GROUP and found.status is AlertStatus.FIRING and found.receiver == "fireline"
    first, second = found.alerts
    assert first.starts_at == datetime(2026, 12, 4, 8, 52, 26, 739266, tzinfo=UTC)  # nanoseconds, any zone
    assert first.ends_at is None  # Alertmanager's year 1: not ended
    assert second.status is AlertStatus.RESOLVED and second.ends_at == datetime(2026, 12, 4, 9, 59, tzinfo=UTC)
    assert first.fingerprint == "fp-db-1" and first.name == "PostgresTooManyConnections"


def _broken(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(notification())
    change(data)
    return data


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"\xff\xfe not utf-8", 400, "not UTF-8"),
        (b"status=firing", 400, "not JSON"),
        (b'{"version": "4", "x": NaN}', 400, "not JSON"),
        (b"[" * 200_000 + b"]" * 200_000, 400, "nested too deeply"),
        (b'"a string"', 400, "not a JSON object"),
        (json.dumps(_broken(lambda d: d.update(version="3"))).encode(), 400, 'version must be "4"'),
        (json.dumps(_broken(lambda d: d.update(alerts=[]))).encode(), 400, "alerts must be a non-empty list"),
        (json.dumps(_broken(lambda d: d.pop("groupKey"))).encode(), 400, "groupKey must be a non-empty string"),
        (json.dumps(_broken(lambda d: d.update(status="burning"))).encode(), 400, "status must be"),
        (
            json.dumps(_broken(lambda d: d["alerts"][0]["labels"].update(x={"deep": [1]}))).encode(),
            400,
            "alerts[0].labels must be an object of strings",
        ),
        (
            json.dumps(_broken(lambda d: d["alerts"][0].update(startsAt="yesterday"))).encode(),
            400,
            "alerts[0].startsAt is not an RFC 3339 time",
        ),
        (
            json.dumps(_broken(lambda d: d["alerts"][0].update(startsAt="1969-07-20T20:17:00Z"))).encode(),
            400,
            "alerts[0].startsAt is before 1970",
        ),
        (json.dumps(_broken(lambda d: d.update(alerts=[alert()] * 501))).encode(), 413, "too many alerts"),
    ],
    ids=[
        "not-utf8",
        "not-json",
        "nan",
        "deep",
        "not-object",
        "version",
        "no-alerts",
        "no-group",
        "status",
        "nested-label",
        "bad-time",
        "ancient-time",
        "too-many",
    ],
)
def test_what_is_not_a_notification_is_refused_with_a_short_reason(body: bytes, status: int, reason: str) -> None:
    with pytest.raises(PayloadRejected) as refused:
        intake.parse(body)
    assert refused.value.status == status
    assert reason in refused.value.reason and len(refused.value.reason) < 120


# -- severity, title, systems ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["critical"], Severity.SEV1),
        (["Major"], Severity.SEV2),
        (["error"], Severity.SEV2),
        (["warning"], Severity.SEV3),
        (["info"], Severity.SEV4),
        (["info", "critical"], Severity.SEV1),
        (["page-me"], Severity.SEV3),
        ([], Severity.SEV3),
    ],
)
def test_the_severity_label_maps_to_the_most_severe_level(values: list[str], expected: Severity) -> None:
    alerts = [alert(instance=f"db-{n}", severity=v) for n, v in enumerate(values)] or [alert()]
    data = notification(*alerts)
    data["commonLabels"].pop("severity")
    if not values:
        for a in data["alerts"]:
            a["labels"].pop("severity")
    assert intake.severity_of(parsed(data), IntakeSettings())[0] is expected


def test_the_policy_maps_labels_its_own_way(tmp_path: Path) -> None:
    policy = write(tmp_path / "incident-policy.yaml", "intake:\n  severity_label: priority\n"
                   "  severities: {P1: SEV1, p2: SEV2}\n  default_severity: SEV4\n  system_labels: [team]\n"
                   "  runbooks: [books]\n  run_reads: true\n")  # fmt: skip
    (tmp_path / "books").mkdir()
    settings = intake.settings_of(load_policy(policy), team_file=True)
    assert settings.runbooks == (tmp_path / "books",) and settings.run_reads
    data = notification(alert(priority="p1", team="payments"))
    assert intake.severity_of(parsed(data), settings) == (Severity.SEV1, "alert label priority=p1 maps to SEV1")
    assert intake.severity_of(parsed(notification()), settings)[0] is Severity.SEV4  # no priority label
    assert intake.systems_of(parsed(data), settings) == ("payments",)


def test_title_from_the_summary_else_the_alert_name() -> None:
    data = notification()
    assert intake.title_of(parsed(data)) == "Primary has too many connections"
    data["commonAnnotations"] = {"summary": "two\nlines \x1b[31m"}
    assert intake.title_of(parsed(data)) == "two lines [31m"
    data["commonAnnotations"] = {}
    assert intake.title_of(parsed(data)) == "PostgresTooManyConnections"


# -- deciding ---------------------------------------------------------------------------------------------------


def test_a_firing_group_declares_an_incident(journal: Journal) -> None:
    decision = intake.receive(journal, parsed(notification()), IntakeSettings(), now=NOW)
    assert decision.outcome is Outcome.DECLARED and decision.incident_id == "INC-2026-001"
    incident = load(journal, "INC-2026-001")
    assert incident.title == "Primary has too many connections"
    assert incident.severity is Severity.SEV1 and incident.systems == ("checkout",)
    assert incident.impact == "95 of 100 slots taken"
    started = datetime(2026, 12, 4, 8, 52, 26, 739266, tzinfo=UTC)
    assert incident.at(Milestone.STARTED) == started and incident.at(Milestone.DETECTED) == started
    assert incident.milestones[Milestone.DETECTED].source == f"alert {GROUP}"
    alerts = journal.events("INC-2026-001", (intake.ALERT,))
    assert [intake.IncidentAlert.of(e).declared for e in alerts] == [True]
    assert intake.IncidentAlert.of(alerts[0]).alerts[0]["labels"]["instance"] == "db-1"


def test_the_same_group_attaches_and_the_same_notification_is_recorded_once(journal: Journal) -> None:
    intake.receive(journal, parsed(notification()), IntakeSettings(), now=NOW)
    again = intake.receive(journal, parsed(notification()), IntakeSettings(), now=NOW)
    assert again.outcome is Outcome.REPEATED and again.incident_id == "INC-2026-001"
    more = intake.receive(journal, parsed(notification(alert(), alert(instance="db-2"))), IntakeSettings())
    assert more.outcome is Outcome.ATTACHED and more.incident_id == "INC-2026-001"
    assert len(journal.events("INC-2026-001", (intake.ALERT,))) == 2
    assert [i.id for i in (load(journal, "INC-2026-001"),)] == ["INC-2026-001"]
    assert journal.alert_group(GROUP) is not None and len(journal.incidents()) == 1


def test_a_group_key_with_a_newline_cannot_forge_a_timeline_line(journal: Journal) -> None:
    """A label value may hold any character, and so may the group key made of them: the milestones' source,
    shown by `incident show` and `incident timeline`, is one printable line."""
    forged = '{}:{alertname="X\n- 2026-12-04 09:00:00Z \u00b7 incident \u00b7 resolved by alice"}'
    intake.receive(journal, parsed(notification(group=forged)), IntakeSettings(), now=NOW)
    source = load(journal, "INC-2026-001").milestones[Milestone.STARTED].source
    assert "\n" not in source and source.startswith('alert {}:{alertname="X - 2026-12-04')
    page = markdown(collect(journal, "INC-2026-001", zone(None)))
    assert not [line for line in page.splitlines() if line.startswith("- 2026-12-04 09:00:00Z")]


def test_resolved_alerts_are_noted_and_never_resolve_the_incident(journal: Journal) -> None:
    intake.receive(journal, parsed(notification()), IntakeSettings(), now=NOW)
    resolved = intake.receive(journal, parsed(notification(alert("resolved"), status="resolved")), IntakeSettings())
    assert resolved.outcome is Outcome.ATTACHED
    incident = load(journal, "INC-2026-001")
    assert incident.status is Status.INVESTIGATING and Milestone.RESOLVED not in incident.milestones
    text = markdown(collect(journal, "INC-2026-001", zone(None)))
    assert "alert resolved (received: Alertmanager receiver fireline): PostgresTooManyConnections (1 resolved)" in text


def test_a_group_firing_after_its_incident_is_over_opens_a_new_one_naming_it(journal: Journal) -> None:
    from runner.incident.lifecycle import resolve

    intake.receive(journal, parsed(notification()), IntakeSettings(), now=NOW)
    resolve(journal, load(journal, "INC-2026-001"), "responder")
    late = intake.receive(journal, parsed(notification(alert("resolved"), status="resolved")), IntakeSettings())
    assert late.outcome is Outcome.ATTACHED and late.incident_id == "INC-2026-001"  # noted, still resolved
    assert load(journal, "INC-2026-001").status is Status.RESOLVED
    again = intake.receive(journal, parsed(notification(alert(starts="2026-12-04T11:00:00Z"))), IntakeSettings())
    assert (again.outcome, again.incident_id, again.previous) == (Outcome.DECLARED, "INC-2026-002", "INC-2026-001")
    notes = [e.data["text"] for e in incident_events(journal, "INC-2026-002") if e.type == "incident.note"]
    assert notes == ["alert group fired again after INC-2026-001 was over: this is a new incident (see INC-2026-001)"]


def test_alerts_still_firing_after_the_resolution_do_not_open_a_new_incident(journal: Journal) -> None:
    """Resolved by the gate while Alertmanager still has the alert firing: its repeats (and the group's other
    changes) are the same firing, noted on the resolved incident, until an alert starts firing anew."""
    from runner.incident.lifecycle import resolve

    intake.receive(journal, parsed(notification()), IntakeSettings(), now=NOW)
    resolve(journal, load(journal, "INC-2026-001"), "responder")
    repeat = intake.receive(journal, parsed(notification()), IntakeSettings(), now=NOW)
    assert (repeat.outcome, repeat.incident_id) == (Outcome.REPEATED, "INC-2026-001")
    changed = intake.receive(
        journal, parsed(notification(alert(), alert("resolved", instance="db-9"))), IntakeSettings()
    )
    assert (changed.outcome, changed.incident_id) == (Outcome.ATTACHED, "INC-2026-001")
    assert [row.id for row in journal.incidents()] == ["INC-2026-001"]
    assert load(journal, "INC-2026-001").status is Status.RESOLVED
    anew = intake.receive(journal, parsed(notification(alert(), alert(instance="db-2"))), IntakeSettings(), now=NOW)
    assert (anew.outcome, anew.incident_id) == (Outcome.DECLARED, "INC-2026-002")


def test_resolved_alerts_without_an_incident_write_nothing(journal: Journal) -> None:
    decision = intake.receive(journal, parsed(notification(alert("resolved"), status="resolved")), IntakeSettings())
    assert decision.outcome is Outcome.IGNORED and decision.incident_id is None
    assert journal.all_runs() == []


class _ReadsTooEarly:
    """The journal as a process sees it when another one declares for the group between its read and its
    write: the first read of the group finds nothing."""

    def __init__(self, journal: Journal) -> None:
        self.journal, self.reads = journal, 0

    def alert_group(self, group_key: str) -> Any:
        self.reads += 1
        return None if self.reads == 1 else self.journal.alert_group(group_key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.journal, name)


def test_a_declaration_that_loses_the_race_attaches_and_wastes_no_id(journal: Journal) -> None:
    first = intake.receive(journal, parsed(notification()), IntakeSettings(), now=NOW)
    late: Any = _ReadsTooEarly(journal)
    second = intake.receive(late, parsed(notification(alert(), alert(instance="db-2"))), IntakeSettings(), now=NOW)
    assert (first.outcome, second.outcome) == (Outcome.DECLARED, Outcome.ATTACHED)
    assert second.incident_id == "INC-2026-001" and second.raced and late.reads == 2
    other = intake.receive(journal, parsed(notification(group="another")), IntakeSettings(), now=NOW)
    assert other.incident_id == "INC-2026-002"  # the refused declaration took no number


# -- suggestions ------------------------------------------------------------------------------------------------

RUNBOOK = db_runbook(
    "  severity: [SEV1]\n",
    """\
inputs:
  service: {type: string, required: true}
  instance: {type: string, required: true}
  namespace: {type: string, required: true}
steps:
  - {id: look, action: shell.run, read_only: true, with: {argv: ["true"]}}
""",
)


def test_matching_runbooks_are_suggested_on_the_timeline(journal: Journal, tmp_path: Path) -> None:
    write(tmp_path / "runbooks" / "db.yaml", RUNBOOK)
    other = RUNBOOK.replace("db-connection", "disk").replace("PostgresTooManyConnections", "DiskAlmostFull")
    write(tmp_path / "runbooks" / "other.yaml", other)
    settings = IntakeSettings(runbooks=(tmp_path / "runbooks",))
    intake.receive(journal, parsed(notification()), settings, now=NOW)
    found = intake.suggest(journal, "INC-2026-001", settings)
    assert [s.option.runbook.name for s in found] == ["db-connection-exhaustion"]
    assert found[0].inputs == {"service": "checkout", "instance": "db-1"} and found[0].missing == ("namespace",)
    assert intake.plan_refusal(found[0]) == "needs namespace (no alert label of that name)"
    text = markdown(collect(journal, "INC-2026-001", zone(None)))
    said = "suggested runbook db-connection-exhaustion (alert PostgresTooManyConnections; meant for SEV1): fireline run"
    assert said in text
    assert "--incident INC-2026-001 -i service=checkout -i instance=db-1 -i namespace=…" in text


def test_validate_reports_intake_mistakes_where_they_are(tmp_path: Path, cli: Any) -> None:
    policy = write(
        tmp_path / "incident-policy.yaml",
        "intake:\n  severities: {critical: SEV9}\n  default_severity: high\n  run_reads: sometimes\n  extra: 1\n",
    )
    result = cli("validate", str(policy))
    assert result.code == 1
    for where in ("2:26: intake.severities.critical", "3:21: intake.default_severity", "4:14: intake.run_reads",
                  "5:3: intake.extra"):  # fmt: skip
        assert f"incident-policy.yaml:{where}" in result.out + result.err
