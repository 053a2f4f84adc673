"""The journal stores: what survives a crash, what another process sees, and the team store on PostgreSQL."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.journal.events import Event, on_one_clock
from runner.journal.store import Journal, wall_now
from runner.lab.postgres import ThrowawayPostgres
from tests.conftest import REPO, write


def test_durable_events_are_visible_at_once_and_queued_ones_at_exit(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    writer = Journal(path)
    reader = Journal(path)
    writer.append("run-1", "step.started", step_id="a", data={"mutating": True}, durable=True)
    assert [e.type for e in reader.events("run-1")] == ["step.started"]
    writer.append("run-1", "step.succeeded", step_id="a")  # read-only step: group-committed
    assert [e.type for e in reader.events("run-1")] == ["step.started"]
    writer.flush()
    assert [e.type for e in reader.events("run-1")] == ["step.started", "step.succeeded"]
    # A short-lived process that queues an event and exits still writes it.
    code = f"from runner.journal.store import Journal; Journal({str(path)!r}).append('run-2', 'gameday.note')"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    assert [e.type for e in reader.events("run-2")] == ["gameday.note"]
    assert [e.seq for e in reader.events("run-1")] == sorted(e.seq for e in reader.events("run-1"))


def test_wall_clock_times_are_utc_iso_8601_with_microseconds(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.db")
    before = datetime.now(UTC)
    written = [journal.append("run-1", "step.started", step_id=f"s{i}").ts_wall for i in range(3)]
    after = datetime.now(UTC)
    stored = [e.ts_wall for e in journal.events("run-1")]
    assert stored == written
    for text in stored:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", text), text
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
        assert before - timedelta(microseconds=1) <= at <= after
    assert stored == sorted(stored)
    assert wall_now().endswith("Z")


def test_events_from_another_machine_are_placed_by_wall_clock() -> None:
    here = Event("gd", 1, "2026-11-22T10:00:00.000000Z", 5000.0, "fault.injected", boot="boot-a")
    there = Event("gd", 2, "2026-11-22T10:00:02.500000Z", 12.0, "gameday.acknowledged", boot="boot-b")
    same = Event("gd", 3, "2026-11-22T10:00:09.000000Z", 5003.25, "gameday.recovered", boot="boot-a")
    placed = on_one_clock([here, there, same])
    assert placed[1].ts_mono == pytest.approx(5002.5)  # 2.5 s after the fault, on this machine's clock
    assert placed[2].ts_mono == 5003.25  # same boot: the exact monotonic time is kept, not the wall clock


@pytest.fixture(scope="module")
def team_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    with ThrowawayPostgres(tmp_path_factory.mktemp("store")) as pg:
        yield pg.create_database("fireline_journal")


def test_team_store_approval_from_another_machine(tmp_path: Path, cli, monkeypatch, team_store: str) -> None:
    marker = tmp_path / "changed"
    runbook = write(
        tmp_path / "rb.yaml",
        f"""\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: team}}
steps:
  - id: change
    action: shell.run
    with: {{argv: [touch, "{marker}"]}}
""",
    )
    monkeypatch.setenv("FIRELINE_STORE", team_store)
    monkeypatch.setenv("FIRELINE_HOME", str(tmp_path / "responder-laptop"))
    paused = cli("run", str(runbook), "--output", "json")
    assert paused.code == 3
    run_id = paused.json()["run_id"]
    # The approver is elsewhere: another home, the same team store.
    monkeypatch.setenv("FIRELINE_HOME", str(tmp_path / "approver-laptop"))
    assert cli("approve", run_id, "change", "--as", "lead", "--reason", "INC-9").code == 0
    monkeypatch.setenv("FIRELINE_HOME", str(tmp_path / "responder-laptop"))
    assert cli("resume", run_id).code == 0 and marker.exists()
    shown = cli("runs", "show", run_id, "--json").json()
    assert [e["actor"] for e in shown["events"] if e["type"] == "step.approved"] == ["lead"]
    assert not (tmp_path / "responder-laptop" / "journal.db").exists()  # nothing went to a local file
    listed = cli("runs", "list")
    assert run_id in listed.out and "succeeded" in listed.out
    assert "password" not in os.environ.get("FIRELINE_STORE", "")


def _journal_imports() -> dict[str, set[str]]:
    """runner.journal module → the runner.journal modules it imports when it runs (function-level imports too)."""
    graph: dict[str, set[str]] = {}
    for source in (REPO / "runner" / "journal").glob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        typing_only = {  # `if TYPE_CHECKING:` imports never run
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
            for inner in ast.walk(node)
        }
        names: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        graph[f"runner.journal.{source.stem}"] = {n for n in names if n.startswith("runner.journal.")}
    return graph


def test_journal_modules_import_each_other_without_a_cycle() -> None:
    graph = _journal_imports()

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        return any(nxt == target or reaches(nxt, target, seen | {nxt}) for nxt in graph.get(start, set()) - seen)

    assert [module for module in graph if reaches(module, module, set())] == []


def test_the_sqlite_journal_never_loads_the_postgresql_driver(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom runner.cli import main\ncode = main(['runs', 'list'])\n"
        "print(code, sorted(m for m in sys.modules if m.split('.')[0] == 'psycopg'))"
    )
    env = {**os.environ, "FIRELINE_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)}
    env.pop("FIRELINE_STORE", None)
    listed = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert listed.stdout.splitlines()[-1] == "0 []", listed.stderr
    helped = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "import sys; from runner.cli import main; sys.exit(main(['--help']))",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "psycopg" not in helped.stderr and "Usage" in helped.stdout
