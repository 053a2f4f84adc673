"""Alertmanager runs in pairs and retries: the same alert group reaches several intake processes at once. Two
`fireline incident intake` processes sharing one store (PostgreSQL, the team store; and one SQLite file)
receive the same group at the same moment: exactly one incident is declared, the other process attaches to
it (or, for the very same notification, finds it recorded: it is recorded once), and no incident id is skipped
or given twice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runner.incident.intake import ALERT
from runner.journal.store import open_journal
from tests.incident.intake_process import Intake
from tests.incident.test_intake import alert, notification

ROUNDS = 3


def _at_once(servers: list[Intake], bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each server gets its body at the same moment (both connections wait at one barrier)."""
    barrier = threading.Barrier(len(servers))
    answers: list[dict[str, Any]] = [{} for _ in servers]

    def post(index: int) -> None:
        barrier.wait()
        status, answer = servers[index].post(bodies[index])
        answers[index] = {"status": status, **answer}

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(servers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


@pytest.mark.parametrize("store", ["postgresql", "sqlite"])
def test_two_intakes_receiving_one_group_at_once_open_one_incident(
    store: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    if store == "postgresql":
        monkeypatch.setenv("FIRELINE_STORE", request.getfixturevalue("pg_db"))
    year = datetime.now(UTC).year
    with Intake(tmp_path, name="a") as first, Intake(tmp_path, name="b") as second:
        servers = [first, second]
        declared = []
        for n in range(ROUNDS):
            group = f'{{}}:{{alertname="Round{n}"}}'
            same = notification(alert(instance="db-1"), group=group)
            answers = _at_once(servers, [same, same])  # the very same notification, from both Alertmanagers
            assert all(a["status"] == 200 for a in answers), answers
            assert sorted(a["outcome"] for a in answers) == ["declared", "repeated"], answers
            assert answers[0]["incident"] == answers[1]["incident"]
            declared.append(answers[0]["incident"])
            # The group grows: each process gets a different notification of it at once.
            bodies = [notification(alert(instance="db-1"), alert(instance=f"db-{i + 2}"), group=group)
                      for i in range(2)]  # fmt: skip
            answers = _at_once(servers, bodies)
            assert sorted(a["outcome"] for a in answers) == ["attached", "attached"], answers
            assert {a["incident"] for a in answers} == {declared[-1]}
            # Both Alertmanagers send the group's next notification to both at once: recorded once.
            same = notification(*(alert(instance=f"db-{i}") for i in range(1, 5)), group=group)
            answers = _at_once(servers, [same, same])
            assert sorted(a["outcome"] for a in answers) == ["attached", "repeated"], answers
        assert first.stop() == 0 and second.stop() == 0
    # How often the store, not the first read, decided (timing decides; either way one incident per group).
    raced = sum(server.log().count("another intake declared it first") for server in (first, second))
    print(f"{store}: the store refused {raced} of {ROUNDS} racing declarations")
    assert declared == [f"INC-{year}-{n + 1:03d}" for n in range(ROUNDS)]  # none skipped, none twice
    journal = open_journal()
    try:
        assert [row.id for row in journal.incidents()] == declared
        for incident_id in declared:
            assert len(journal.events(incident_id, (ALERT,))) == 4
            assert len(journal.events(incident_id, ("incident.declared",))) == 1
    finally:
        journal.close()
