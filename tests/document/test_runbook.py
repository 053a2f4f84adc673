"""`fireline validate`: every error at once, with positions and hints; YAML hazards stay cheap."""

from __future__ import annotations

import json
import time
from pathlib import Path
from xml.etree import ElementTree

from tests.conftest import REPO, write

FIVE_MISTAKES = """\
apiVersion: fireline/v1
kind: Runbook
metadata:
  name: five-mistakes
inputs:
  limit: {type: integer, default: ten}
connections:
  db: {type: postgres, dsn: "postgresql://app@127.0.0.1/app"}
steps:
  - id: count
    action: postgres.query
    with: {connection: db, sql: "SELECT count(*) AS n FROM pg_stat_activity"}
    outputs: {n: "{{ result.rows[0].n }}"}
  - id: kill
    action: postgres.terminate_backends
    whn: "{{ steps.count.outputs.n > 1 }}"
    with: {connection: db, idle_for: 5 minutes}
  - id: count
    action: control.sleep
    with: {duration: 1s}
  - id: check
    action: control.assert
    with: {that: "{{ steps.count.outputs.n > inputs.limt }}"}
"""


def test_five_independent_mistakes_give_five_errors_with_lines(tmp_path: Path, cli) -> None:
    path = write(tmp_path / "bad.yaml", FIVE_MISTAKES)
    result = cli("validate", str(path))
    assert result.code == 1
    lines = [line for line in result.out.splitlines() if line.startswith(str(path))]
    assert len(lines) == 5, result.out
    expected = [
        (6, "inputs.limit.default", "not of type integer"),
        (16, "steps[kill].whn", "did you mean 'when'"),
        (17, "steps[kill].with.idle_for", "expected a duration such as 60s or 5m, got '5 minutes'"),
        (18, "steps[2].id", "duplicate step id 'count'"),
        (23, "steps[check].with.that", "did you mean 'limit'"),
    ]
    for line, (lineno, where, text) in zip(lines, expected, strict=True):
        assert line.startswith(f"{path}:{lineno}:"), line
        assert f": {where}: " in line and text in line, line
    assert "Traceback" not in result.out + result.err


def test_unknown_action_gets_a_suggestion(tmp_path: Path, cli) -> None:
    path = write(
        tmp_path / "a.yaml",
        """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: a}
steps:
  - {id: s, action: shell.rnu, with: {argv: [true]}}
""",
    )
    result = cli("validate", str(path))
    assert result.code == 1
    assert f"{path}:5:" in result.out and "unknown action 'shell.rnu'" in result.out and "shell.run" in result.out


def test_template_rules(tmp_path: Path, cli) -> None:
    path = write(
        tmp_path / "t.yaml",
        """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: t}
connections:
  db: {type: postgres, dsn: "postgresql://x@127.0.0.1/x"}
steps:
  - id: first
    action: control.assert
    with: {that: "{{ steps.second.outputs.x }}"}
  - id: second
    action: postgres.query
    with: {connection: db, sql: "SELECT {{ inputs.x }}"}
    on_failure: goto:nowhere
  - id: third
    action: control.assert
    with: {that: "{{ bogus.thing }}"}
""",
    )
    out = cli("validate", str(path)).out
    assert "refers to a later step" in out
    assert "templates are not allowed in SQL text" in out and "params" in out
    assert "goto target 'nowhere'" in out
    assert "unknown variable 'bogus'" in out


def test_yaml_hazards(tmp_path: Path, cli) -> None:
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    prev = "a"
    for name in "bcdefghi":
        bomb += f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n"
        prev = name
    files = {
        "bomb.yaml": bomb.encode(),
        "dup.yaml": b"apiVersion: fireline/v1\nkind: Runbook\nkind: Runbook\n",
        "latin1.yaml": "apiVersion: fireline/v1\nmetadata: {name: caf\xe9}\n".encode("latin-1"),
        "empty.yaml": b"# nothing here\n",
        "list.yaml": b"- a\n- b\n",
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    started = time.perf_counter()
    result = cli("validate", str(tmp_path), "--format", "json")
    elapsed = time.perf_counter() - started
    assert result.code == 1
    report = {Path(f["file"]).name: f["errors"] for f in result.json()["files"]}
    assert "alias bomb" in report["bomb.yaml"][0]["hint"]
    assert elapsed < 1.0
    assert report["dup.yaml"][0]["line"] == 3 and "duplicate key 'kind'" in report["dup.yaml"][0]["message"]
    assert report["latin1.yaml"][0]["line"] == 2 and "invalid UTF-8" in report["latin1.yaml"][0]["message"]
    assert "empty" in report["empty.yaml"][0]["message"]
    assert "top level must be a mapping" in report["list.yaml"][0]["message"]


def test_junit_output_and_exit_codes(tmp_path: Path, cli) -> None:
    good = write(
        tmp_path / "ok" / "good.yml",
        """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: good}
steps:
  - {id: wait, action: control.sleep, with: {duration: 10ms}}
""",
    )
    assert cli("validate", str(good)).code == 0
    write(tmp_path / "ok" / "bad.yaml", "apiVersion: fireline/v2\nkind: Runbook\nmetadata: {name: b}\nsteps: []\n")
    result = cli("validate", str(tmp_path / "ok"), "--format", "junit")
    assert result.code == 1
    suite = ElementTree.fromstring(result.out)
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    assert cli("validate", str(tmp_path / "missing.yaml")).code == 2
    assert cli("validate").code == 2


def test_shipped_runbooks_are_valid(cli) -> None:
    result = cli("validate", str(REPO / "runbooks"))
    assert result.code == 0, result.out
    assert json.loads(cli("validate", str(REPO / "runbooks"), "--format", "json").out)["valid"]
