"""`fireline actions …` and `fireline incident close` through the real CLI: what a responder types and sees,
hostile input (a clear message, exit 1 or 2, nothing written), concurrent adds, and `actions sync` with a
post-mortem file both ways."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.incident.action_items import ACTION_ITEM, items_of
from runner.incident.action_sync import SYNCED
from runner.journal.store import open_journal
from runner.postmortem.record import Action, record
from tests.command import FIRELINE

TODAY = datetime.now(UTC).date()


def _declare(cli: Any, title: str = "Checkout 503") -> str:
    done = cli("incident", "declare", "--title", title, "--sev", "SEV2")
    assert done.code == 0, done.err
    return str(done.out.strip())


def _add(cli: Any, incident_id: str, title: str, *extra: str, owner: str = "bob", due: str = "2099-01-31",
         priority: str = "high") -> str:  # fmt: skip
    done = cli("actions", "add", incident_id, title, "--owner", owner, "--due", due, "--priority", priority, *extra)
    assert done.code == 0, done.err
    return str(done.out.strip())


def _item_events(incident_id: str) -> list[Any]:
    return open_journal().events(incident_id, (ACTION_ITEM,))


def test_add_list_and_update_as_a_responder_sees_them(cli: Any) -> None:
    incident_id = _declare(cli)
    late = (TODAY - timedelta(days=3)).isoformat()
    first = _add(cli, incident_id, "Alert on pool saturation", due=late)
    assert first == f"{incident_id}-A1"
    second = _add(cli, incident_id, "Document the pool limits", "--type", "preventive", owner="alice",
                  priority="medium")  # fmt: skip
    other = _add(cli, _declare(cli, "Other"), "Unrelated", owner="carol", priority="low")

    table = cli("actions", "list")
    assert table.code == 0
    lines = table.out.splitlines()
    assert lines[0].split() == ["ID", "PRIORITY", "STATUS", "OWNER", "DUE", "TITLE"]
    assert f"{first}  high      not-started  bob" in lines[1] and f"{late} (3d overdue)" in lines[1]
    assert second in lines[2] and "2099-01-31  " in lines[2] and "overdue" not in lines[2]
    assert other in lines[3]

    overdue = cli("actions", "list", "--overdue", "--format", "json").json()
    assert [(i["id"], i["days_late"], i["overdue"]) for i in overdue] == [(first, 3, True)]
    assert [i["id"] for i in cli("actions", "list", "--owner", "ALICE", "--format", "json").json()] == [second]
    assert [i["id"] for i in cli("actions", "list", "--incident", incident_id, "--format", "json").json()] == [
        first, second]  # fmt: skip

    done = cli("actions", "update", first, "--status", "done", "--note", "alert rule merged")
    assert done.code == 0 and f"{first}: status not-started → done" in done.out
    assert cli("actions", "list", "--overdue").out.strip() == "no overdue action items"
    assert [i["id"] for i in cli("actions", "list", "--open", "--format", "json").json()] == [second, other]
    same = cli("actions", "update", second, "--owner", "alice")
    assert same.code == 0 and "nothing to change: nothing recorded" in same.out
    assert len(_item_events(incident_id)) == 3  # two added, one update


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("add", "{inc}", "t", "--owner", "b", "--due", "2026-02-30", "--priority", "high"), 2, "day is out of range"),
        (("add", "{inc}", "t", "--owner", "b", "--due", "next week", "--priority", "high"), 2, "not YYYY-MM-DD"),
        (("add", "{inc}", "t", "--owner", "b", "--due", "31/12/2026", "--priority", "high"), 2, "not YYYY-MM-DD"),
        (("add", "{inc}", "x" * 100_000, "--owner", "b", "--due", "2099-01-01", "--priority", "high"), 2,
         "100000 characters long: at most 200"),
        (("add", "{inc}", "fix\x1b[31m it", "--owner", "b", "--due", "2099-01-01", "--priority", "high"), 2,
         "control characters"),
        (("add", "{inc}", "t", "--owner", "b\x00c", "--due", "2099-01-01", "--priority", "high"), 2, "not a name"),
        (("add", "{inc}", "t", "--owner", "b", "--due", "2099-01-01", "--priority", "urgent"), 2, "not a priority"),
        (("add", "{inc}", "t", "--owner", "b", "--due", "2099-01-01", "--priority", "high", "--type", "x"), 2,
         "not a type"),
        (("add", "{inc}", "t", "--owner", "b", "--due", "2099-01-01", "--priority", "high", "--verify-gameday",
          "Bad Name!"), 2, "not a game-day scenario name"),
        (("add", "INC-1999-999", "t", "--owner", "b", "--due", "2099-01-01", "--priority", "high"), 2,
         "no incident 'INC-1999-999'"),
        (("add", "{inc}", "t", "--due", "2099-01-01", "--priority", "high"), 2, "Missing option '--owner'"),
        (("update", "{inc}-A9", "--status", "done"), 2, "no action item"),
        (("update", "not-an-id", "--status", "done"), 2, "not an action item id"),
        (("update", "{inc}-A1", "--status", "finished"), 2, "not a status"),
        (("update", "{inc}-A1", "--due", "2099-13-01"), 2, "month must be in 1..12"),
        (("update", "{inc}-A1", "--status", "wont-do"), 2, "says why"),
        (("update", "{inc}-A1", "--status", "done", "--note", "x" * 5000), 2, "at most 4000"),
        (("update", "{inc}-A1", "--verified-by", "gd-1"), 2, "give --status done too"),
        (("update", "{inc}-A1"), 2, "nothing to update"),
        (("sync", "/dev/null"), 2, "/dev/null: not a file"),
        (("update", "{inc}-A1", "--status", "done", "--verified-by", "gd-nope"), 1, "is not a game day"),
        (("list", "--incident", "INC-1999-999"), 2, "no incident"),
        (("list", "--format", "xml"), 2, "Invalid value for '--format'"),
    ],
)
def test_hostile_input_is_a_clear_error_and_writes_nothing(cli: Any, args: tuple[str, ...], code: int,
                                                           message: str) -> None:  # fmt: skip
    incident_id = _declare(cli)
    _add(cli, incident_id, "Alert on pool saturation")
    before = len(_item_events(incident_id))
    result = cli("actions", *(a.replace("{inc}", incident_id) for a in args))
    assert (result.code, message in result.err) == (code, True), result.err
    assert "Traceback" not in result.err and "internal error" not in result.err
    assert len(_item_events(incident_id)) == before


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_concurrent_adds_get_distinct_ids(cli: Any, store: str, request: pytest.FixtureRequest,
                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    if store == "postgres":
        monkeypatch.setenv("FIRELINE_STORE", request.getfixturevalue("pg_db"))
    incident_id = _declare(cli)
    count = 6
    argv = [*FIRELINE, "actions", "add", incident_id, "--owner", "bob", "--due", "2099-01-01", "--priority", "high"]
    procs = [
        subprocess.Popen([*argv, f"item {n}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n in range(count)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * count, outputs
    printed = sorted(out.strip() for out, _ in outputs)
    assert printed == sorted(f"{incident_id}-A{n}" for n in range(1, count + 1))
    journal = open_journal()
    items = items_of(journal, incident_id)
    journal.close()
    assert sorted(i.title for i in items) == sorted(f"item {n}" for n in range(count))
    assert sorted(i.id for i in items) == printed


# -- incident close ---------------------------------------------------------------------------------------------


def _render_recorded(incident_id: str) -> None:
    """A rendering recorded as `postmortem render` records it."""
    record(open_journal(), incident_id, Action.RENDERED, f"postmortems/{incident_id}.md", "md", "sha256:0", "alice")


def test_close_lists_everything_missing_then_closes(cli: Any, tmp_path: Path) -> None:
    incident_id = _declare(cli)
    item = _add(cli, incident_id, "Alert on pool saturation")
    pm = _postmortem(tmp_path, incident_id, [{"title": "Load-test the pool", "priority": "high"}])
    assert cli("actions", "sync", str(pm)).code == 0  # an item from the file, without owner or due date
    unowned = f"{incident_id}-A2"

    refused = cli("incident", "close", incident_id)
    assert refused.code == 1
    assert f"error: {incident_id} cannot be closed yet:" in refused.err
    assert f"it is investigating, not resolved\n      fix: fireline incident resolve {incident_id}" in refused.err
    assert "its post-mortem has not been rendered" in refused.err
    assert f"{unowned} (Load-test the pool) has no owner and no due date" in refused.err
    assert f"fix: fireline actions update {unowned} --owner NAME --due YYYY-MM-DD" in refused.err
    assert item not in refused.err  # it has both

    also_refused = cli("incident", "status", incident_id, "resolved")
    assert also_refused.code == 0
    sneaky = cli("incident", "status", incident_id, "closed")
    assert sneaky.code == 1 and f"hint: fireline incident close {incident_id}" in sneaky.err
    _render_recorded(incident_id)
    assert cli("actions", "update", unowned, "--owner", "dave", "--due", "2099-02-01").code == 0
    closed = cli("incident", "close", incident_id, "--reason", "post-mortem reviewed")
    assert closed.code == 0 and f"{incident_id}: status resolved → closed" in closed.out
    shown = cli("incident", "show", incident_id, "--format", "json").json()
    assert shown["status"] == "closed"
    again = cli("incident", "close", incident_id)
    assert again.code == 0 and "closed already: nothing recorded" in again.out
    # Work goes on after the incident: items are still added and updated.
    later = _add(cli, incident_id, "Found in the review")
    assert cli("actions", "update", later, "--status", "in-progress").code == 0
    timeline = cli("incident", "timeline", incident_id).out
    assert "closed by responder: post-mortem reviewed" in timeline
    assert "action item A3 added by responder: 'Found in the review'" in timeline


def test_close_of_an_unknown_incident_is_a_usage_error(cli: Any) -> None:
    result = cli("incident", "close", "INC-1999-001")
    assert result.code == 2 and "no incident" in result.err


# -- actions sync -----------------------------------------------------------------------------------------------


def _postmortem(tmp_path: Path, incident_id: str, items: list[dict[str, Any]]) -> Path:
    path = tmp_path / "postmortems" / f"{incident_id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"apiVersion": "fireline/v1", "kind": "PostMortem", "incident": incident_id, "title": "Checkout 503",
            "status": "draft", "action_items": items}  # fmt: skip
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _file_items(path: Path) -> list[dict[str, Any]]:
    return list(yaml.safe_load(path.read_text(encoding="utf-8"))["action_items"])


def test_sync_both_ways_and_a_second_sync_changes_nothing(cli: Any, tmp_path: Path) -> None:
    incident_id = _declare(cli)
    from_journal = _add(cli, incident_id, "Alert on pool saturation")
    pm = _postmortem(tmp_path, incident_id, [
        {"title": "Cap the pool", "owner": "alice", "due": "2099-03-01", "priority": "medium", "type": "preventive",
         "verify": {"gameday": "checkout-db-exhaustion"}, "note": "from the review"},
    ])  # fmt: skip
    first = cli("actions", "sync", str(pm))
    assert first.code == 0, first.err
    new_id = f"{incident_id}-A2"
    assert f"{new_id}: added to the journal" in first.out and f"{from_journal}: added to {pm}" in first.out
    items = _file_items(pm)
    assert [i["id"] for i in items] == [new_id, from_journal]
    assert items[0] == {"id": new_id, "title": "Cap the pool", "owner": "alice", "due": "2099-03-01",
                        "priority": "medium", "type": "preventive", "status": "not-started",
                        "verify": {"gameday": "checkout-db-exhaustion"}, "note": "from the review"}  # fmt: skip
    [added] = [e for e in _item_events(incident_id) if e.data["item_id"] == new_id]
    assert added.data["source"] == f"postmortem {pm}" and added.data["note"] == "from the review"

    content, events = pm.read_bytes(), len(open_journal().events(incident_id))
    second = cli("actions", "sync", str(pm))
    assert second.code == 0 and "agree already: nothing changed" in second.out
    assert pm.read_bytes() == content and len(open_journal().events(incident_id)) == events
    assert len(items_of(open_journal(), incident_id)) == 2

    # One change on each side: each reaches the other.
    assert cli("actions", "update", from_journal, "--status", "in-progress").code == 0
    items = _file_items(pm)
    items[0]["owner"] = "erin"
    pm.write_text(yaml.safe_dump({**yaml.safe_load(pm.read_text()), "action_items": items}), encoding="utf-8")
    third = cli("actions", "sync", str(pm))
    assert third.code == 0, third.err
    assert f"journal: {new_id}: owner 'alice' → 'erin'" in third.out
    assert f"{pm}: {from_journal}: status 'not-started' → 'in-progress'" in third.out
    by_id = {i.id: i for i in items_of(open_journal(), incident_id)}
    assert by_id[new_id].owner == "erin" and {i["id"]: i["status"] for i in _file_items(pm)}[from_journal] == \
        "in-progress"  # fmt: skip
    content = pm.read_bytes()
    assert "nothing changed" in cli("actions", "sync", str(pm)).out and pm.read_bytes() == content


def test_a_conflict_keeps_the_journal_or_refuses(cli: Any, tmp_path: Path) -> None:
    incident_id = _declare(cli)
    item = _add(cli, incident_id, "Alert on pool saturation")
    pm = _postmortem(tmp_path, incident_id, [])
    assert cli("actions", "sync", str(pm)).code == 0
    assert cli("actions", "update", item, "--owner", "carol").code == 0
    items = _file_items(pm)
    items[0]["owner"] = "dave"
    pm.write_text(yaml.safe_dump({**yaml.safe_load(pm.read_text()), "action_items": items}), encoding="utf-8")
    before = pm.read_bytes()

    refused = cli("actions", "sync", str(pm), "--on-conflict", "refuse")
    assert refused.code == 1 and f"{item} owner" in refused.err and "nothing was changed" in refused.err
    assert pm.read_bytes() == before

    kept = cli("actions", "sync", str(pm))
    assert kept.code == 0
    assert (f"conflict: {item} owner: the file says 'dave', the journal says 'carol' (both changed since the last "
            "sync): kept the journal's") in kept.out  # fmt: skip
    assert _file_items(pm)[0]["owner"] == "carol"
    assert items_of(open_journal(), incident_id)[0].owner == "carol"


def test_sync_refuses_what_the_commands_refuse_and_writes_nothing(cli: Any, tmp_path: Path) -> None:
    incident_id = _declare(cli)
    item = _add(cli, incident_id, "Alert on pool saturation", "--verify-gameday", "checkout-db-exhaustion")
    pm = _postmortem(tmp_path, incident_id, [])
    assert cli("actions", "sync", str(pm)).code == 0
    items = _file_items(pm)
    items[0]["status"] = "done"  # not proven by a game day
    items.append({"id": f"{incident_id}-A7", "title": "Typed by hand"})
    items.append({"title": "y" * 300})
    pm.write_text(yaml.safe_dump({**yaml.safe_load(pm.read_text()), "action_items": items}), encoding="utf-8")
    before, events = pm.read_bytes(), len(open_journal().events(incident_id))

    long_title = cli("actions", "sync", str(pm))
    assert long_title.code == 1 and "action_items[2]: the title is 300 characters long" in long_title.err
    items.pop()
    pm.write_text(yaml.safe_dump({**yaml.safe_load(pm.read_text()), "action_items": items}), encoding="utf-8")
    refused = cli("actions", "sync", str(pm))
    assert refused.code == 1, refused.out
    assert f"{item} is done in the file but names no game day that verifies it" in refused.err
    assert f"{incident_id}-A7 is not an action item of {incident_id}" in refused.err
    assert len(open_journal().events(incident_id)) == events and items_of(open_journal(), incident_id)[0].status \
        == "not-started"  # fmt: skip
    assert before != pm.read_bytes()  # (only the test's own edit)

    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: fireline/v1\nkind: PostMortem\nincident: [\n", encoding="utf-8")
    bad = cli("actions", "sync", str(broken))
    assert bad.code == 1 and "broken.yaml:" in bad.err and "Traceback" not in bad.err
    missing = cli("actions", "sync", str(tmp_path / "nowhere.yaml"))
    assert missing.code == 2 and "no such post-mortem file" in missing.err


def test_dropping_the_game_day_condition_in_the_file_does_not_make_an_item_done_unproven(
    cli: Any, tmp_path: Path
) -> None:
    incident_id = _declare(cli)
    item = _add(cli, incident_id, "Alert on pool saturation", "--verify-gameday", "checkout-db-exhaustion")
    pm = _postmortem(tmp_path, incident_id, [])
    assert cli("actions", "sync", str(pm)).code == 0
    items = _file_items(pm)
    del items[0]["verify"]
    items[0]["status"] = "done"
    pm.write_text(yaml.safe_dump({**yaml.safe_load(pm.read_text()), "action_items": items}), encoding="utf-8")
    refused = cli("actions", "sync", str(pm))
    assert refused.code == 1, refused.out
    assert f"{item} is done in the file but names no game day that verifies it" in refused.err
    [kept] = items_of(open_journal(), incident_id)
    assert kept.status == "not-started" and kept.verify_gameday == "checkout-db-exhaustion"


def test_the_timeline_shows_a_sync(cli: Any, tmp_path: Path) -> None:
    incident_id = _declare(cli)
    pm = _postmortem(tmp_path, incident_id, [{"title": "Cap the pool", "priority": "low"}])
    assert cli("actions", "sync", str(pm)).code == 0
    assert len(open_journal().events(incident_id, (SYNCED,))) == 1
    timeline = cli("incident", "timeline", incident_id).out
    assert f"action item A1 added by responder: 'Cap the pool' (low, corrective) (from postmortem {pm})" in timeline
    assert f"action items synced with {pm} by responder (1 item agree)" in timeline


def test_an_item_the_file_has_without_its_id_is_matched_by_title_not_added_twice(cli: Any, tmp_path: Path) -> None:
    """What a sync whose file could not be written leaves behind (the journal has the item, the file has no
    id for it), and what people do by hand: the same item, not a new one."""
    incident_id = _declare(cli)
    item = _add(cli, incident_id, "Alert on pool saturation")
    pm = _postmortem(tmp_path, incident_id, [{"title": "alert on  pool saturation", "priority": "high"},
                                             {"title": "Something new", "priority": "low"}])  # fmt: skip
    done = cli("actions", "sync", str(pm))
    assert done.code == 0, done.err
    assert f"{item}: the file's item of this title had no id: id written into the file" in done.out
    assert [i.id for i in items_of(open_journal(), incident_id)] == [item, f"{incident_id}-A2"]
    assert [i["id"] for i in _file_items(pm)] == [item, f"{incident_id}-A2"]
    assert _file_items(pm)[0]["title"] == "Alert on pool saturation"  # the title differed: the journal's is kept
    assert f"conflict: {item} title: the file says 'alert on pool saturation'" in done.out
    assert f"{pm}: {item}: owner nothing → 'bob'" in done.out  # the file said nothing: not a conflict
    assert f"conflict: {item} owner" not in done.out
    assert "nothing changed" in cli("actions", "sync", str(pm)).out


def test_from_a_note_to_a_closed_incident_with_the_real_post_mortem(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole flow as a team runs it: an action note and a tracked item, the drafted post-mortem synced,
    an owner and date given, the post-mortem rendered, the incident closed."""
    monkeypatch.chdir(tmp_path)
    incident_id = _declare(cli)
    assert cli("incident", "note", incident_id, "alert on pool saturation", "--kind", "action").code == 0
    tracked = _add(cli, incident_id, "Cap the pool", "--verify-gameday", "checkout-db-exhaustion")
    assert cli("incident", "resolve", incident_id).code == 0
    assert cli("postmortem", "draft", incident_id).code == 0
    pm = Path("postmortems") / f"{incident_id}.yaml"
    synced = cli("actions", "sync", str(pm))
    assert synced.code == 0, synced.err
    from_note = f"{incident_id}-A2"
    assert f"{from_note}: added to the journal" in synced.out
    assert [i["id"] for i in _file_items(pm)] == [tracked, from_note]
    assert "nothing changed" in cli("actions", "sync", str(pm)).out

    not_rendered = cli("incident", "close", incident_id)
    assert not_rendered.code == 1 and "its post-mortem has not been rendered" in not_rendered.err
    assert cli("postmortem", "render", str(pm), "--format", "md", "-o", "pm.md").code == 0
    assert cli("incident", "close", incident_id).code == 0  # A2 is medium: no owner needed to close
    assert cli("incident", "show", incident_id, "--format", "json").json()["status"] == "closed"


