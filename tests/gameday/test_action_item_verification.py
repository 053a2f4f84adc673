"""An action item that says `verify: {gameday: SCENARIO}` is done only once a real game day of that scenario
passed after the item was created: tried on the lab with the shipped checkout-db-exhaustion scenario, a game
day before the item (refused) and one after it (accepted)."""

from __future__ import annotations

from runner.incident.action_items import ACTION_ITEM, items_of
from runner.journal.store import open_journal
from tests.gameday.conftest import SCENARIOS, CliRunner, Lab, gameday_ids

SCENARIO = "checkout-db-exhaustion"


def _game_day(lab: Lab, cli: CliRunner) -> str:
    """Run the scenario on the lab (it passes); returns the new game day's id."""
    before = set(gameday_ids(lab.home))
    done = cli("gameday", "run", str(SCENARIOS / f"{SCENARIO}.yaml"), "-i", f"service_url={lab.service_url}",
               "--report", "none")  # fmt: skip
    assert done.code == 0 and "PASSED" in done.out, done.out + done.err
    [new] = set(gameday_ids(lab.home)) - before
    return new


def test_done_only_after_a_passing_game_day_that_started_after_the_item(lab: Lab, cli: CliRunner) -> None:
    earlier = _game_day(lab, cli)  # passed, but before the item existed: it proves nothing about the fix
    declared = cli("incident", "declare", "--title", "Checkout 503: pool exhausted", "--sev", "SEV2")
    incident_id = declared.out.strip()
    added = cli("actions", "add", incident_id, "Cap the checkout pool below max_connections", "--owner", "bob",
                "--due", "2099-01-31", "--priority", "high", "--verify-gameday", SCENARIO)  # fmt: skip
    assert added.code == 0, added.err
    item_id = added.out.strip()

    not_yet = cli("actions", "update", item_id, "--status", "done")
    assert not_yet.code == 1
    assert f"can be done only once a game day of {SCENARIO} has passed after it was created" in not_yet.err
    too_early = cli("actions", "update", item_id, "--status", "done", "--verified-by", earlier)
    assert too_early.code == 1 and f"game day {earlier} started" in too_early.err
    assert f"before {item_id} was created" in too_early.err
    assert [i.status for i in items_of(open_journal(), incident_id)] == ["not-started"]

    later = _game_day(lab, cli)
    done = cli("actions", "update", item_id, "--status", "done", "--verified-by", later)
    assert done.code == 0, done.err
    assert f"{item_id}: status not-started → done" in done.out and f"verified by - → {later}" in done.out
    [item] = items_of(open_journal(), incident_id)
    assert (item.status, item.verified_by) == ("done", later)
    last = open_journal().events(incident_id, (ACTION_ITEM,))[-1]
    assert last.data["fields"] == {"status": "done", "verified_by": later}
    listed = cli("actions", "list", "--incident", incident_id, "--format", "json").json()
    assert listed[0]["status"] == "done" and listed[0]["verified_by"] == later
