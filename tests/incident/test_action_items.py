"""Action items as journal events: ids per incident, the fold, validation of what people give, the game day
that proves an item done, closing an incident, and the timeline line."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from runner.errors import FirelineError, UsageError
from runner.gameday import events as gev
from runner.incident import action_items as ai
from runner.incident.closing import CloseRefused, close, close_problems
from runner.incident.lifecycle import Declaration, TransitionRefused, declare, resolve, set_status
from runner.incident.model import Severity, Status
from runner.incident.store import UnknownIncident, load
from runner.incident.timeline import collect, zone
from runner.journal.events import Event
from runner.journal.store import Journal
from runner.postmortem.record import Action, record


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.db")


def _incident(journal: Journal, title: str = "Checkout 503") -> str:
    return declare(journal, Declaration(title, Severity.SEV2), "alice")


def _item(title: str = "Alert on pool saturation", **fields: object) -> ai.NewItem:
    values: dict[str, object] = {"priority": ai.Priority.HIGH, "owner": "bob", "due": date(2026, 12, 18)}
    values.update(fields)
    return ai.NewItem(title, **values)  # type: ignore[arg-type]


def test_ids_are_per_incident_in_order_and_the_event_carries_every_field(journal: Journal) -> None:
    first, second = _incident(journal), _incident(journal, "Another")
    assert ai.add_item(journal, first, _item(), "alice") == f"{first}-A1"
    assert ai.add_item(journal, first, _item("Second"), "alice") == f"{first}-A2"
    assert ai.add_item(journal, second, _item("Other"), "carol") == f"{second}-A1"
    [added, _] = journal.events(first, (ai.ACTION_ITEM,))
    assert added.actor == "alice" and added.data == {
        "item_id": f"{first}-A1", "change": "added", "note": "", "source": "command",
        "fields": {"title": "Alert on pool saturation", "owner": "bob", "due": "2026-12-18", "priority": "high",
                   "type": "corrective", "status": "not-started", "verify_gameday": None, "verified_by": None},
    }  # fmt: skip
    assert [i.id for i in ai.all_items(journal)] == [f"{first}-A1", f"{first}-A2", f"{second}-A1"]
    assert [i.title for i in ai.items_of(journal, first.lower())] == ["Alert on pool saturation", "Second"]


def test_an_update_changes_only_what_it_names_and_keeps_the_notes(journal: Journal) -> None:
    incident_id = _incident(journal)
    item = ai.find(journal, ai.add_item(journal, incident_id, _item(), "alice"))
    changed = ai.update_item(journal, item, ai.ItemChange(status=ai.ItemStatus.IN_PROGRESS, owner="dave"), "bob",
                             note="picked up")  # fmt: skip
    assert changed == {"status": "in-progress", "owner": "dave"}
    again = ai.find(journal, item.id)
    assert (again.status, again.owner, again.due, again.title, again.notes) == (
        "in-progress", "dave", date(2026, 12, 18), "Alert on pool saturation", ("picked up",))  # fmt: skip
    assert again.created_at == item.created_at and again.updated_at >= item.updated_at
    # The same values again: nothing to record, nothing written.
    count = len(journal.events(incident_id))
    assert ai.update_item(journal, again, ai.ItemChange(owner="dave"), "bob") is None
    assert len(journal.events(incident_id)) == count


def test_values_a_newer_version_wrote_are_skipped_not_misread(journal: Journal) -> None:
    incident_id = _incident(journal)
    item_id = ai.add_item(journal, incident_id, _item(), "alice")
    strange = {"status": "blocked-by-vendor", "priority": 7, "due": "someday", "owner": ["x"]}
    journal.append(incident_id, ai.ACTION_ITEM, data={"item_id": item_id, "change": "updated", "fields": strange})
    journal.append(incident_id, ai.ACTION_ITEM, data={"item_id": f"{incident_id}-A9", "change": "updated"})
    [item] = ai.items_of(journal, incident_id)
    assert (item.status, item.priority, item.due, item.owner) == ("not-started", "high", date(2026, 12, 18), "bob")


def test_overdue_means_open_and_due_before_today() -> None:
    now = datetime(2026, 12, 4, tzinfo=UTC)
    item = ai.ActionItem("INC-2026-001-A1", "INC-2026-001", "t", "bob", date(2026, 12, 1), ai.Priority.LOW,
                         ai.ItemType.DETECTIVE, ai.ItemStatus.IN_PROGRESS, None, None, now, now)  # fmt: skip
    assert item.overdue(date(2026, 12, 4)) and item.days_late(date(2026, 12, 4)) == 3
    assert not item.overdue(date(2026, 12, 1))  # due today is not late yet
    from dataclasses import replace

    assert not replace(item, status=ai.ItemStatus.DONE).overdue(date(2027, 1, 1))
    assert not replace(item, due=None).overdue(date(2027, 1, 1))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ai.parse_due("2026-02-30"), "day is out of range"),
        (lambda: ai.parse_due("12/18/2026"), "not YYYY-MM-DD"),
        (lambda: ai.parse_due("2026-1-5"), "not YYYY-MM-DD"),
        (lambda: ai.parse_due("tomorrow"), "not YYYY-MM-DD"),
        (lambda: ai.parse_due("0001-01-01"), "not a plausible date"),
        (lambda: ai.parse_due("2026-12-18T10:00:00Z"), "not YYYY-MM-DD"),
        (lambda: ai.clean_title(""), "title is empty"),
        (lambda: ai.clean_title("x" * 5000), "5000 characters long: at most 200"),
        (lambda: ai.clean_title("fix\x1b]0;pwned\x07 it"), "control characters"),
        (lambda: ai.clean_title("line one\nline two"), "line breaks"),
        (lambda: ai.clean_owner("bob\nalice"), "is not a name"),
        (lambda: ai.clean_owner(" "), "is not a name"),
        (lambda: ai.clean_scenario("../etc/passwd"), "not a game-day scenario name"),
        (lambda: ai.parse_choice(ai.Priority, "urgent", "priority"), "choose one of high, medium, low"),
        (lambda: ai.parse_item_id("INC-2026-001"), "not an action item id"),
        (lambda: ai.parse_item_id("INC-2026-001-A0"), "not an action item id"),
    ],
)
def test_hostile_values_are_usage_errors(call: object, message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        call()  # type: ignore[operator]
    assert caught.value.exit_code == 2


def test_unknown_items_and_incidents_are_named(journal: Journal) -> None:
    incident_id = _incident(journal)
    ai.add_item(journal, incident_id, _item(), "alice")
    with pytest.raises(ai.UnknownItem, match=f"no action item {incident_id}-A7 in {incident_id} \\(it has "):
        ai.find(journal, f"{incident_id.lower()}-a7")
    with pytest.raises(UnknownIncident):
        ai.find(journal, "INC-1999-123-A1")
    with pytest.raises(UnknownIncident):
        ai.add_item(journal, "INC-1999-123", _item(), "alice")


def test_wont_do_says_why(journal: Journal) -> None:
    item = ai.find(journal, ai.add_item(journal, _incident(journal), _item(), "alice"))
    with pytest.raises(UsageError, match="says why"):
        ai.update_item(journal, item, ai.ItemChange(status=ai.ItemStatus.WONT_DO), "bob")
    assert ai.update_item(journal, item, ai.ItemChange(status=ai.ItemStatus.WONT_DO), "bob", note="superseded")


# -- game days proving an item done ---------------------------------------------------------------------------


def _game_day(journal: Journal, gameday_id: str, scenario: str, status: gev.Status | None) -> None:
    """A game day's start and end as `gameday run` records them."""
    started = gev.GameDayStarted(scenario=scenario, title=scenario)
    journal.append(gameday_id, gev.GAMEDAY_STARTED, data=started.to_data(), durable=True)
    if status is not None:
        journal.append(gameday_id, gev.FINISHED, data=gev.GameDayFinished(status).to_data(), durable=True)


