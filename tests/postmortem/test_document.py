"""The post-mortem file: hostile YAML is a clear error with file:line:col (never a traceback), what fireline
writes loads back the same, writing is atomic and keeps the file's mode."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from runner.document.diagnostics import DocumentInvalid
from runner.postmortem import document
from tests.conftest import write

VALID = """\
apiVersion: fireline/v1
kind: PostMortem
incident: INC-2026-001
title: Checkout returns 503
status: draft
summary: {started: 2026-12-04T09:00:00Z, severity: SEV2, duration: 42m}
timeline:
  - {at: 2026-12-04T09:01:02Z, kind: milestone, text: Detected}
action_items:
  - {title: Add pool monitoring, owner: alice, due: 2026-12-11, priority: high}
"""


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path / "pm.yaml", text)
    with pytest.raises(DocumentInvalid) as caught:
        document.load(path)
    return [d.render() for d in caught.value.diagnostics]


def test_unquoted_dates_and_times_are_read_as_the_text_people_wrote(tmp_path: Path) -> None:
    pm = document.load(write(tmp_path / "pm.yaml", VALID))
    assert pm.data["summary"]["started"] == "2026-12-04T09:00:00Z"
    assert pm.data["timeline"][0]["at"] == "2026-12-04T09:01:02Z"
    assert pm.action_items[0]["due"] == "2026-12-11"
    assert (pm.incident, pm.title, pm.status) == ("INC-2026-001", "Checkout returns 503", "draft")


def test_bad_types_are_reported_each_with_its_position(tmp_path: Path) -> None:
    text = VALID.replace("title: Checkout returns 503", "title: [1, 2]").replace(
        "at: 2026-12-04T09:01:02Z", "at: yesterday").replace("priority: high", "priority: urgent") + (
        "impact: {tickets: -3, users_affected: [x]}\nsurprise: 1\n")  # fmt: skip
    found = _problems(tmp_path, text)
    path = tmp_path / "pm.yaml"
    assert f"{path}:4:8: title: expected a string, got a list" in found
    assert f"{path}:8:10: timeline[0].at: 'yesterday' is not a date and time with its zone (hint: write e.g. " \
           "2026-12-04T09:01:02Z (UTC))" in found
    assert any(f.startswith(f"{path}:10:75: action_items[0].priority: 'urgent' is not one of: high, medium, low")
               for f in found)  # fmt: skip
    assert any(f.startswith(f"{path}:11:19: impact.tickets: -3 is out of range") for f in found)
    assert any("unknown field 'surprise'" in f for f in found)


def test_a_day_that_does_not_exist_and_a_duplicate_id(tmp_path: Path) -> None:
    text = VALID + ('  - {title: a, id: INC-2026-001-A1, due: "2026-02-30"}\n'
                    "  - {title: b, id: INC-2026-001-A1}\n")  # fmt: skip
    found = _problems(tmp_path, text)
    assert any(":11:" in f and "'2026-02-30' is not a date" in f for f in found)
    assert any(":12:" in f and "id 'INC-2026-001-A1' is used twice" in f and "line 11" in f for f in found)
    unquoted = _problems(tmp_path, VALID.replace("due: 2026-12-11", "due: 2026-02-30"))
    assert any(":10:" in f and "is not a valid !!timestamp" in f for f in unquoted)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("- just\n- a list\n", "top level must be a mapping"),
        ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
            f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(9)),
         "alias bomb"),
        ("title: !!python/object/apply:os.system [echo]\n", "unsupported tag"),
        ("title: a\ntitle: b\n", "duplicate key 'title'"),
        ("title: [unclosed\n", "YAML syntax error"),
    ],
)  # fmt: skip
def test_hostile_yaml_is_a_clear_error(tmp_path: Path, text: str, said: str) -> None:
    assert any(said in f for f in _problems(tmp_path, text))


def test_a_huge_file_and_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    with huge.open("w", encoding="utf-8") as fh:
        fh.write(VALID + "lessons:\n")
        line = "  - " + "x" * 1000 + "\n"
        for _ in range(11 * 1024):
            fh.write(line)
    with pytest.raises(DocumentInvalid) as caught:
        document.load(huge)
    assert "larger than 10 MiB" in str(caught.value)
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(VALID.encode() + b"lessons: [\xff]\n")
    with pytest.raises(DocumentInvalid) as caught:
        document.load(bad)
    assert f"{bad}:11:11: invalid UTF-8 (byte 0xff)" in str(caught.value)


def test_the_commands_report_hostile_files_without_a_traceback(tmp_path: Path, cli: Any) -> None:
    path = write(tmp_path / "pm.yaml", VALID.replace("title: Checkout returns 503", "title: {a: 1}"))
    checked = cli("postmortem", "validate", str(path))
    assert checked.code == 1
    assert f"{path}:4:8: title: expected a string, got a mapping" in checked.out
    assert "1 file(s) checked: 1 invalid" in checked.out
    rendered = cli("postmortem", "render", str(path), "--format", "md")
    assert rendered.code == 1 and "Traceback" not in rendered.err and f"{path}:4:8" in rendered.err
    assert not path.with_suffix(".md").exists()
    missing = cli("postmortem", "validate", str(tmp_path / "nope.yaml"))
    assert missing.code == 1 and "cannot read file" in missing.out
    directory = cli("postmortem", "render", str(tmp_path), "--format", "html")
    assert directory.code == 1 and "it is a directory" in directory.err
    unknown = cli("postmortem", "draft", "INC-2026-999")
    assert unknown.code == 2 and "no incident 'INC-2026-999'" in unknown.err


def test_what_is_written_loads_back_the_same_and_keeps_the_mode(tmp_path: Path) -> None:
    pm = document.load(write(tmp_path / "pm.yaml", VALID))
    data = dict(pm.data)
    data["lessons"] = ["two lines\nof text", "a: colon, # hash and 'quotes'", "→ — unicode"]
    out = tmp_path / "deep" / "out.yaml"
    digest = document.write(out, data)
    assert digest.startswith("sha256:") and len(digest) == 71
    assert document.load(out).data == data
    assert "- |-\n  two lines\n  of text" in out.read_text(encoding="utf-8")  # a reviewer reads it as written
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    os.chmod(out, 0o600)
    document.write(out, data)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [p.name for p in out.parent.iterdir()] == ["out.yaml"]  # no temporary file left behind
    assert document.default_path(" inc-2026-001 ") == Path("postmortems/INC-2026-001.yaml")


def test_fireline_validate_checks_post_mortems_like_runbooks(tmp_path: Path, cli: Any) -> None:
    good = write(tmp_path / "good.yaml", VALID)
    bad = write(tmp_path / "bad.yaml", VALID.replace("priority: high", "priority: urgent"))
    checked = cli("validate", str(good), str(bad))
    assert checked.code == 1
    assert f"{bad}:10:75: action_items[0].priority: 'urgent' is not one of: high, medium, low" in checked.out
    assert str(good) not in checked.out and "2 file(s) checked: 1 invalid, 1 error(s)" in checked.out


def test_an_output_that_cannot_be_written_is_a_clear_error(tmp_path: Path, cli: Any) -> None:
    path = write(tmp_path / "pm.yaml", VALID)
    blocker = write(tmp_path / "a-file", "x")
    for target in (blocker / "out.md", tmp_path):
        rendered = cli("postmortem", "render", str(path), "--format", "md", "-o", str(target))
        assert rendered.code == 2 and f"cannot write {target}" in rendered.err, rendered.err
        assert "Traceback" not in rendered.err


def test_a_draft_never_replaces_a_file_it_cannot_read_or_of_another_incident(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runner.incident.lifecycle import Declaration, declare
    from runner.incident.model import Severity
    from runner.journal.store import open_journal

    monkeypatch.chdir(tmp_path)
    incident_id = declare(open_journal(), Declaration("Checkout down", Severity.SEV3), "lead")
    broken = write(tmp_path / "broken.yaml", "title: [unclosed\n")
    other = write(tmp_path / "other.yaml", VALID.replace("INC-2026-001", "INC-2025-042"))
    for path, said in ((broken, "cannot be read as a post-mortem"), (other, "is the post-mortem of 'INC-2025-042'")):
        before = path.read_bytes()
        for force in ((), ("--force",)):
            refused = cli("postmortem", "draft", incident_id, "-o", str(path), *force)
            assert refused.code == 1 and said in refused.err, refused.err
            assert path.read_bytes() == before
    assert not any(e.type == "incident.postmortem" for e in open_journal().events(incident_id))
