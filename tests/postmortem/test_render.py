"""Rendering people's text safely, and tracked action items as the template's checklist."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.postmortem import document
from runner.postmortem.render_html import render_html
from runner.postmortem.render_md import render_markdown
from tests.conftest import write

HOSTILE = """\
apiVersion: fireline/v1
kind: PostMortem
incident: INC-2026-001
title: "<script>alert(1)</script> | [click](javascript:alert(1)) **bold**"
summary: {started: 2026-12-04T09:00:00Z}
timeline:
  - {at: 2026-12-04T09:01:02Z, kind: note, text: "first line\\n| injected | row |\\n## heading"}
  - {at: 2026-12-04T09:02:00Z, kind: step, text: "<img src=x onerror=alert(1)>"}
root_cause: |
  # not a heading
  - not a list
  <b>not bold</b>
went_well: ["a\\nb"]
action_items:
  - {title: "x | y <i>", owner: "eve</li><li>", due: 2026-12-11, priority: high, status: done}
"""


def test_markdown_keeps_hostile_text_inert(tmp_path: Path) -> None:
    md = render_markdown(document.load(write(tmp_path / "pm.yaml", HOSTILE)))
    assert md.splitlines()[0] == ("# Post-Mortem: \\<script\\>alert(1)\\</script\\> \\| "
                                  "\\[click\\](javascript:alert(1)) \\*\\*bold\\*\\* (2026-12-04)")  # fmt: skip
    rows = [line for line in md.splitlines() if line.startswith("| 2026")]
    assert rows == ["| 2026-12-04 09:01:02Z | first line \\| injected \\| row \\| ## heading |",
                    "| 2026-12-04 09:02:00Z | \\<img src=x onerror=alert(1)\\> |"]  # fmt: skip
    assert "\\# not a heading  \n\\- not a list  \n\\<b\\>not bold\\</b\\>" in md
    assert "- ✅ a b" in md
    assert "- [x] x \\| y \\<i\\> (@eve\\</li\\>\\<li\\>, 2026-12-11) [high]" in md
    assert not any(line.startswith("## heading") for line in md.splitlines())


def test_html_escapes_every_value(tmp_path: Path) -> None:
    page = render_html(document.load(write(tmp_path / "pm.yaml", HOSTILE)))
    assert "<script>" not in page and "<img" not in page and "<b>not" not in page and "<i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "eve&lt;/li&gt;&lt;li&gt;" in page
    assert page.count('<svg id="timeline"') == 1


@pytest.fixture
def incident(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    declared = cli("incident", "declare", "--title", "Checkout down", "--sev", "SEV3", "--as", "lead")
    assert declared.code == 0, declared.err
    return str(declared.out.strip().splitlines()[-1])


def test_tracked_items_are_the_checklist_with_owner_and_due(incident: str, cli: Any, tmp_path: Path) -> None:
    due = (date.today() + timedelta(days=7)).isoformat()
    added = cli("actions", "add", incident, "Add pool monitoring", "--owner", "alice", "--due", due, "--priority",
                "high", "--verify-gameday", "checkout-db-exhaustion")  # fmt: skip
    assert added.code == 0, added.err
    assert cli("incident", "note", incident, "Add pool monitoring", "--kind", "action").code == 0  # the same item
    assert cli("incident", "note", incident, "Review connection limits", "--kind", "action").code == 0
    assert cli("postmortem", "draft", incident).code == 0
    path = tmp_path / "postmortems" / f"{incident}.yaml"
    items = yaml.safe_load(path.read_text(encoding="utf-8"))["action_items"]
    assert items == [
        {"id": f"{incident}-A1", "title": "Add pool monitoring", "owner": "alice", "due": due, "priority": "high",
         "type": "corrective", "status": "not-started", "verify": {"gameday": "checkout-db-exhaustion"}},
        {"title": "Review connection limits", "owner": None, "due": None, "priority": "medium",
         "type": "corrective", "status": "not-started"},
    ]  # fmt: skip
    assert cli("postmortem", "render", str(path), "--format", "md", "-o", str(tmp_path / "pm.md")).code == 0
    md = (tmp_path / "pm.md").read_text(encoding="utf-8")
    assert f"- [ ] Add pool monitoring (@alice, {due}) [high; {incident}-A1; verified by game day " \
           "checkout-db-exhaustion]" in md
    assert "- [ ] Review connection limits (owner to be named, no due date) [medium]" in md
    out = cli("postmortem", "render", str(path), "--format", "md", "-o", "-")
    assert out.code == 0 and out.out.startswith("# Post-Mortem: Checkout down")
