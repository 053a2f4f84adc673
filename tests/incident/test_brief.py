"""`fireline incident brief`: the responder's one-screen guide — severity as the policy defines it, immediate
actions, investigation, the runbooks that match the incident (with the command to run each) and the
communication plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.incident import brief as guide
from runner.incident import events as iev
from runner.incident.lifecycle import Declaration, declare
from runner.incident.model import Severity
from runner.incident.view import fold
from runner.journal.events import Event
from runner.journal.store import open_journal
from runner.policy import default_severities
from tests.conftest import REPO, write

SHIPPED = REPO / "runbooks"


def _declare(title: str, severity: Severity = Severity.SEV2, systems: tuple[str, ...] = (), impact: str = "") -> str:
    journal = open_journal()
    try:
        return declare(journal, Declaration(title, severity, systems=systems, impact=impact), "lead")
    finally:
        journal.close()


def test_an_incident_with_a_shipped_runbooks_symptom_names_it_and_the_command(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident_id = _declare("Checkout API fails: Too many connections", systems=("checkout", "postgres"))
    monkeypatch.chdir(tmp_path)  # the runbooks are elsewhere: the command names them by their full path
    shown = cli("incident", "brief", incident_id, "--runbooks", str(SHIPPED))
    assert shown.code == 0, shown.err
    out = shown.out
    command = f"fireline run {SHIPPED / 'db-connection-exhaustion.yaml'} --incident {incident_id}"
    first = out.index("## Mitigation options")
    assert out[first:].splitlines()[1].startswith("1. db-connection-exhaustion: Database connection exhaustion")
    assert f"`{command}`" in out
    assert 'symptom "Too many connections"' in out and "meant for SEV1, SEV2" in out
    # The rest of the screen: the level as the policy defines it, what to do now, how to communicate.
    assert "SEV2 high: Partial degradation, a major feature broken, multiple customers affected." in out
    assert f"- [ ] acknowledge  `fireline incident ack {incident_id}`" in out
    assert f"`fireline incident assign {incident_id} commander NAME`" in out
    assert "an update every 30m · to incidents, status-page · 0 sent so far" in out
    assert "next update due " in out
    assert len(out.splitlines()) < 50  # one screen


def test_the_command_it_names_runs_the_runbook_linked_to_the_incident(cli: Any) -> None:
    incident_id = _declare("Too many connections on the primary")
    data = cli("incident", "brief", incident_id, "--runbooks", str(SHIPPED), "--format", "json").json()
    best = data["mitigation_options"][0]
    assert best["runbook"] == "db-connection-exhaustion" and best["mitigates"] is True
    argv = best["command"].split()
    assert argv[:2] == ["fireline", "run"] and argv[-2:] == ["--incident", incident_id]
    planned = cli("plan", *argv[2:], "--no-reads", "--output", "json")  # the same arguments, as a plan
    assert planned.code == 0, planned.err
    [link] = [e for e in open_journal().events(incident_id, (iev.LINKED,))]
    assert iev.IncidentLinked.of(link).name == "db-connection-exhaustion"


def test_notes_and_alert_names_match_too_and_the_best_match_ranks_first(cli: Any) -> None:
    incident_id = _declare("Checkout is slow", systems=("checkout",))
    assert cli("incident", "note", incident_id, "alert PostgresTooManyConnections is firing").code == 0
    data = cli("incident", "brief", incident_id, "--runbooks", str(SHIPPED), "--format", "json").json()
    names = [o["runbook"] for o in data["mitigation_options"]]
    assert names[0] == "db-connection-exhaustion", names
    assert "check-error-rate" not in names  # "alert … firing" alone says nothing about which runbook fits
    assert "alert PostgresTooManyConnections" in data["mitigation_options"][0]["matches"]


def test_nothing_matching_says_so_and_where_it_looked(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident_id = _declare("Logo renders blurry", Severity.SEV4)
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "runbooks" / "broken.yaml", "kind: Runbook\nmetadata: [unclosed\n")
    write(tmp_path / "runbooks" / "scenario.yaml", "kind: GameDay\nmetadata: {name: x, symptoms: [blurry]}\n")
    shown = cli("incident", "brief", incident_id)  # ./runbooks by default
    assert shown.code == 0, shown.err
    assert "no runbook matches (searched runbooks;" in shown.out
    assert "(1 YAML file(s) could not be read" in shown.out
    assert "no regular updates" in shown.out and "next update: none due" in shown.out


def test_a_missing_runbooks_directory_or_incident_is_a_clear_error(cli: Any, tmp_path: Path) -> None:
    incident_id = _declare("Checkout down")
    missing_dir = cli("incident", "brief", incident_id, "--runbooks", str(tmp_path / "nope"))
    assert missing_dir.code == 2 and "does not exist" in missing_dir.err
    missing = cli("incident", "brief", "INC-2026-999")
    assert missing.code in (1, 2) and "no incident 'INC-2026-999'" in missing.err and "Traceback" not in missing.err


def _events(*items: tuple[str, str, dict[str, Any]]) -> list[Event]:
    return [Event("INC-2026-001", n, ts, float(n), t, None, "lead", d) for n, (ts, t, d) in enumerate(items, 1)]


def test_actions_done_and_an_overdue_update_follow_the_recorded_state() -> None:
    declared = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    events = _events(
        ("2026-12-04T03:00:00.000000Z", iev.DECLARED, {"title": "API down", "severity": "SEV1", "type": "availability",
                                                       "systems": ["api"], "started_at": "2026-12-04T02:50:00Z"}),
        ("2026-12-04T03:00:00.100000Z", iev.MILESTONE, {"name": "started", "at": "2026-12-04T02:50:00.000000Z"}),
        ("2026-12-04T03:02:00.000000Z", iev.MILESTONE, {"name": "acknowledged", "at": "2026-12-04T03:02:00Z"}),
        ("2026-12-04T03:03:00.000000Z", iev.ROLE_ASSIGNED, {"role": "commander", "name": "alice"}),
        ("2026-12-04T03:05:00.000000Z", iev.UPDATE, {"status": "investigating", "summary": "API down",
                                                     "next_update_at": "2026-12-04T03:20:00.000000Z"}),
    )  # fmt: skip
    incident = fold(events)
    shelf = guide.find_runbooks([SHIPPED])
    late = guide.build(incident, [], default_severities(), shelf, now=declared + timedelta(minutes=32))
    text = guide.text(late)
    assert "- [x] acknowledge (by lead)" in text
    assert "- [x] commander: alice" in text
    assert "- [ ] assign the tech-lead (the policy requires one)" in text  # SEV1 needs all four roles
    assert "- [x] send the first status update (incidents, status-page, leadership)" in text
    assert "next update: OVERDUE since 2026-12-04 03:20:00Z (12m ago)" in text
    assert "an update every 15m" in text
    assert "since 2026-12-04 00:50:00Z" in text  # recent changes: two hours before the impact started
    on_time = guide.build(incident, [], default_severities(), shelf, now=declared + timedelta(minutes=10))
    assert "next update due 2026-12-04 03:20:00Z (in 10m)" in guide.text(on_time)


@pytest.mark.parametrize(
    ("text", "same_as"),
    [
        ("PostgresTooManyConnections", "postgres too many connections"),  # alert names are CamelCase
        ("Too Many CONNECTIONS", "too many connection"),
        ("Slow queries and request timeouts", "slow query request timeout"),
        ("FATAL: sorry, too many clients already", "too many client"),
    ],
)
def test_words_fold_case_plurals_camel_case_and_filler(text: str, same_as: str) -> None:
    assert guide.words(text) == guide.words(same_as)
    assert guide.words("the error of a") == set()


def test_an_investigation_list_is_read_item_by_item() -> None:
    text = "- The first item\n  wraps here.\n- The second\n\nA paragraph\nthat wraps.\n"
    assert guide.bullets(text) == ["The first item wraps here.", "The second", "A paragraph that wraps."]