def test_only_a_passed_game_day_of_the_scenario_run_after_the_item_verifies_it(journal: Journal) -> None:
    incident_id = _incident(journal)
    _game_day(journal, "gd-before", "checkout-db-exhaustion", gev.Status.PASSED)
    item = ai.find(journal, ai.add_item(journal, incident_id, _item(verify_gameday="checkout-db-exhaustion"), "a"))
    _game_day(journal, "gd-other", "checkout-bad-rollout", gev.Status.PASSED)
    _game_day(journal, "gd-failed", "checkout-db-exhaustion", gev.Status.FAILED)
    _game_day(journal, "gd-running", "checkout-db-exhaustion", None)
    done = ai.ItemStatus.DONE
    refusals = {
        None: "can be done only once a game day of checkout-db-exhaustion has passed",
        "gd-before": "before INC-",
        "gd-other": "ran scenario checkout-bad-rollout, not checkout-db-exhaustion",
        "gd-failed": "ended failed",
        "gd-running": "has not finished",
        "gd-nowhere": "is not a game day in the journal",
    }
    for gameday, message in refusals.items():
        with pytest.raises(ai.VerificationRefused, match=message) as caught:
            ai.update_item(journal, item, ai.ItemChange(status=done, verified_by=gameday), "bob")
        assert caught.value.exit_code == 1
    assert ai.find(journal, item.id).status == "not-started"  # nothing written by a refusal
    _game_day(journal, "gd-after", "checkout-db-exhaustion", gev.Status.PASSED)
    assert ai.update_item(journal, item, ai.ItemChange(status=done, verified_by="gd-aft"), "bob") == {
        "status": "done", "verified_by": "gd-after"}  # fmt: skip  # a unique prefix names it, as `runs show` takes
    reopened = ai.update_item(journal, ai.find(journal, item.id), ai.ItemChange(status=ai.ItemStatus.IN_PROGRESS),
                              "bob")  # fmt: skip
    assert reopened == {"status": "in-progress", "verified_by": None}  # the old proof no longer counts


