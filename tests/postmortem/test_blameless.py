"""The blameless-language check: a person named as the cause, and blaming phrases, each warned about at
file:line:col with the systemic question as the hint; names from the file, the policy and --names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runner.postmortem import blameless, document
from tests.conftest import write

HEAD = """\
apiVersion: fireline/v1
kind: PostMortem
incident: INC-2026-001
title: Checkout returns 503
authors: [Dana Scully]
"""


def _warnings(tmp_path: Path, body: str, names: list[str]) -> list[str]:
    pm = document.load(write(tmp_path / "pm.yaml", HEAD + body))
    assert pm.doc is not None
    return [d.render() for d in blameless.check(pm.doc, [*names, *pm.authors])]


def test_a_name_as_the_subject_of_a_failure_and_the_phrases(tmp_path: Path) -> None:
    body = ("root_cause: |\n  The pool filled up.\n"
            "  Bob accidentally deployed broken code, and alice forgot to check.\n"
            "contributing_factors:\n  - Whose fault was it?\n  - Dana should have noticed the alert\n"
            "  - Why didn't you test this?\n  - The change was careless\n  - It was human error\n")  # fmt: skip
    found = _warnings(tmp_path, body, ["Bob", "alice@example.com"])
    path = tmp_path / "pm.yaml"
    assert len(found) == 7, found
    assert found[0].startswith(f"{path}:8:3: root_cause: blame: names a person as the cause ('Bob' deployed broken)")
    assert "The deployment process didn't catch broken code" in found[0]
    assert found[1].startswith(f"{path}:8:46: root_cause: blame: names a person as the cause ('alice' forgot)")
    assert "What check or automation would have caught this?" in found[1]
    assert found[2].startswith(f"{path}:10:5: contributing_factors[0]: blame: asks whose fault it was")
    assert "('Dana' should have)" in found[3]  # a first name of the file's author; once, not also as a phrase
    assert found[4].startswith(f"{path}:12:5: contributing_factors[2]: blame: asks a person why they did not act")
    assert "What testing (or check) would have caught this?" in found[4]
    assert f"{path}:13:20: contributing_factors[3]: blame: calls a person careless" in found[5]
    assert "stops the analysis at a person" in found[6] and "what check, guard rail or automation" in found[6]


def test_facts_about_people_are_not_blame(tmp_path: Path) -> None:
    body = ("timeline:\n  - {at: 2026-12-04T09:00:00Z, text: 'Note by bob: the deploy broke checkout'}\n"
            "  - {at: 2026-12-04T09:01:00Z, text: 'Acknowledged by bob'}\n"
            "lessons: [Bobby tables is fine, 'bob restarted the pool and it recovered']\n"
            "action_items: [{title: Add canary deploys, owner: bob}]\n")  # fmt: skip
    assert _warnings(tmp_path, body, ["bob"]) == []


def test_names_come_from_the_incident_the_policy_and_the_command_line(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runner.incident.lifecycle import Declaration, declare
    from runner.incident.model import Severity
    from runner.journal.store import open_journal

    monkeypatch.chdir(tmp_path)
    journal = open_journal()
    incident_id = declare(journal, Declaration("Checkout down", Severity.SEV2, commander="Mulder"), "lead")
    assert cli("incident", "assign", incident_id, "tech-lead", "Skinner").code == 0
    body = f"incident: {incident_id}\nlessons:\n  - Mulder broke the deploy\n  - Skinner ignored the page\n" \
           "  - Krycek caused the outage\n  - Frohike misconfigured the proxy\n"
    path = write(tmp_path / "pm.yaml", HEAD.replace("incident: INC-2026-001\n", "") + body)
    checked = cli("postmortem", "validate", str(path))
    said = [line for line in checked.out.splitlines() if ": warning: " in line]
    assert [("Mulder" in s, "Skinner" in s) for s in said] == [(True, False), (False, True)]  # roles only
    named = cli("postmortem", "validate", str(path), "--names", "Krycek")
    assert sum(": warning: " in line for line in named.out.splitlines()) == 3
    write(tmp_path / "incident-policy.yaml", "apiVersion: fireline/v1\nkind: IncidentPolicy\n"
          "postmortem: {names: [Frohike]}\n")  # fmt: skip
    with_policy = cli("postmortem", "validate", str(path), "--names", "Krycek", "--strict", "--format", "json")
    assert with_policy.code == 1
    assert len(with_policy.json()["files"][0]["warnings"]) == 4
    assert with_policy.json()["valid"] is True  # warnings are not errors


def test_the_word_lists_are_data() -> None:
    words = blameless.words()
    assert any("whose fault" in p[0] for p in words.phrases)
    assert "forgot" in words.failure_verbs
    assert blameless.name_variants(["alice.smith@example.com", "Bob Smith", "x"]) == [
        "alice.smith@example.com", "alice.smith", "Bob Smith", "alice", "Bob"]  # fmt: skip


def test_the_reframing_example_keeps_no_second_blame(tmp_path: Path) -> None:
    body = "root_cause: alice deployed broken code and bob should have caught it\n"
    found = _warnings(tmp_path, body, ["alice", "bob"])
    assert len(found) == 2, found
    assert 'e.g. "The deployment process didn\'t catch broken code")' in found[0]
    assert "bob" not in found[0].split("hint:", 1)[1]