def test_syncs_at_once_add_each_new_item_once(cli: Any, tmp_path: Path) -> None:
    incident_id = _declare(cli)
    titles = [f"new item {n:02d}" for n in range(20)]
    pm = _postmortem(tmp_path, incident_id, [{"title": t, "priority": "low"} for t in titles])
    procs = [subprocess.Popen([*FIRELINE, "actions", "sync", str(pm)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(6)]  # fmt: skip
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, outputs
    journal = open_journal()
    items = items_of(journal, incident_id)
    journal.close()
    assert sorted(i.title for i in items) == titles
    assert sorted(i["id"] for i in _file_items(pm)) == sorted(i.id for i in items)


def test_sync_refuses_a_wont_do_without_a_note_before_adding_anything(cli: Any, tmp_path: Path) -> None:
    """The update's own refusals are checked with the rest, before the file's new items are added."""
    incident_id = _declare(cli)
    item = _add(cli, incident_id, "Alert on pool saturation")
    pm = _postmortem(tmp_path, incident_id, [])
    assert cli("actions", "sync", str(pm)).code == 0
    items = _file_items(pm)
    items[0]["status"] = "wont-do"  # without a note saying why
    items.append({"title": "Cap the pool"})
    pm.write_text(yaml.safe_dump({**yaml.safe_load(pm.read_text()), "action_items": items}), encoding="utf-8")
    events = len(open_journal().events(incident_id))

    refused = cli("actions", "sync", str(pm))
    assert refused.code == 1, refused.out
    assert f"{item}: an item that will not be done says why" in refused.err and "nothing was synced" in refused.err
    assert len(open_journal().events(incident_id)) == events
    assert [i.id for i in items_of(open_journal(), incident_id)] == [item]
