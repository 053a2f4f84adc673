"""`fireline incident …` through the real CLI, on the SQLite and the PostgreSQL store: the responder's whole
flow, and hostile input (every mistake is a clear message and exit 1 or 2, never a traceback)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.identity.events import RUN_SIGNED, RunSigned
from runner.incident import events as iev
from runner.journal.store import open_journal
from tests.signers import signing_team


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    location = request.getfixturevalue("pg_db") if request.param == "postgres" else str(tmp_path / "journal.db")
    monkeypatch.setenv("FIRELINE_STORE", location)
    return location


def _declare(cli: Any, *extra: str) -> str:
    done = cli("incident", "declare", "--title", "Checkout errors", "--sev", "SEV2", *extra)
    assert done.code == 0, done.err
    return str(done.out.strip())


def test_declare_ack_assign_update_mitigate_resolve_all_show(cli: Any, store: str) -> None:
    started = (datetime.now(UTC) - timedelta(hours=26)).replace(microsecond=0)  # a multi-day incident
    declared = cli(
        "incident", "declare", "--title", "Checkout errors", "--assess", "users_affected=5000",
        "systems_down=checkout", "workaround=no", "--systems", "checkout,payments", "--impact", "cannot pay",
        "--started-at", started.isoformat().replace("+00:00", "Z"), "--as", "alice",
    )  # fmt: skip
    assert declared.code == 0, declared.err
    incident_id = declared.out.strip()
    assert incident_id == f"INC-{datetime.now(UTC).year}-001"
    assert "SEV2" in declared.err and "a system is down" in declared.err  # why this severity
    assert "roles to fill: commander, tech-lead" in declared.err
    assert cli("incident", "ack", incident_id, "--as", "bob").code == 0
    assert cli("incident", "assign", incident_id, "commander", "alice").code == 0
    assert cli("incident", "assign", incident_id, "tech-lead", "bob").code == 0
    assert cli("incident", "assign", incident_id, "participant", "carol").code == 0
    posted = cli("incident", "update", incident_id, "--status", "identified", "--summary", "DB pool exhausted",
                 "--actions", "restart api", "--actions", "raise the pool", "--eta", "30m")  # fmt: skip
    assert posted.code == 0, posted.err
    assert "[" + incident_id + "] SEV2 incident: Checkout errors" in posted.out  # the initial shape
    assert f"Started: {started:%Y-%m-%d %H:%M:%S} UTC" in posted.out and "  - raise the pool" in posted.out
    assert "status investigating → identified" in posted.out
    shown = cli("incident", "show", incident_id, "--format", "json").json()
    assert shown["status"] == "identified" and shown["next_update"]["overdue"] is False
    due = datetime.fromisoformat(shown["next_update"]["due_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=29) < due - datetime.now(UTC) <= timedelta(minutes=30)  # SEV2's cadence
    assert cli("incident", "mitigated", incident_id).code == 0
    assert cli("incident", "note", incident_id, "pool back at 40%", "--kind", "observation").code == 0
    assert cli("incident", "resolve", incident_id, "--as", "alice").code == 0

    text = cli("incident", "show", incident_id)
    assert text.code == 0
    assert f"{incident_id}  SEV2 (high)  resolved  Checkout errors" in text.out
    assert f"started       {started:%Y-%m-%d %H:%M:%S} UTC" in text.out
    assert "(+1d02h)" in text.out  # acknowledged 26 hours after the impact started, shown with the days
    assert "next update" not in text.out and "overdue" not in text.out  # nothing is due once resolved
    shown = cli("incident", "show", incident_id, "--format", "json").json()
    assert shown["roles"] == {"commander": "alice", "tech-lead": "bob"} and shown["participants"] == ["carol"]
    assert shown["milestones"]["acknowledged"]["by"] == "bob"
    assert shown["milestones"]["resolved"]["by"] == "alice"
    assert all(shown["milestones"][m] for m in ("started", "detected", "acknowledged", "mitigated", "resolved"))
    assert shown["next_update"] is None and shown["last_update"]["summary"] == "DB pool exhausted"
    assert shown["assessment"]["criteria"] == {"users_affected": "5000", "systems_down": "checkout",
                                               "workaround": "no"}  # fmt: skip
    listed = cli("incident", "list", "--format", "json").json()
    assert [row["id"] for row in listed] == [incident_id]
    assert cli("incident", "list", "--open", "--format", "json").json() == []
    types = [e.type for e in open_journal().events(incident_id)]
    assert types.count(iev.STATUS_CHANGED) == 3  # identified, monitoring (on mitigation), resolved


def test_an_update_without_news_becomes_overdue_and_show_says_by_how_much(cli: Any, store: str) -> None:
    incident_id = _declare(cli)
    assert cli("incident", "update", incident_id, "--status", "investigating", "--summary", "looking",
               "--next-update", "1ms").code == 0  # fmt: skip
    shown = cli("incident", "show", incident_id)
    assert "update overdue by" in shown.out
    assert cli("incident", "show", incident_id, "--format", "json").json()["next_update"]["overdue"] is True


def test_resolving_says_how_to_tell_the_channels(cli: Any, fireline_home: Path) -> None:
    """`resolve` sends nothing: the status page stays at the last update until a resolution update is posted,
    so it says how (only when the severity has channels to tell)."""
    incident_id = _declare(cli)
    resolved = cli("incident", "resolve", incident_id)
    assert resolved.code == 0, resolved.err
    assert (f"next: tell incidents, status-page it is resolved: fireline incident update {incident_id} "
            "--status resolved --summary '...'") in resolved.out  # fmt: skip
    quiet = cli("incident", "declare", "--title", "Typo", "--sev", "SEV4").out.strip()
    assert "next:" not in cli("incident", "resolve", quiet).out
    forced = _declare(cli)
    assert "next: tell incidents, status-page" in cli("incident", "resolve", forced, "--force", "--reason", "x").out
    drill = _declare(cli, "--type", "drill")
    assert "next:" not in cli("incident", "resolve", drill).out


def test_a_correction_records_who_why_old_and_new(cli: Any, store: str) -> None:
    incident_id = _declare(cli, "--started-at", "2026-12-01T10:00:00+01:00")
    fixed = cli("incident", "correct", incident_id, "started", "2026-12-01T08:30:00Z", "--reason", "graphs",
                "--as", "carol")  # fmt: skip
    assert fixed.code == 0, fixed.err
    assert "from 2026-12-01 09:00:00 UTC to 2026-12-01 08:30:00 UTC" in fixed.out
    started = cli("incident", "show", incident_id, "--format", "json").json()["milestones"]["started"]
    assert started["at"].startswith("2026-12-01T08:30:00")
    assert started["corrected"] == {"old": "2026-12-01T09:00:00.000000Z", "new": "2026-12-01T08:30:00.000000Z",
                                    "reason": "graphs", "by": "carol"}  # fmt: skip


def test_hostile_input_is_a_clear_error_never_a_traceback(cli: Any, store: str) -> None:
    incident_id = _declare(cli)
    cases = [
        (2, ("incident", "show", "INC-1999-001"), "no incident 'INC-1999-001'"),
        (2, ("incident", "ack", "nope"), "ids look like INC-2026-001 (INC-YEAR-NUMBER)"),  # an example, not a list
        (2, ("incident", "note", "INC-" + "9" * 5000, "x"), "9'… in the journal"),
        (2, ("incident", "declare", "--title", "x", "--sev", "SEV9"), "choose one of SEV1, SEV2, SEV3, SEV4"),
        (2, ("incident", "declare", "--title", "x"), "either --sev SEVn or --assess"),
        (2, ("incident", "declare", "--title", "x", "--sev", "SEV1", "--assess", "security=yes"), "either"),
        (2, ("incident", "declare", "--title", " ", "--sev", "SEV1"), "--title is empty"),
        (2, ("incident", "declare", "--title", "x", "--assess", "users_affected=-3"), "whole number"),
        (2, ("incident", "declare", "--title", "x", "--assess", "color=red"), "unknown criterion"),
        (2, ("incident", "declare", "--title", "x", "--assess", "security"), "KEY=VALUE"),
        (2, ("incident", "declare", "--title", "x", "--assess", "data_loss=no"), "no severity criterion applies"),
        (2, ("incident", "declare", "--title", "x", "--sev", "SEV1", "--started-at", "2026-12-04 10:00"),
         "has no time zone"),
        (2, ("incident", "declare", "--title", "x", "--sev", "SEV1", "--started-at", "yesterday"), "RFC 3339"),
        (2, ("incident", "declare", "--title", "x", "--sev", "SEV1", "--started-at", "2999-01-01T00:00:00Z"),
         "in the future"),
        (2, ("incident", "declare", "--title", "x", "--sev", "SEV1", "--type", "outage"), "incident type"),
        (2, ("incident", "sev", incident_id, "SEV0", "--reason", "r"), "not a severity"),
        (2, ("incident", "assign", incident_id, "boss", "alice"), "not a role"),
        (2, ("incident", "note", incident_id, "x", "--kind", "rant"), "not a note kind"),
        (2, ("incident", "status", incident_id, "fixed"), "not a status"),
        (2, ("incident", "correct", incident_id, "started", "2026-13-01T00:00:00Z", "--reason", "r"), "valid"),
        (2, ("incident", "correct", incident_id, "begun", "2026-12-01T00:00:00Z", "--reason", "r"), "milestone"),
        (2, ("incident", "update", incident_id, "--status", "identified", "--summary", "s", "--next-update", "soon"),
         "not a duration"),
        (1, ("incident", "status", incident_id, "closed"), "from investigating it can become identified, "
                                                             "monitoring, resolved"),
        (1, ("incident", "correct", incident_id, "acknowledged", "2020-01-01T00:00:00Z", "--reason", "r"),
         "before the impact started"),
    ]
    for code, args, message in cases:
        result = cli(*args)
        assert (result.code, message in result.err) == (code, True), (args, result.err)
        assert "Traceback" not in result.err and "internal error" not in result.err
    assert [e.type for e in open_journal().events(incident_id)] == [iev.DECLARED, iev.MILESTONE, iev.MILESTONE]


def test_closed_is_final_but_still_takes_notes_and_corrections(cli: Any, store: str) -> None:
    incident_id = _declare(cli)
    assert cli("incident", "resolve", incident_id).code == 0
    refused = cli("incident", "status", incident_id, "closed")  # closing has its own gate: `incident close`
    assert refused.code == 1 and f"fireline incident close {incident_id}" in refused.err
    rendered = {"action": "rendered", "path": "pm.md", "format": "md", "digest": "sha256:0"}
    journal = open_journal()
    journal.append(incident_id, "incident.postmortem", data=rendered, durable=True)
    journal.close()
    assert cli("incident", "close", incident_id).code == 0
    refused = cli("incident", "status", incident_id, "investigating")
    assert refused.code == 1 and "nothing (closed is final)" in refused.err
    assert cli("incident", "ack", incident_id, "--as", "bob").code == 1
    assert cli("incident", "note", incident_id, "post-mortem done", "--kind", "action").code == 0


def test_a_signed_acknowledgement_is_the_verified_principals(cli: Any, tmp_path: Path, monkeypatch) -> None:
    team = signing_team(tmp_path, monkeypatch)
    alice = team.key("alice")
    incident_id = _declare(cli)
    refused = cli("incident", "ack", incident_id, "--as", "bob", "--key", str(alice))
    assert refused.code == 2 and "--as is refused" in refused.err
    done = cli("incident", "ack", incident_id, "--key", str(alice))
    assert done.code == 0 and "as alice" in done.out
    events = open_journal().events(incident_id)
    [signed] = [RunSigned.of(e) for e in events if e.type == RUN_SIGNED]
    assert signed.act == "acknowledge" and signed.principal == "alice"
    [acked] = [e for e in events if e.type == iev.MILESTONE and e.data["name"] == "acknowledged"]
    assert acked.actor == "alice"
    audited = cli("audit", "verify", incident_id)  # the incident's chain and its signature verify
    assert audited.code == 0, audited.out + audited.err
