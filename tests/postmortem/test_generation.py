"""What a later draft keeps of a post-mortem people have worked on (runner.postmortem.generation)."""

from __future__ import annotations

import copy
from typing import Any

from runner.postmortem import generation


def _draft(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "apiVersion": "fireline/v1", "kind": "PostMortem", "incident": "INC-2026-001", "title": "Checkout down",
        "status": "draft", "authors": [],
        "summary": {"what": "Checkout down", "severity": "SEV2", "duration": "20m", "impact": "orders fail"},
        "timeline": [{"at": "2026-12-04T09:00:00Z", "kind": "milestone", "text": "Impact started"},
                     {"at": "2026-12-04T09:03:00Z", "kind": "milestone", "text": "Detected"}],
        "impact": {"systems": ["checkout"], "users_affected": None},
        "root_cause": "", "five_whys": [{"why": "Why?", "because": ""}, {"why": "", "because": ""},
                                        {"why": "", "because": ""}],
        "went_well": ["Fast detection: 3 minutes, target 5 minutes"], "went_wrong": ["Slow acknowledgement"],
        "action_items": [{"title": "Add monitoring", "priority": "medium"}], "lessons": [],
        "generated": {"at": "2026-12-04T10:00:00Z", "by": "fireline"},
    }  # fmt: skip
    data.update(changes)
    return generation.seal(data)


def test_an_untouched_draft_is_not_edited_and_any_change_of_a_generated_field_is() -> None:
    sealed = _draft()
    assert not generation.edited(sealed)
    for path, value in (("root_cause", "a leak"), ("summary.impact", "x"), ("impact.users_affected", 3)):
        changed = copy.deepcopy(sealed)
        generation.put(changed, path, value)
        assert generation.edited(changed), path
        assert generation.changed_fields(changed) == [path]
    people_only = copy.deepcopy(sealed)
    people_only.update(status="in-review", authors=["erin"])
    assert not generation.edited(people_only)  # status and authors are people's; they do not block a draft
    assert generation.edited({k: v for k, v in sealed.items() if k != "generated"})  # written by hand


def test_a_forced_draft_keeps_what_people_wrote_and_regenerates_the_rest() -> None:
    before = _draft()
    people = copy.deepcopy(before)
    people["root_cause"] = "connection leak"
    people["summary"]["impact"] = "all orders failed for 20 minutes"
    people["went_well"].append("Clear communication")
    people["went_wrong"] = []  # people deleted fireline's sentence
    people["five_whys"][1] = {"why": "Why did the pool fill?", "because": "a leak"}
    people["action_items"][0]["id"] = "INC-2026-001-A1"  # `actions sync` wrote the id back
    people["authors"] = ["erin"]
    later = _draft(
        summary={"what": "Checkout down", "severity": "SEV2", "duration": "25m", "impact": "orders fail"},
        timeline=[*before["timeline"], {"at": "2026-12-04T09:01:00Z", "kind": "note", "text": "new note"}],
        went_well=["Fast detection: 4 minutes, target 5 minutes"],
        action_items=[{"title": "Add monitoring", "priority": "medium"}, {"title": "New item", "priority": "medium"}],
    )
    merged = generation.merge(people, later)
    out = merged.data
    assert out["root_cause"] == "connection leak"
    assert out["summary"]["impact"] == "all orders failed for 20 minutes"
    assert out["summary"]["duration"] == "25m"  # fireline's own value, regenerated
    assert out["went_well"] == ["Clear communication", "Fast detection: 4 minutes, target 5 minutes"]
    assert out["went_wrong"] == []  # deleted by people, and the new draft says the same: stays deleted
    assert out["five_whys"][1] == {"why": "Why did the pool fill?", "because": "a leak"} and len(out["five_whys"]) == 3
    assert [i.get("id") for i in out["action_items"]] == ["INC-2026-001-A1", None]  # the synced item once, not twice
    assert [row["text"] for row in out["timeline"]] == ["Impact started", "new note", "Detected"]  # in time order
    assert out["authors"] == ["erin"]
    assert {"root_cause", "summary.impact", "went_well", "five_whys", "action_items"} <= set(merged.kept)
    assert out["generated"] == later["generated"]  # the record of what fireline wrote, not of people's text
    assert generation.edited(out)  # people's work is in it: the next plain draft refuses again


def test_an_item_edited_in_the_file_and_changed_in_the_journal_is_kept_once() -> None:
    """Both sides changed a tracked item since the draft: the file keeps people's version, once (two items with
    one id made the file one `actions sync` refuses); the sync then settles the fields."""
    item = {"id": "INC-2026-001-A1", "title": "Add monitoring", "owner": "bob", "status": "not-started"}
    before = _draft(action_items=[item])
    people = copy.deepcopy(before)
    people["action_items"][0]["owner"] = "carol"
    later = _draft(action_items=[{**item, "status": "done"}, {"id": "INC-2026-001-A2", "title": "New item"}])
    out = generation.merge(people, later).data
    assert [(i["id"], i.get("owner")) for i in out["action_items"]] == [("INC-2026-001-A1", "carol"),
                                                                         ("INC-2026-001-A2", None)]  # fmt: skip


def test_a_hand_written_file_keeps_every_field_people_filled() -> None:
    hand = {"apiVersion": "fireline/v1", "kind": "PostMortem", "incident": "INC-2026-001", "title": "Our title",
            "root_cause": "", "lessons": ["Canary first"], "went_well": ["Fast detection: 3 minutes, target 5 minutes"]}
    out = generation.merge(hand, _draft()).data
    assert out["title"] == "Our title"
    assert out["root_cause"] == ""  # empty: the draft's value (also empty) is taken
    assert out["lessons"] == ["Canary first"]
    assert out["went_well"] == ["Fast detection: 3 minutes, target 5 minutes"]  # not duplicated
    assert out["timeline"][0]["text"] == "Impact started"