def test_an_item_without_a_game_day_condition_is_simply_done(journal: Journal) -> None:
    item = ai.find(journal, ai.add_item(journal, _incident(journal), _item(), "alice"))
    assert ai.update_item(journal, item, ai.ItemChange(status=ai.ItemStatus.DONE), "bob") == {"status": "done"}
    change = ai.ItemChange(verified_by="gd-x", owner="z", status=ai.ItemStatus.IN_PROGRESS)
    with pytest.raises(UsageError, match="give --status done too"):
        ai.update_item(journal, ai.find(journal, item.id), change, "b")


# -- closing --------------------------------------------------------------------------------------------------


def _rendered(journal: Journal, incident_id: str) -> None:
    """A rendering recorded as `postmortem render` records it."""
    record(journal, incident_id, Action.RENDERED, f"postmortems/{incident_id}.md", "md", "sha256:0", "alice")


def test_closing_needs_resolution_a_rendered_post_mortem_and_owned_dated_high_items(journal: Journal) -> None:
    incident_id = _incident(journal)
    high = ai.add_item(journal, incident_id, _item(owner=None, due=None), "alice", source="postmortem pm.yaml")
    ai.add_item(journal, incident_id, _item("Nice to have", priority=ai.Priority.LOW, owner=None, due=None), "a")
    with pytest.raises(CloseRefused) as caught:
        close(journal, load(journal, incident_id), "", "alice")
    text = str(caught.value)
    assert f"it is investigating, not resolved\n      fix: fireline incident resolve {incident_id}" in text
    assert f"fix: fireline postmortem draft {incident_id}, then fireline postmortem render" in text
    assert f"{high} (Alert on pool saturation) has no owner and no due date" in text
    assert f"fix: fireline actions update {high} --owner NAME --due YYYY-MM-DD" in text
    assert "Nice to have" not in text  # low priority: not a reason to keep the incident open
    assert load(journal, incident_id).status is Status.INVESTIGATING

    resolve(journal, load(journal, incident_id), "alice")
    _rendered(journal, incident_id)
    item = ai.find(journal, high)
    ai.update_item(journal, item, ai.ItemChange(owner="bob"), "alice")
    [missing] = close_problems(journal, load(journal, incident_id))
    assert missing.fix == f"fireline actions update {high} --due YYYY-MM-DD"
    ai.update_item(journal, ai.find(journal, high), ai.ItemChange(due=date(2027, 1, 15)), "alice")
    assert close(journal, load(journal, incident_id), "reviewed", "alice") is True
    closed = load(journal, incident_id)
    assert (closed.status, closed.closed_reason) == (Status.CLOSED, "reviewed")
    assert [e.type for e in journal.events(incident_id)][-2:] == ["incident.status_changed", "incident.closed"]
    assert close(journal, closed, "again", "alice") is False
    # Items outlive the incident: still added and updated once it is closed.
    late = ai.add_item(journal, incident_id, _item("Found in review"), "carol")
    assert ai.update_item(journal, ai.find(journal, late), ai.ItemChange(status=ai.ItemStatus.DONE), "carol")


