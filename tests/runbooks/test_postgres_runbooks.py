"""The PostgreSQL runbooks end to end, through the CLI, against a real server where the symptom was created
first: the runbook must really fix it, and `plan` must really change nothing."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from runner.cli import main
from runner.lab.postgres import ThrowawayPostgres
from tests.conftest import wait_for

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
DB = "app"


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrowawayPostgres]:
    with ThrowawayPostgres(tmp_path_factory.mktemp("pg")) as server:
        server.create_database(DB)
        yield server


@pytest.fixture(autouse=True)
def env(pg: ThrowawayPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRELINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PRIMARY_DSN", pg.dsn(DB))
    monkeypatch.setenv("FIRELINE_ACTOR", "tester")


@pytest.fixture
def open_sessions(pg: ThrowawayPostgres) -> Iterator[Callable[[int, str], list[psycopg.Connection[Any]]]]:
    opened: list[psycopg.Connection[Any]] = []

    def open_(count: int, app: str) -> list[psycopg.Connection[Any]]:
        conns = [psycopg.connect(pg.dsn(DB), application_name=app, autocommit=True) for _ in range(count)]
        opened.extend(conns)
        return conns

    yield open_
    for conn in opened:
        conn.close()


def sessions(pg: ThrowawayPostgres, app: str) -> int:
    return int(pg.psql(f"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'", DB))


def run_cli(capsys: pytest.CaptureFixture[str], command: str, runbook: str, *inputs: str,
            approve: bool = True) -> tuple[int, dict[str, Any]]:
    argv = [command, str(RUNBOOKS / runbook)]
    for pair in inputs:
        argv += ["-i", pair]
    if command == "run" and approve:
        argv += ["--approve-all", "--reason", "test"]
    capsys.readouterr()
    code = main([*argv, "--output", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def steps(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in doc["steps"]}


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    wait_for(predicate, what, timeout, every=0.05)


# --- db-connection-exhaustion -----------------------------------------------------------------------------


def test_connection_exhaustion_plan_changes_nothing_and_run_terminates_the_leak(
        pg: ThrowawayPostgres, capsys: pytest.CaptureFixture[str], open_sessions: Any) -> None:
    leaky = open_sessions(20, "leaky-app")
    time.sleep(1.5)
    inputs = ("idle_for=1s", "threshold_pct=10")

    code, plan = run_cli(capsys, "plan", "db-connection-exhaustion.yaml", *inputs)
    assert code == 0 and plan["status"] == "planned"
    terminate = steps(plan)["terminate-idle"]
    assert terminate["verdict"] == "would-change" and terminate["summary"] == "would terminate 20 sessions"
    assert sum("app=leaky-app" in line for line in terminate["details"]) == 20
    assert sessions(pg, "leaky-app") == 20

    keepers = open_sessions(3, "keeper")  # idle, but for less than idle_for when the run starts: spared
    code, run = run_cli(capsys, "run", "db-connection-exhaustion.yaml", *inputs)
    assert code == 0, run
    assert run["status"] == "succeeded"
    result = steps(run)
    assert result["terminate-idle"]["outputs"] == {"terminated": 20}
    assert result["connection-usage"]["outputs"]["idle"] >= 23 and result["connection-usage"]["outputs"]["total"] >= 23
    assert result["top-holders"]["outputs"]["top_application"] == "leaky-app"
    assert any("[MONITORING] Terminated 20 idle database sessions" in line
               for line in result["status-mitigated"]["log"])
    assert sessions(pg, "leaky-app") == 0
    with pytest.raises(psycopg.OperationalError):
        leaky[0].execute("SELECT 1")
    assert sessions(pg, "keeper") == 3 and keepers[0].execute("SELECT 1").fetchone() == (1,)


def test_connection_exhaustion_without_approval_pauses_and_terminates_nothing(
        pg: ThrowawayPostgres, capsys: pytest.CaptureFixture[str], open_sessions: Any) -> None:
    open_sessions(5, "leaky-app")
    time.sleep(1.2)
    code, run = run_cli(capsys, "run", "db-connection-exhaustion.yaml", "idle_for=1s", "threshold_pct=1",
                        approve=False)
    assert code == 3 and run["status"] == "paused" and run["failed_step"] == "terminate-idle"
    assert sessions(pg, "leaky-app") == 5


def test_connection_exhaustion_max_guard_fails_the_run_and_terminates_nothing(
        pg: ThrowawayPostgres, capsys: pytest.CaptureFixture[str], open_sessions: Any) -> None:
    open_sessions(8, "leaky-app")
    time.sleep(1.2)
    code, run = run_cli(capsys, "run", "db-connection-exhaustion.yaml", "idle_for=1s", "threshold_pct=1",
                        "max_terminate=5")
    assert code == 1 and run["failed_step"] == "terminate-idle"
    assert "8 sessions match, more than max 5" in run["message"]
    assert sessions(pg, "leaky-app") == 8


def test_connection_exhaustion_below_threshold_terminates_nothing(
        pg: ThrowawayPostgres, capsys: pytest.CaptureFixture[str], open_sessions: Any) -> None:
    open_sessions(3, "leaky-app")
    time.sleep(1.2)
    code, run = run_cli(capsys, "run", "db-connection-exhaustion.yaml", "idle_for=1s", "threshold_pct=90")
    assert code == 0
    assert steps(run)["terminate-idle"]["status"] == "skipped"
    assert sessions(pg, "leaky-app") == 3


# --- long-running-queries ---------------------------------------------------------------------------------


def test_long_running_queries_are_cancelled(
        pg: ThrowawayPostgres, capsys: pytest.CaptureFixture[str], open_sessions: Any) -> None:
    slow, quick = open_sessions(2, "report-job")
    errors: list[BaseException] = []

    def long_query() -> None:
        try:
            slow.execute("SELECT pg_sleep(60)")
        except psycopg.Error as exc:
            errors.append(exc)

    thread = threading.Thread(target=long_query, daemon=True)
    thread.start()
    time.sleep(1.0)
    inputs = ("min_duration=500ms", "application_name=report-job")

    code, plan = run_cli(capsys, "plan", "long-running-queries.yaml", *inputs)
    assert code == 0
    planned = steps(plan)
    assert planned["long-running"]["verdict"] == "read"
    assert planned["stop-long-queries"]["verdict"] == "would-change"
    assert f"pid {slow.info.backend_pid}:" in "\n".join(planned["stop-long-queries"]["details"])
    assert thread.is_alive() and not errors

    code, run = run_cli(capsys, "run", "long-running-queries.yaml", *inputs)
    assert code == 0, run
    result = steps(run)
    assert result["long-running"]["outputs"]["pids"] == [slow.info.backend_pid]
    assert result["stop-long-queries"]["outputs"] == {"stopped": 1}
    assert result["recheck"]["outputs"] == {"remaining": 0}
    thread.join(5)
    assert errors and isinstance(errors[0], psycopg.errors.QueryCanceled)
    # Cancel keeps the sessions: the client can go on.
    assert slow.execute("SELECT 1").fetchone() == (1,) and quick.execute("SELECT 1").fetchone() == (1,)


def test_long_running_queries_terminate_mode_ends_the_session(
        pg: ThrowawayPostgres, capsys: pytest.CaptureFixture[str], open_sessions: Any) -> None:
    (slow,) = open_sessions(1, "batch")
    thread = threading.Thread(target=lambda: _swallow(lambda: slow.execute("SELECT pg_sleep(60)")), daemon=True)
    thread.start()
    time.sleep(1.0)
    code, run = run_cli(capsys, "run", "long-running-queries.yaml", "min_duration=500ms", "mode=terminate",
                        "application_name=batch")
    assert code == 0, run
    thread.join(5)
    assert sessions(pg, "batch") == 0


def test_no_long_running_queries_changes_nothing(pg: ThrowawayPostgres, capsys: pytest.CaptureFixture[str]) -> None:
    code, run = run_cli(capsys, "run", "long-running-queries.yaml", "min_duration=1h")
    assert code == 0
    assert steps(run)["stop-long-queries"]["status"] == "skipped"


def _swallow(fn: Callable[[], Any]) -> None:
    with contextlib.suppress(psycopg.Error):
        fn()


# --- lock-contention --------------------------------------------------------------------------------------


def test_lock_contention_root_blocker_is_terminated_and_waiters_proceed(
        pg: ThrowawayPostgres, capsys: pytest.CaptureFixture[str], open_sessions: Any) -> None:
    pg.psql("DROP TABLE IF EXISTS accounts; CREATE TABLE accounts (id int PRIMARY KEY, balance int); "
            "INSERT INTO accounts VALUES (1, 100)", DB)
    blocker, waiter1, waiter2, bystander = open_sessions(4, "billing")
    blocker.execute("BEGIN")
    blocker.execute("UPDATE accounts SET balance = balance - 10 WHERE id = 1")  # then forgets to commit
    finished: list[str] = []

    def update(conn: psycopg.Connection[Any], name: str) -> None:
        conn.execute("UPDATE accounts SET balance = balance + 1 WHERE id = 1")
        finished.append(name)

    threads = [threading.Thread(target=update, args=(c, n), daemon=True)
               for c, n in ((waiter1, "w1"), (waiter2, "w2"))]
    for t in threads:
        t.start()
    wait_until(lambda: pg.psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'", DB) == "2",
               "both waiters to block")
    time.sleep(0.5)
    inputs = ("min_wait=200ms",)

    code, plan = run_cli(capsys, "plan", "lock-contention.yaml", *inputs)
    assert code == 0
    planned = steps(plan)
    assert planned["terminate-blockers"]["verdict"] == "would-change"
    assert planned["terminate-blockers"]["summary"] == "would terminate 1 session"
    assert f"pid {blocker.info.backend_pid}:" in planned["terminate-blockers"]["details"][0]
    assert not finished and blocker.execute("SELECT 1").fetchone() == (1,)

    code, run = run_cli(capsys, "run", "lock-contention.yaml", *inputs)
    assert code == 0, run
    result = steps(run)
    assert result["blocking-chains"]["outputs"]["waiting"] == 2
    assert result["root-blockers"]["outputs"]["pids"] == [blocker.info.backend_pid]
    assert result["terminate-blockers"]["outputs"] == {"terminated": 1}
    assert result["lock-waits-after"]["outputs"] == {"waiting": 0}
    for t in threads:
        t.join(5)
    assert sorted(finished) == ["w1", "w2"]
    # The blocker's uncommitted -10 was rolled back; both waiters' +1 went through.
    assert pg.psql("SELECT balance FROM accounts WHERE id = 1", DB) == "102"
    with pytest.raises(psycopg.OperationalError):
        blocker.execute("SELECT 1")
    assert bystander.execute("SELECT 1").fetchone() == (1,)


def test_lock_contention_without_waiters_does_nothing(
        pg: ThrowawayPostgres, capsys: pytest.CaptureFixture[str], open_sessions: Any) -> None:
    (idle_tx,) = open_sessions(1, "billing")
    idle_tx.execute("BEGIN")
    idle_tx.execute("SELECT 1")  # idle in transaction, but blocking nobody: not a target
    code, run = run_cli(capsys, "run", "lock-contention.yaml", "min_wait=0s")
    assert code == 0
    assert steps(run)["terminate-blockers"]["status"] == "skipped"
    assert idle_tx.execute("SELECT 1").fetchone() == (1,)
