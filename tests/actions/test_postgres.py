"""postgres.* actions against a real, throwaway PostgreSQL server (no mocks)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import psycopg
import pytest

from runner.actions.base import ActionContext, Verdict
from runner.actions.postgres import Execute, Query, TerminateBackends
from runner.engine.policies import call_with_timeout
from runner.errors import ActionError, StepTimeout
from runner.lab.postgres import ThrowawayPostgres
from runner.testing import StaticConnections

DB = "app"


class Source(StaticConnections):
    """Named DSNs as postgres connections."""

    def __init__(self, dsns: Mapping[str, str]) -> None:
        super().__init__({name: {"type": "postgres", "dsn": dsn} for name, dsn in dsns.items()})


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrowawayPostgres]:
    with ThrowawayPostgres(tmp_path_factory.mktemp("pg")) as server:
        server.create_database(DB)
        yield server


@pytest.fixture
def items(pg: ThrowawayPostgres) -> Iterator[str]:
    """A fresh table of 10 rows for each test."""
    pg.psql("DROP TABLE IF EXISTS items; CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, "
            "price numeric(10,2), kind text); INSERT INTO items SELECT g, 'item-' || g, g * 1.5, "
            "CASE WHEN g <= 3 THEN 'old' ELSE 'new' END FROM generate_series(1, 10) g", DB)
    yield "items"


@pytest.fixture
def source(pg: ThrowawayPostgres) -> Iterator[Source]:
    src = Source({"db": pg.dsn(DB), "other": pg.dsn(DB)})
    yield src
    src.close()


@pytest.fixture
def idle_sessions(pg: ThrowawayPostgres) -> Iterator[Callable[..., list[psycopg.Connection[Any]]]]:
    """Open idle sessions the way a leaky application would; closed at the end."""
    opened: list[psycopg.Connection[Any]] = []

    def open_(count: int, app: str) -> list[psycopg.Connection[Any]]:
        conns = [psycopg.connect(pg.dsn(DB), application_name=app, autocommit=True) for _ in range(count)]
        opened.extend(conns)
        return conns

    yield open_
    for conn in opened:
        conn.close()


def make_ctx(source: Source, step: str = "step", deadline: float | None = None) -> ActionContext:
    return ActionContext(step, source, deadline=deadline)


def count(pg: ThrowawayPostgres, where: str = "true") -> int:
    return int(pg.psql(f"SELECT count(*) FROM items WHERE {where}", DB))


def sessions(pg: ThrowawayPostgres, app: str) -> int:
    return int(pg.psql(f"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'", DB))


# --- postgres.query ---------------------------------------------------------------------------------------


def test_query_returns_rows_as_json_data(source: Source, items: str) -> None:
    outcome = Query().run({"connection": "db", "sql": "SELECT id, name, price FROM items WHERE kind = %(kind)s "
                           "ORDER BY id", "params": {"kind": "old"}}, make_ctx(source))
    assert outcome.result["rows"] == [{"id": 1, "name": "item-1", "price": 1.5},
                                      {"id": 2, "name": "item-2", "price": 3},
                                      {"id": 3, "name": "item-3", "price": 4.5}]
    assert outcome.result["row_count"] == 3 and outcome.result["truncated"] is False
    assert outcome.summary == "3 rows" and outcome.changed is False


def test_query_converts_every_common_type(source: Source) -> None:
    sql = ("SELECT now() AS ts, interval '90 seconds' AS iv, gen_random_uuid() AS id, inet '10.0.0.1' AS ip, "
           "'\\x00ff'::bytea AS raw, '{\"a\": [1, 2]}'::jsonb AS doc, ARRAY[1, 2] AS arr, 1 AS n, 2 AS n, "
           "current_date AS day, 12345678901234::numeric AS big")
    row = Query().run({"connection": "db", "sql": sql}, make_ctx(source)).result["rows"][0]
    json.dumps(row)  # must not raise
    assert row["iv"] == 90.0 and row["raw"] == "\\x00ff" and row["doc"] == {"a": [1, 2]}
    assert row["ip"] == "10.0.0.1" and row["arr"] == [1, 2] and row["big"] == 12345678901234
    assert (row["n"], row["n_2"]) == (1, 2)  # a repeated column name does not lose a value
    assert isinstance(row["ts"], str) and isinstance(row["id"], str)


def test_query_caps_rows_with_max_rows(source: Source) -> None:
    outcome = Query().run({"connection": "db", "sql": "SELECT g FROM generate_series(1, 50) g", "max_rows": 10},
                          make_ctx(source))
    assert len(outcome.result["rows"]) == 10
    assert outcome.result["row_count"] == 50 and outcome.result["truncated"] is True
    assert outcome.summary == "50 rows (first 10 kept)"


@pytest.mark.parametrize(("expect", "message"), [
    ({"rows": 2}, "expected exactly 2 rows, got 3"),
    ({"min_rows": 5}, "expected at least 5 rows, got 3"),
    ({"max_rows": 1}, "expected at most 1 row, got 3"),
])
def test_query_expect_fails_with_the_numbers(source: Source, items: str, expect: dict[str, int],
                                             message: str) -> None:
    with pytest.raises(ActionError, match=message):
        Query().run({"connection": "db", "sql": "SELECT id FROM items WHERE kind = 'old'", "expect": expect},
                    make_ctx(source))


def test_query_is_read_only(pg: ThrowawayPostgres, source: Source, items: str) -> None:
    with pytest.raises(ActionError, match="read-only transaction") as caught:
        Query().run({"connection": "db", "sql": "DELETE FROM items WHERE id = 1"}, make_ctx(source))
    assert "postgres.execute" in (caught.value.hint or "")
    assert count(pg, "id = 1") == 1
    # The connection is still usable for the next step.
    assert Query().run({"connection": "db", "sql": "SELECT 1 AS one"}, make_ctx(source)).result["rows"] == [
        {"one": 1}]


def test_query_binds_values_never_splices_them(pg: ThrowawayPostgres, source: Source, items: str) -> None:
    hostile = "x'; DROP TABLE items; --"
    outcome = Query().run({"connection": "db", "sql": "SELECT count(*) AS n FROM items WHERE name = %(name)s",
                           "params": {"name": hostile}}, make_ctx(source))
    assert outcome.result["rows"] == [{"n": 0}]
    assert count(pg) == 10


def test_query_calling_a_non_transactional_function_counts_as_mutating() -> None:
    assert Query().is_mutating({"connection": "db", "sql": "SELECT pg_terminate_backend(123)"})
    assert Query().is_mutating({"connection": "db", "sql": "select PG_CANCEL_BACKEND (pid) from x"})
    assert not Query().is_mutating({"connection": "db", "sql": "SELECT * FROM pg_stat_activity"})


def test_query_sql_error_is_clear(source: Source) -> None:
    with pytest.raises(ActionError, match=r'relation "nope" does not exist.*42P01'):
        Query().run({"connection": "db", "sql": "SELECT * FROM nope"}, make_ctx(source))


# --- postgres.execute -------------------------------------------------------------------------------------


def test_execute_changes_rows_and_reports_rowcount(pg: ThrowawayPostgres, source: Source, items: str) -> None:
    outcome = Execute().run({"connection": "db", "sql": "UPDATE items SET kind = 'archived' WHERE kind = %(k)s",
                             "params": {"k": "old"}}, make_ctx(source))
    assert outcome.result == {"rowcount": 3}
    assert outcome.summary == "changed 3 rows" and outcome.changed
    assert count(pg, "kind = 'archived'") == 3


def test_execute_returns_returning_rows(source: Source, items: str) -> None:
    outcome = Execute().run({"connection": "db", "sql": "DELETE FROM items WHERE id > 8 RETURNING id"},
                            make_ctx(source))
    assert outcome.result["rowcount"] == 2
    assert sorted(r["id"] for r in outcome.result["rows"]) == [9, 10]


def test_execute_max_rows_guard_rolls_back(pg: ThrowawayPostgres, source: Source, items: str) -> None:
    with pytest.raises(ActionError) as caught:
        Execute().run({"connection": "db", "sql": "DELETE FROM items WHERE kind = 'new'", "max_rows": 5},
                      make_ctx(source))
    assert str(caught.value) == "would change 7 rows, more than max_rows 5; rolled back, nothing changed"
    assert count(pg) == 10
    # At the limit it goes through.
    Execute().run({"connection": "db", "sql": "DELETE FROM items WHERE kind = 'new'", "max_rows": 7},
                  make_ctx(source))
    assert count(pg) == 3


def test_execute_plan_shows_explain_and_preview_and_changes_nothing(
        pg: ThrowawayPostgres, source: Source, items: str, idle_sessions: Callable[..., Any]) -> None:
    idle_sessions(2, "victim")
    params = {"connection": "db", "sql": "DELETE FROM items WHERE kind = %(kind)s", "params": {"kind": "old"},
              "preview": "SELECT id, name FROM items WHERE kind = %(kind)s ORDER BY id", "max_rows": 10}
    plan = Execute().plan(params, make_ctx(source))
    assert plan.verdict is Verdict.WOULD_CHANGE
    text = "\n".join(plan.details)
    assert "SQL: DELETE FROM items WHERE kind = %(kind)s" in text
    assert 'params: {"kind": "old"}' in text
    assert "EXPLAIN:" in text and "Delete on items" in text
    assert "preview: 3 rows" in text and '{"id": 1, "name": "item-1"}' in text
    assert plan.data["preview"]["row_count"] == 3
    assert "the preview shows 3 rows" in plan.summary
    assert count(pg) == 10

    # EXPLAIN, never ANALYZE: a statement with a side effect is not executed by plan.
    kill = {"connection": "db", "sql": "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'victim'"}
    plan = Execute().plan(kill, make_ctx(source))
    assert plan.verdict is Verdict.WOULD_CHANGE
    assert "  Function Scan on pg_stat_get_activity s" in "\n".join(plan.details)
    assert "pg_terminate_backend() acts outside the transaction" in plan.summary
    assert sessions(pg, "victim") == 2


def test_execute_plan_says_so_when_the_guard_would_refuse(source: Source, items: str) -> None:
    plan = Execute().plan({"connection": "db", "sql": "DELETE FROM items", "max_rows": 2,
                           "preview": "SELECT id FROM items"}, make_ctx(source))
    assert plan.verdict is Verdict.WOULD_CHANGE
    assert "more than max_rows 2: the run would refuse" in plan.summary


def test_execute_plan_empty_preview_is_no_change(source: Source, items: str) -> None:
    plan = Execute().plan({"connection": "db", "sql": "DELETE FROM items WHERE id > 100",
                           "preview": "SELECT id FROM items WHERE id > 100"}, make_ctx(source))
    assert plan.verdict is Verdict.NO_CHANGE


def test_execute_plan_cannot_check_when_explain_fails(source: Source) -> None:
    plan = Execute().plan({"connection": "db", "sql": "DELETE FROM missing_table"}, make_ctx(source))
    assert plan.verdict is Verdict.CANNOT_CHECK
    assert 'relation "missing_table" does not exist' in plan.summary


# --- postgres.terminate_backends --------------------------------------------------------------------------


def test_terminate_plan_lists_sessions_and_changes_nothing(
        pg: ThrowawayPostgres, source: Source, idle_sessions: Callable[..., Any]) -> None:
    leaky = idle_sessions(4, "leaky-app")
    plan = TerminateBackends().plan({"connection": "db", "application_name": "leaky-app", "state": "idle"},
                                    make_ctx(source))
    assert plan.verdict is Verdict.WOULD_CHANGE and plan.summary == "would terminate 4 sessions"
    assert {s["pid"] for s in plan.data["sessions"]} == {c.info.backend_pid for c in leaky}
    assert all("app=leaky-app" in line for line in plan.details)
    assert sessions(pg, "leaky-app") == 4
    none = TerminateBackends().plan({"connection": "db", "application_name": "nobody"}, make_ctx(source))
    assert none.verdict is Verdict.NO_CHANGE


def test_terminate_kills_matching_idle_sessions_only(
        pg: ThrowawayPostgres, source: Source, idle_sessions: Callable[..., Any]) -> None:
    leaky = idle_sessions(5, "leaky-app")
    keep = idle_sessions(2, "keeper")
    outcome = TerminateBackends().run({"connection": "db", "application_name": "leaky-app", "state": "idle",
                                       "max": 10}, make_ctx(source))
    assert outcome.result["count"] == 5 and outcome.changed
    assert {s["pid"] for s in outcome.result["terminated"]} == {c.info.backend_pid for c in leaky}
    first = outcome.result["terminated"][0]
    assert first["application_name"] == "leaky-app" and first["state"] == "idle"
    assert isinstance(first["idle_s"], int | float)
    json.dumps(outcome.result)
    assert sessions(pg, "leaky-app") == 0  # gone by the time the step returns
    for conn in leaky:
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    assert sessions(pg, "keeper") == 2
    assert all(c.execute("SELECT 1").fetchone() == (1,) for c in keep)
    # fireline's own session survived and is still usable.
    assert Query().run({"connection": "db", "sql": "SELECT 1 AS x"}, make_ctx(source)).result["rows"] == [{"x": 1}]


def test_terminate_never_touches_this_runs_sessions(
        pg: ThrowawayPostgres, source: Source, idle_sessions: Callable[..., Any]) -> None:
    # Two connections of this run (db, other), both named "fireline"; plus a fireline session of someone else.
    Query().run({"connection": "other", "sql": "SELECT 1"}, make_ctx(source))
    stranger = idle_sessions(1, "fireline")[0]
    outcome = TerminateBackends().run({"connection": "db", "application_name": "fireline"}, make_ctx(source))
    assert [s["pid"] for s in outcome.result["terminated"]] == [stranger.info.backend_pid]
    for name in ("db", "other"):
        assert Query().run({"connection": name, "sql": "SELECT 1 AS x"}, make_ctx(source)).result["rows"]


def test_terminate_max_guard_refuses_and_changes_nothing(
        pg: ThrowawayPostgres, source: Source, idle_sessions: Callable[..., Any]) -> None:
    idle_sessions(6, "leaky-app")
    with pytest.raises(ActionError, match="6 sessions match, more than max 3; none was terminated"):
        TerminateBackends().run({"connection": "db", "application_name": "leaky-app", "max": 3}, make_ctx(source))
    assert sessions(pg, "leaky-app") == 6
    plan = TerminateBackends().plan({"connection": "db", "application_name": "leaky-app", "max": 3},
                                    make_ctx(source))
    assert plan.verdict is Verdict.CANNOT_CHECK and "would refuse" in plan.summary


def test_terminate_nothing_matching_is_reported_as_skipped(source: Source) -> None:
    outcome = TerminateBackends().run({"connection": "db", "application_name": "nobody"}, make_ctx(source))
    assert outcome.result == {"mode": "terminate", "terminated": [], "count": 0}
    assert outcome.skipped_reason == "no session matched the filters" and not outcome.changed


def test_terminate_needs_a_filter(source: Source) -> None:
    with pytest.raises(ActionError, match="at least one filter"):
        TerminateBackends().run({"connection": "db"}, make_ctx(source))


def test_terminate_idle_for_spares_recently_active_sessions(
        pg: ThrowawayPostgres, source: Source, idle_sessions: Callable[..., Any]) -> None:
    old = idle_sessions(2, "leaky-app")
    time.sleep(0.6)
    fresh = idle_sessions(2, "leaky-app")
    outcome = TerminateBackends().run({"connection": "db", "application_name": "leaky-app", "idle_for": "400ms"},
                                      make_ctx(source))
    assert {s["pid"] for s in outcome.result["terminated"]} == {c.info.backend_pid for c in old}
    assert all(c.execute("SELECT 1").fetchone() == (1,) for c in fresh)


def test_terminate_state_list_matches_idle_in_transaction(
        pg: ThrowawayPostgres, source: Source, idle_sessions: Callable[..., Any]) -> None:
    stuck, idle = idle_sessions(2, "leaky-app")
    stuck.execute("BEGIN")
    stuck.execute("SELECT 1")
    outcome = TerminateBackends().run({"connection": "db", "application_name": "leaky-app",
                                       "state": ["idle in transaction"]}, make_ctx(source))
    assert [s["pid"] for s in outcome.result["terminated"]] == [stuck.info.backend_pid]
    assert outcome.result["terminated"][0]["state"] == "idle in transaction"
    assert idle.execute("SELECT 1").fetchone() == (1,)


def test_terminate_blocking_ends_the_root_blocker_and_waiters_proceed(
        pg: ThrowawayPostgres, source: Source, items: str, idle_sessions: Callable[..., Any]) -> None:
    blocker, waiter = idle_sessions(2, "app-writer")
    blocker.execute("BEGIN")
    blocker.execute("UPDATE items SET name = 'locked' WHERE id = 1")
    done = threading.Event()

    def wait_for_lock() -> None:
        waiter.execute("UPDATE items SET name = 'waiter' WHERE id = 1")
        done.set()

    thread = threading.Thread(target=wait_for_lock, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while pg.psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'", DB) != "1":
        assert time.monotonic() < deadline, "the waiter never blocked"
        time.sleep(0.05)
    outcome = TerminateBackends().run({"connection": "db", "blocking": True, "max": 1}, make_ctx(source))
    assert [s["pid"] for s in outcome.result["terminated"]] == [blocker.info.backend_pid]
    assert done.wait(5), "the waiter did not proceed"
    thread.join(5)
    assert pg.psql("SELECT name FROM items WHERE id = 1", DB) == "waiter"


def test_terminate_cancel_mode_stops_long_queries_and_keeps_sessions(
        pg: ThrowawayPostgres, source: Source, idle_sessions: Callable[..., Any]) -> None:
    slow = idle_sessions(1, "report-job")[0]
    errors: list[BaseException] = []

    def long_query() -> None:
        try:
            slow.execute("SELECT pg_sleep(30)")
        except psycopg.Error as exc:
            errors.append(exc)

    thread = threading.Thread(target=long_query, daemon=True)
    thread.start()
    time.sleep(0.5)
    outcome = TerminateBackends().run({"connection": "db", "state": "active", "running_for": "300ms",
                                       "mode": "cancel", "application_name": "report-job"}, make_ctx(source))
    thread.join(5)
    assert outcome.result["count"] == 1 and "still_running" not in outcome.result
    assert errors and isinstance(errors[0], psycopg.errors.QueryCanceled)
    assert slow.execute("SELECT 1").fetchone() == (1,)


# --- timeouts, cancellation, connection errors ------------------------------------------------------------


def _sleeping_backends(pg: ThrowawayPostgres) -> int:
    return int(pg.psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%' "
                       "AND state = 'active'", DB))


@pytest.mark.parametrize("use_deadline", [True, False], ids=["statement_timeout", "cancel_hook"])
def test_timeout_really_stops_the_query(pg: ThrowawayPostgres, source: Source, use_deadline: bool) -> None:
    # With a deadline the server stops the query itself; without one only the engine's cancel hook can.
    ctx = make_ctx(source, deadline=time.monotonic() + 0.5 if use_deadline else None)
    started = time.monotonic()
    with pytest.raises(ActionError):
        call_with_timeout(lambda: Query().run({"connection": "db", "sql": "SELECT pg_sleep(30)"}, ctx), ctx, 0.7)
    assert time.monotonic() - started < 2.5
    deadline = time.monotonic() + 2
    while _sleeping_backends(pg):
        assert time.monotonic() < deadline, "the backend is still running the query"
        time.sleep(0.05)
    # The connection is usable again for the next step.
    assert Query().run({"connection": "db", "sql": "SELECT 1 AS x"}, make_ctx(source)).result["rows"]


def test_cancel_hook_reports_a_step_timeout(source: Source) -> None:
    ctx = make_ctx(source)
    with pytest.raises(StepTimeout, match="was stopped"):
        call_with_timeout(lambda: Query().run({"connection": "db", "sql": "SELECT pg_sleep(30)"}, ctx), ctx, 0.3)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_names_the_target_not_the_password() -> None:
    port = _free_port()
    source = Source({"db": f"postgresql://app:s3cretpass@127.0.0.1:{port}/app"})
    with pytest.raises(ActionError) as caught:
        Query().run({"connection": "db", "sql": "SELECT 1"}, make_ctx(source))
    assert str(caught.value) == f"cannot connect to PostgreSQL at 127.0.0.1:{port}/app: connection refused"
    assert "s3cretpass" not in str(caught.value) + (caught.value.hint or "")


def test_unknown_database_is_named(pg: ThrowawayPostgres) -> None:
    source = Source({"db": pg.dsn("no_such_db")})
    with pytest.raises(ActionError, match=r'at 127\.0\.0\.1:\d+/no_such_db: database "no_such_db" does not exist'):
        Query().run({"connection": "db", "sql": "SELECT 1"}, make_ctx(source))


def test_invalid_dsn_is_not_echoed() -> None:
    source = Source({"db": "host=x password=hunter22 bogus"})
    with pytest.raises(ActionError) as caught:
        Query().run({"connection": "db", "sql": "SELECT 1"}, make_ctx(source))
    assert "not a valid PostgreSQL connection string" in str(caught.value)
    assert "hunter22" not in str(caught.value)


def test_reconnects_after_its_session_was_terminated(pg: ThrowawayPostgres, source: Source) -> None:
    first = Query().run({"connection": "db", "sql": "SELECT pg_backend_pid() AS pid"}, make_ctx(source))
    pid = first.result["rows"][0]["pid"]
    pg.psql(f"SELECT pg_terminate_backend({pid}, 5000)", DB)
    again = Query().run({"connection": "db", "sql": "SELECT pg_backend_pid() AS pid"}, make_ctx(source))
    assert again.result["rows"][0]["pid"] != pid


def test_sessions_are_named_fireline(source: Source) -> None:
    outcome = Query().run({"connection": "db", "sql": "SELECT current_setting('application_name') AS app"},
                          make_ctx(source))
    assert outcome.result["rows"] == [{"app": "fireline"}]