def test_no_other_way_closes_an_incident(journal: Journal) -> None:
    incident_id = _incident(journal)
    resolve(journal, load(journal, incident_id), "alice")
    with pytest.raises(TransitionRefused, match="closing checks the post-mortem") as caught:
        set_status(journal, load(journal, incident_id), Status.CLOSED, "alice")
    assert caught.value.hint == f"fireline incident close {incident_id}"
    assert load(journal, incident_id).status is Status.RESOLVED


def test_a_done_or_dropped_high_item_needs_no_owner(journal: Journal) -> None:
    incident_id = _incident(journal)
    resolve(journal, load(journal, incident_id), "alice")
    _rendered(journal, incident_id)
    item = ai.find(journal, ai.add_item(journal, incident_id, _item(owner=None), "alice"))
    assert [m.what for m in close_problems(journal, load(journal, incident_id))] == [
        f"high-priority action item {item.id} (Alert on pool saturation) has no owner"]  # fmt: skip
    ai.update_item(journal, item, ai.ItemChange(status=ai.ItemStatus.WONT_DO), "alice", note="replaced by A2")
    assert close_problems(journal, load(journal, incident_id)) == []


# -- the timeline ---------------------------------------------------------------------------------------------


def test_the_timeline_tells_each_change(journal: Journal) -> None:
    incident_id = _incident(journal)
    item = ai.find(journal, ai.add_item(journal, incident_id, _item(verify_gameday="checkout-db-exhaustion"), "al"))
    change = ai.ItemChange(status=ai.ItemStatus.IN_PROGRESS, due=date(2026, 12, 20))
    with pytest.raises(UsageError, match="control characters"):
        ai.update_item(journal, item, change, "bob", note="started\x1b[2J on it")
    ai.update_item(journal, item, change, "bob", note="started on it")
    lines = [e.text for e in collect(journal, incident_id, zone(None)).entries if e.type == ai.ACTION_ITEM]
    assert lines == [
        "action item A1 added by al: 'Alert on pool saturation' (high, corrective, owner bob, due 2026-12-18, "
        "verified by a game day of checkout-db-exhaustion)",
        "action item A1 updated by bob: due 2026-12-20; status in-progress — started on it",
    ]


def test_describe_survives_a_damaged_event() -> None:
    event = Event("INC-2026-001", 1, "2026-12-04T10:00:00Z", 0.0, ai.ACTION_ITEM, data={"fields": "nonsense"})
    assert ai.describe(event).startswith("action item ? updated")


def test_a_refusal_is_a_fireline_error_never_a_bug(journal: Journal) -> None:
    incident_id = _incident(journal)
    with pytest.raises(FirelineError):
        ai.add_item(journal, incident_id, _item(verify_gameday="x", status=ai.ItemStatus.DONE), "alice")
    assert journal.events(incident_id, (ai.ACTION_ITEM,)) == []
    assert (datetime.now(UTC) - timedelta(days=1)).date() < ai.today_utc()


def test_items_are_listed_by_incident_number_not_text() -> None:
    def event(incident_id: str, seq: int) -> Event:
        data = {"item_id": f"{incident_id}-A1", "change": "added", "fields": {"title": incident_id}}
        return Event(incident_id, seq, "2026-12-04T10:00:00Z", 0.0, ai.ACTION_ITEM, data=data)

    ids = ["INC-2027-001", "INC-2026-1000", "INC-2026-999"]
    assert [i.incident_id for i in ai.fold(event(i, n) for n, i in enumerate(ids))] == [
        "INC-2026-999", "INC-2026-1000", "INC-2027-001"]  # fmt: skip
