"""`fireline gameday ack`: who acknowledged, typed or proven by a signature."""

from __future__ import annotations

from typing import Any

from runner.gameday import events as gev
from runner.identity.events import RUN_SIGNED, RunSigned
from runner.journal.store import open_journal
from tests.signers import signing_team


def _gameday(gameday_id: str) -> None:
    journal = open_journal()
    try:
        data = gev.GameDayStarted(scenario="pod-kill", digest="sha256:scenario").to_data()
        journal.append(gameday_id, gev.GAMEDAY_STARTED, actor="lead", data=data, durable=True)
    finally:
        journal.close()


def test_ack_needs_a_name_and_refuses_a_blank_one(cli: Any) -> None:
    _gameday("gd-1")
    assert cli("gameday", "ack", "gd-1").code == 2
    assert cli("gameday", "ack", "gd-1", "--as", " ").code == 2
    assert open_journal().events("gd-1", (gev.ACKNOWLEDGED,)) == []
    assert cli("gameday", "ack", "gd-1", "--as", "alice").code == 0
    assert [e.actor for e in open_journal().events("gd-1", (gev.ACKNOWLEDGED,))] == ["alice"]


def test_a_signed_ack_is_the_verified_principals(cli: Any, tmp_path, monkeypatch) -> None:
    team = signing_team(tmp_path, monkeypatch)
    alice = team.key("alice")
    _gameday("gd-2")
    refused = cli("gameday", "ack", "gd-2", "--as", "bob", "--key", str(alice))
    assert refused.code == 2 and "--as is refused" in refused.err
    done = cli("gameday", "ack", "gd-2", "--key", str(alice))
    assert done.code == 0 and "as alice" in done.out
    events = open_journal().events("gd-2")
    [signed] = [RunSigned.of(e) for e in events if e.type == RUN_SIGNED]
    assert (signed.act, signed.principal, signed.fingerprint) == ("acknowledge", "alice", team.fingerprint(alice))
    assert [e.actor for e in events if e.type == gev.ACKNOWLEDGED] == ["alice"]
    stranger = team.key("mallory", listed=False)
    assert cli("gameday", "ack", "gd-2", "--key", str(stranger)).code == 1
    for fmt in ("md", "html", "json"):
        assert cli("gameday", "report", "gd-2", "--format", fmt).code == 0  # a signed event does not break reports
