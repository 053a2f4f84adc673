"""postgres.*: read-only queries, guarded changes and terminating sessions, through psycopg 3.

One connection per connection name for the whole run (autocommit off, every step in its own transaction),
named `fireline` in pg_stat_activity so responders can tell fireline's sessions apart. Every statement is
bounded by the step's deadline twice: server-side (`statement_timeout`) and client-side (a cancel hook the
engine fires on timeout or Ctrl-C).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import math
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql as pgsql
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus

from runner.actions.base import ActionContext, BaseAction, Cancelled, Outcome, Params, Plan, Verdict
from runner.durations import format_duration, parse_duration
from runner.errors import ActionError, StepTimeout

DEFAULT_MAX_ROWS = 1000
DEFAULT_APPLICATION_NAME = "fireline"
DEFAULT_CONNECT_TIMEOUT = 10.0
PREVIEW_LINES = 20  # rows of a preview shown in plan details; all kept rows go to plan data
EXIT_WAIT_SECONDS = 5.0  # how long terminate_backends waits for signalled sessions to go away
POLL_INTERVAL = 0.05

# Functions that act outside the transaction: READ ONLY does not stop them and ROLLBACK does not undo them.
# A postgres.query calling one is treated as mutating (gated, planned) rather than trusted as a read.
_SIDE_EFFECTS = re.compile(
    r"\b(pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_rotate_logfile|pg_switch_wal|pg_promote|"
    r"pg_create_restore_point|pg_(?:create|drop)_\w*replication_slot|pg_stat_reset\w*|dblink_exec|"
    r"pg_file_write|pg_file_unlink|lo_unlink|lo_import|lo_export)\s*\(",
    re.IGNORECASE,
)


def _side_effect_functions(sql_text: str) -> list[str]:
    return sorted({m.group(1).lower() for m in _SIDE_EFFECTS.finditer(sql_text)})


# --- connections ------------------------------------------------------------------------------------------


class _Target:
    """What a connection points at, described without its credentials."""

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        self.name = name
        self.dsn = str(settings.get("dsn") or "")
        try:
            self.parts = conninfo_to_dict(self.dsn)
        except psycopg.Error:
            # The parser's message quotes the DSN, which may hold a password: say nothing of its content.
            raise ActionError(
                f"connection {name!r}: the DSN is not a valid PostgreSQL connection string",
                hint="use postgresql://user@host:5432/dbname or 'host=... port=... dbname=...' "
                "(the value is not shown: it may hold a password)",
            ) from None
        self.application_name = str(
            settings.get("application_name") or self.parts.get("application_name") or DEFAULT_APPLICATION_NAME
        )
        configured = settings.get("connect_timeout")
        self.connect_timeout = parse_duration(configured) if configured is not None else DEFAULT_CONNECT_TIMEOUT

    @property
    def where(self) -> str:
        host = self.parts.get("host") or self.parts.get("hostaddr") or os.environ.get("PGHOST") or "localhost"
        port = self.parts.get("port") or os.environ.get("PGPORT") or "5432"
        user = self.parts.get("user") or os.environ.get("PGUSER") or ""
        dbname = self.parts.get("dbname") or os.environ.get("PGDATABASE") or user or "?"
        return f"{host}:{port}/{dbname}"

    def scrub(self, text: str) -> str:
        """Remove the password from a driver message, in case libpq ever echoes it."""
        password = str(self.parts.get("password") or "")
        return text.replace(password, "***") if len(password) >= 3 else text


class _Session:
    """The run's connection for one connection name. Reconnects when the previous connection broke (the
    server restarted, or someone terminated fireline's own session)."""

    def __init__(self, target: _Target, own_pids: set[int]) -> None:
        self.target = target
        self._own_pids = own_pids
        self._conn: psycopg.Connection[Any] | None = None

    def connection(self, ctx: ActionContext) -> tuple[psycopg.Connection[Any], bool]:
        """The live connection and whether it was opened just now."""
        if self._conn is not None and not (self._conn.closed or self._conn.broken):
            return self._conn, False
        self._conn = self._connect(ctx)
        return self._conn, True

    def _connect(self, ctx: ActionContext) -> psycopg.Connection[Any]:
        # libpq counts whole seconds and treats anything below 2 as 2.
        timeout = ctx.budget(self.target.connect_timeout, before=f"connecting to {self.target.where}")
        try:
            conn = psycopg.connect(
                self.target.dsn,
                autocommit=False,
                connect_timeout=max(2, math.ceil(timeout)),
                application_name=self.target.application_name,
            )
        except psycopg.Error as exc:
            raise _connect_error(self.target, exc, ctx) from None
        self._own_pids.add(conn.info.backend_pid)
        return conn

    def discard(self) -> None:
        if self._conn is not None:
            self._own_pids.discard(self._conn.info.backend_pid)
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            # Nothing is left open between steps; a rollback here only ends an aborted/idle transaction.
            try:
                self._conn.rollback()
            finally:
                self.discard()


def _connect_error(target: _Target, exc: psycopg.Error, ctx: ActionContext) -> ActionError:
    reason = _connect_reason(target.scrub(str(exc)))
    lowered = reason.lower()
    if "refused" in lowered:
        hint = "is PostgreSQL running and listening on that address? check host and port in the DSN"
    elif "password" in lowered or "authentication" in lowered or "no pg_hba.conf entry" in lowered:
        hint = "check the user and credentials in the secret behind the DSN, and pg_hba.conf"
    elif "does not exist" in lowered:
        hint = "check the database and user names in the DSN"
    elif "timeout" in lowered or "timed out" in lowered:
        hint = "the server did not answer in time: check the network path, or raise connect_timeout"
    elif "too many" in lowered or "remaining connection slots" in lowered:
        hint = "the server is out of connection slots: use a reserved superuser role, or free slots first"
    else:
        hint = None
    message = f"cannot connect to PostgreSQL at {target.where}: {reason}"
    return ActionError(ctx.redact(message), hint=hint)


def _connect_reason(text: str) -> str:
    """libpq's long message → its last, specific clause ("connection refused")."""
    first = text.strip().splitlines()[0] if text.strip() else "unknown error"
    reason = first.rsplit("failed: ", 1)[-1]
    reason = re.sub(r"^(FATAL|ERROR):\s*", "", reason).strip()
    reason = re.sub(r"\s+", " ", reason)
    return reason[:1].lower() + reason[1:] if reason else "unknown error"


def _session(ctx: ActionContext, name: str) -> _Session:
    settings = ctx.connection(name, "postgres")
    # Backend pids of every connection this run opened: terminate_backends never touches them.
    own_pids: set[int] = ctx.resource("postgres:own-pids", set, None)
    session: _Session = ctx.resource(
        f"postgres:{name}", lambda: _Session(_Target(name, settings), own_pids), _close_session
    )
    return session


def _close_session(session: _Session) -> None:
    session.close()


# --- transactions -----------------------------------------------------------------------------------------


def _statement_timeout_ms(ctx: ActionContext) -> int | None:
    left = ctx.budget(None, before="starting the query")
    if left is None:
        return None
    return max(1, int(left * 1000))  # 0 would mean "no limit"


def _begin(conn: psycopg.Connection[Any], ctx: ActionContext, read_only: bool) -> None:
    """Open the step's transaction: READ ONLY when asked, bounded by the step's deadline."""
    with conn.cursor() as cur:
        if read_only:
            cur.execute("SET TRANSACTION READ ONLY")
        timeout_ms = _statement_timeout_ms(ctx)
        if timeout_ms is not None:
            cur.execute("SELECT set_config('statement_timeout', %s, true)", (f"{timeout_ms}ms",))


def _open(ctx: ActionContext, session: _Session, read_only: bool) -> psycopg.Connection[Any]:
    conn, fresh = session.connection(ctx)
    try:
        _begin(conn, ctx, read_only)
    except psycopg.OperationalError:
        if fresh or not conn.broken:
            raise
        # A cached connection died between steps (server restart, idle timeout, terminated): nothing of
        # this step has run yet, so a fresh connection is safe.
        session.discard()
        conn, _ = session.connection(ctx)
        _begin(conn, ctx, read_only)
    return conn


def _cancel_hook(conn: psycopg.Connection[Any]) -> Callable[[], None]:
    def cancel() -> None:
        if not conn.closed:
            conn.cancel_safe(timeout=2.0)

    return cancel


@contextmanager
def _transaction(ctx: ActionContext, name: str, *, read_only: bool) -> Iterator[psycopg.Cursor[Any]]:
    """A cursor in a fresh transaction. Rolled back on exit unless the body committed; driver errors
    become ActionErrors a responder can read."""
    ctx.check_cancelled()
    session = _session(ctx, name)
    conn: psycopg.Connection[Any] | None = None
    try:
        conn = _open(ctx, session, read_only)
        ctx.on_cancel(_cancel_hook(conn))
        with conn.cursor() as cur:
            yield cur
    except psycopg.Error as exc:
        raise _query_error(exc, ctx, session) from None
    finally:
        if conn is not None:
            _end_quietly(conn)


def _end_quietly(conn: psycopg.Connection[Any]) -> None:
    if conn.closed or conn.broken:
        return
    if conn.info.transaction_status != TransactionStatus.IDLE:
        try:
            conn.rollback()
        except psycopg.Error:
            conn.close()  # unusable; the next step reconnects


def _query_error(exc: psycopg.Error, ctx: ActionContext, session: _Session) -> ActionError:
    if isinstance(exc, pgerrors.QueryCanceled):
        if ctx.cancelled.is_set():
            return Cancelled("query cancelled: the step was stopped (timeout or interrupt)")
        if "statement timeout" in str(exc):
            return ActionError("query cancelled by the server: it ran past the step's timeout",
                               hint="raise the step's timeout, or make the query cheaper")
    if isinstance(exc, psycopg.OperationalError) and _is_connection_error(exc):
        reason = _connect_reason(session.target.scrub(str(exc)))
        return ActionError(ctx.redact(f"lost the connection to PostgreSQL at {session.target.where}: {reason}"),
                           hint="the next postgres step reconnects")
    diag = exc.diag
    primary = diag.message_primary or (str(exc).strip().splitlines() or ["unknown error"])[0]
    message = f"PostgreSQL error: {primary}"
    if diag.message_detail:
        message += f" ({diag.message_detail})"
    if diag.sqlstate:
        message += f" [SQLSTATE {diag.sqlstate}]"
    return ActionError(ctx.redact(session.target.scrub(message)), hint=_error_hint(exc))


def _is_connection_error(exc: psycopg.Error) -> bool:
    # Server-side errors carry a SQLSTATE; a dropped socket or a failed connect does not (or is class 08).
    state = exc.diag.sqlstate or ""
    return state == "" or state.startswith("08") or state in ("57P01", "57P02", "57P03")


def _error_hint(exc: psycopg.Error) -> str | None:
    if isinstance(exc, pgerrors.ReadOnlySqlTransaction):
        return "postgres.query runs in a READ ONLY transaction; use postgres.execute to change data"
    if isinstance(exc, pgerrors.InsufficientPrivilege):
        return "the role in the DSN lacks a privilege (for terminating sessions: GRANT pg_signal_backend TO it)"
    if isinstance(exc, psycopg.ProgrammingError) and "parameter" in str(exc):
        return "placeholders are %(name)s with the values under params:; write a literal % as %%"
    return exc.diag.message_hint


# --- values -----------------------------------------------------------------------------------------------


def to_json(value: Any) -> Any:
    """A database value as plain JSON data (results are journaled and used by templates)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_json(v) for v in value]
    if isinstance(value, uuid.UUID | ipaddress.IPv4Address | ipaddress.IPv6Address | ipaddress.IPv4Network
                  | ipaddress.IPv6Network | ipaddress.IPv4Interface | ipaddress.IPv6Interface):
        return str(value)
    return str(value)  # ranges, enums of extensions...: their text form is what a person reads


def _columns(cur: psycopg.Cursor[Any]) -> list[str]:
    """Column names; repeats (two `?column?`) get a suffix so no value is silently dropped."""
    names: list[str] = []
    for column in cur.description or ():
        name, n = column.name, 2
        while name in names:
            name, n = f"{column.name}_{n}", n + 1
        names.append(name)
    return names


def _fetch(cur: psycopg.Cursor[Any], limit: int) -> tuple[list[dict[str, Any]], int, list[str]]:
    """(rows kept, total rows, column names)."""
    if cur.description is None:
        return [], max(cur.rowcount, 0), []
    columns = _columns(cur)
    rows = [dict(zip(columns, (to_json(v) for v in row), strict=True)) for row in cur.fetchmany(limit)]
    return rows, max(cur.rowcount, len(rows)), columns


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _bound(params: Params) -> dict[str, Any] | None:
    values = params.get("params")
    return dict(values) if values else None


def _show_params(values: Mapping[str, Any] | None) -> str:
    return json.dumps(to_json(dict(values or {})), sort_keys=True, default=str)


# --- postgres.query ---------------------------------------------------------------------------------------


class Query(BaseAction):
    """A read in a READ ONLY transaction; rows become `result.rows`."""

    name = "postgres.query"
    mutates = False
    idempotent = True

    def is_mutating(self, params: Params) -> bool:
        return bool(_side_effect_functions(str(params.get("sql", ""))))

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        limit = int(params.get("max_rows", DEFAULT_MAX_ROWS))
        with _transaction(ctx, params["connection"], read_only=True) as cur:
            cur.execute(params["sql"], _bound(params))
            rows, total, columns = _fetch(cur, limit)
            cur.connection.commit()  # a read-only commit: ends the transaction, changes nothing
        _check_expect(params.get("expect"), total)
        result = {"rows": rows, "row_count": total, "truncated": total > len(rows), "columns": columns}
        summary = _plural(total, "row") + (f" (first {len(rows)} kept)" if total > len(rows) else "")
        return Outcome(result, summary=summary, changed=self.is_mutating(params))

    def plan(self, params: Params, ctx: ActionContext) -> Plan:
        # Only reached when the SQL calls a non-transactional function (see is_mutating).
        functions = ", ".join(f + "()" for f in _side_effect_functions(str(params["sql"])))
        plan = _explain_plan(params, ctx)
        if plan.verdict is Verdict.CANNOT_CHECK:
            return plan
        return Plan(Verdict.WOULD_CHANGE, f"would run a query calling {functions}, which acts outside the "
                    "transaction (READ ONLY does not stop it)", plan.details, plan.data)


def _check_expect(expect: Mapping[str, Any] | None, total: int) -> None:
    if not expect:
        return
    if "rows" in expect and total != expect["rows"]:
        raise ActionError(f"expected exactly {_plural(expect['rows'], 'row')}, got {total}")
    if "min_rows" in expect and total < expect["min_rows"]:
        raise ActionError(f"expected at least {_plural(expect['min_rows'], 'row')}, got {total}")
    if "max_rows" in expect and total > expect["max_rows"]:
        raise ActionError(f"expected at most {_plural(expect['max_rows'], 'row')}, got {total}")


# --- postgres.execute -------------------------------------------------------------------------------------


class Execute(BaseAction):
    """A data change in one transaction, rolled back when it touches more rows than `max_rows`.
    The step's `idempotent: true` is read by the engine (resume) itself."""

    name = "postgres.execute"
    mutates = True
    idempotent = False

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        guard = params.get("max_rows")
        with _transaction(ctx, params["connection"], read_only=False) as cur:
            cur.execute(params["sql"], _bound(params))
            rowcount = cur.rowcount if cur.rowcount >= 0 else None
            rows, _, columns = _fetch(cur, DEFAULT_MAX_ROWS)  # RETURNING rows, if any
            if guard is not None and rowcount is not None and rowcount > guard:
                cur.connection.rollback()
                raise ActionError(_guard_message(rowcount, guard, str(params["sql"])),
                                  hint="narrow the WHERE clause, or raise max_rows if this many is intended")
            cur.connection.commit()
        result: dict[str, Any] = {"rowcount": rowcount}
        if columns:
            result.update(rows=rows, columns=columns)
        summary = f"changed {_plural(rowcount, 'row')}" if rowcount is not None else "executed"
        return Outcome(result, summary=summary, changed=rowcount != 0)

    def plan(self, params: Params, ctx: ActionContext) -> Plan:
        plan = _explain_plan(params, ctx)
        if plan.verdict is Verdict.CANNOT_CHECK or not params.get("preview"):
            return plan
        return _with_preview(plan, params, ctx)


def _guard_message(rowcount: int, guard: int, sql_text: str) -> str:
    message = f"would change {rowcount} rows, more than max_rows {guard}; rolled back"
    functions = _side_effect_functions(sql_text)
    if functions:
        # ROLLBACK cannot undo a signal already sent: say so rather than promise "nothing changed".
        return message + f", but {', '.join(f + '()' for f in functions)} is not transactional and was not undone"
    return message + ", nothing changed"


def _explain_plan(params: Params, ctx: ActionContext) -> Plan:
    """EXPLAIN (never ANALYZE: it would execute) in a READ ONLY transaction, rolled back."""
    bound = _bound(params)
    details = [f"SQL: {params['sql']}"]
    if bound:
        details.append(f"params: {_show_params(bound)}")
    try:
        with _transaction(ctx, params["connection"], read_only=True) as cur:
            cur.execute(pgsql.SQL("EXPLAIN ") + pgsql.SQL(params["sql"]), bound)
            explain = [str(row[0]) for row in cur.fetchall()]
    except (Cancelled, StepTimeout):
        raise
    except ActionError as exc:
        return Plan(Verdict.CANNOT_CHECK, f"EXPLAIN failed: {exc}", tuple(ctx.redact(d) for d in details))
    details += ["EXPLAIN:", *(f"  {line}" for line in explain)]
    summary = f"would run {_verb(str(params['sql']))} in one transaction"
    functions = _side_effect_functions(str(params["sql"]))
    if functions:
        summary += f"; {', '.join(f + '()' for f in functions)} acts outside the transaction (no undo)"
    guard = params.get("max_rows")
    if guard is not None:
        summary += f" (rolled back if more than {_plural(guard, 'row')} change)"
    data = {"sql": params["sql"], "params": to_json(bound or {}), "explain": explain}
    return Plan(Verdict.WOULD_CHANGE, summary, tuple(ctx.redact(d) for d in details), data)


def _verb(sql_text: str) -> str:
    words = re.sub(r"--[^\n]*|/\*.*?\*/", " ", sql_text, flags=re.DOTALL).split()
    return words[0].upper() if words else "the statement"


def _with_preview(plan: Plan, params: Params, ctx: ActionContext) -> Plan:
    try:
        with _transaction(ctx, params["connection"], read_only=True) as cur:
            cur.execute(params["preview"], _bound(params))
            rows, total, _ = _fetch(cur, DEFAULT_MAX_ROWS)
    except (Cancelled, StepTimeout):
        raise
    except ActionError as exc:
        return Plan(Verdict.CANNOT_CHECK, f"{plan.summary}; the preview query failed: {exc}", plan.details, plan.data)
    shown = [f"  {json.dumps(row, default=str)}" for row in rows[:PREVIEW_LINES]]
    if total > len(shown):
        shown.append(f"  ... {total - len(shown)} more")
    details = (*plan.details, f"preview: {_plural(total, 'row')}", *(ctx.redact(s) for s in shown))
    data = {**plan.data, "preview": {"rows": rows, "row_count": total}}
    guard = params.get("max_rows")
    if total == 0:
        return Plan(Verdict.NO_CHANGE, "the preview shows no rows: nothing would change", details, data)
    summary = f"{plan.summary}; the preview shows {_plural(total, 'row')}"
    if guard is not None and total > guard:
        summary += f", more than max_rows {guard}: the run would refuse and roll back"
    return Plan(Verdict.WOULD_CHANGE, summary, details, data)


# --- postgres.terminate_backends --------------------------------------------------------------------------

# Filter name → SQL condition on pg_stat_activity (fixed text; values are always bound).
_FILTERS: dict[str, str] = {
    "state": "state = ANY(%(state)s)",
    "idle_for": "state_change < clock_timestamp() - make_interval(secs => %(idle_for)s)",
    "running_for": "query_start < clock_timestamp() - make_interval(secs => %(running_for)s)",
    "application_name": "application_name = %(application_name)s",
    "usename": "usename = %(usename)s",
    "datname": "datname = %(datname)s",
    "pids": "pid = ANY(%(pids)s)",
    # Root blockers: hold a lock someone waits for, and wait for no one themselves (ending them unblocks
    # the whole chain; ending a session in the middle would not).
    "blocking": "pid IN (SELECT unnest(pg_blocking_pids(w.pid)) FROM pg_stat_activity w) "
    "AND cardinality(pg_blocking_pids(pid)) = 0",
}
# Always: client sessions only (never autovacuum, walsenders...), never our own.
_ALWAYS = ("backend_type = 'client backend'", "pid <> pg_backend_pid()", "NOT (pid = ANY(%(own_pids)s))")
_SESSION_COLUMNS = (
    "pid, usename, application_name, datname, state, backend_start, query_start, "
    "round(extract(epoch FROM clock_timestamp() - coalesce(state_change, backend_start))::numeric, 1) AS idle_s"
)


class TerminateBackends(BaseAction):
    """pg_terminate_backend (or pg_cancel_backend) for every client session matching all filters given."""

    name = "postgres.terminate_backends"
    mutates = True
    # Terminating "whatever matches now" again is harmless: resume may re-run it without asking.
    idempotent = True

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        mode = params.get("mode", "terminate")
        candidates = _matching_sessions(params, ctx)
        _check_max(params, candidates)
        if not candidates:
            return Outcome({"mode": mode, "terminated": [], "count": 0},
                           summary="no session matched", changed=False,
                           skipped_reason="no session matched the filters")
        signalled = _signal(params, ctx, mode, [c["pid"] for c in candidates])
        done = [c for c in candidates if c["pid"] in signalled]
        for session in done:
            ctx.log(f"{mode}: {_describe_session(session)}")
        lingering = _wait_until_done(params, ctx, mode, done)
        sessions = [_public(c) for c in done]
        result: dict[str, Any] = {"mode": mode, "terminated": sessions, "count": len(sessions)}
        if lingering:
            result["still_running"] = lingering
        verb = "terminated" if mode == "terminate" else "cancelled the query of"
        summary = f"{verb} {_plural(len(sessions), 'session')}"
        if len(done) < len(candidates):
            summary += f" ({len(candidates) - len(done)} had already ended)"
        if lingering:
            summary += f"; still running after {format_duration(EXIT_WAIT_SECONDS)}: pids {lingering}"
        return Outcome(result, summary=summary, changed=bool(done))

    def plan(self, params: Params, ctx: ActionContext) -> Plan:
        candidates = _matching_sessions(params, ctx)
        details = tuple(ctx.redact(_describe_session(c)) for c in candidates)
        data = {"sessions": [_public(c) for c in candidates]}
        verb = "terminate" if params.get("mode", "terminate") == "terminate" else "cancel the query of"
        limit = params.get("max")
        if limit is not None and len(candidates) > limit:
            return Plan(Verdict.CANNOT_CHECK, f"would refuse: {_plural(len(candidates), 'session')} match, "
                        f"more than max {limit}; nothing would be {verb}d", details, data)
        if not candidates:
            return Plan(Verdict.NO_CHANGE, "no session matches the filters now", (), data)
        return Plan(Verdict.WOULD_CHANGE, f"would {verb} {_plural(len(candidates), 'session')}", details, data)


def _filters(params: Params, ctx: ActionContext) -> tuple[pgsql.Composed, dict[str, Any]]:
    given = [key for key in _FILTERS if params.get(key) is not None and params.get(key) is not False]
    if not given:
        raise ActionError("postgres.terminate_backends needs at least one filter",
                          hint="give state, idle_for, running_for, application_name, usename, datname, pids "
                          "or blocking; it never terminates every session")
    own: set[int] = ctx.resource("postgres:own-pids", set, None)
    values: dict[str, Any] = {"own_pids": sorted(own)}
    for key in given:
        values[key] = _filter_value(key, params[key])
    conditions = [*_ALWAYS, *(_FILTERS[key] for key in given)]
    return pgsql.SQL(" AND ").join(pgsql.SQL(c) for c in conditions), values


def _filter_value(key: str, value: Any) -> Any:
    if key == "state":
        return [value] if isinstance(value, str) else list(value)
    if key in ("idle_for", "running_for"):
        return parse_duration(value)
    if key == "pids":
        return [int(p) for p in value]
    return value


def _matching_sessions(params: Params, ctx: ActionContext) -> list[dict[str, Any]]:
    where, values = _filters(params, ctx)
    query = pgsql.SQL("SELECT {} FROM pg_stat_activity WHERE {} ORDER BY idle_s DESC, pid").format(
        pgsql.SQL(_SESSION_COLUMNS), where)
    with _transaction(ctx, params["connection"], read_only=True) as cur:
        cur.execute(query, values)
        columns = _columns(cur)
        return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]


def _check_max(params: Params, candidates: Sequence[Mapping[str, Any]]) -> None:
    limit = params.get("max")
    if limit is not None and len(candidates) > limit:
        pids = ", ".join(str(c["pid"]) for c in candidates[:20]) + (", ..." if len(candidates) > 20 else "")
        raise ActionError(f"{len(candidates)} sessions match, more than max {limit}; none was terminated "
                          f"(pids {pids})", hint="narrow the filters, or raise max if this many is intended")


def _signal(params: Params, ctx: ActionContext, mode: str, pids: list[int]) -> set[int]:
    """Signal the candidates that *still* match (filters re-checked: one that became active in the meantime is
    spared). Returns the pids the server signalled."""
    where, values = _filters(params, ctx)
    function = "pg_terminate_backend" if mode == "terminate" else "pg_cancel_backend"
    query = pgsql.SQL("SELECT pid, {}(pid) FROM pg_stat_activity WHERE {} AND pid = ANY(%(candidates)s)").format(
        pgsql.Identifier(function), where)
    with _transaction(ctx, params["connection"], read_only=False) as cur:
        cur.execute(query, {**values, "candidates": pids})
        signalled = {int(pid) for pid, ok in cur.fetchall() if ok}
        cur.connection.commit()
    return signalled


def _wait_until_done(params: Params, ctx: ActionContext, mode: str, done: list[dict[str, Any]]) -> list[int]:
    """Wait (briefly) until the signalled sessions are gone / their queries stopped, so a check that follows
    sees the effect. Returns the pids still going."""
    if not done:
        return []
    deadline = time.monotonic() + ctx.budget(EXIT_WAIT_SECONDS, before="checking that the sessions ended")
    while True:
        lingering = _still_going(params, ctx, mode, done)
        if not lingering or time.monotonic() >= deadline:
            return lingering
        ctx.sleep(POLL_INTERVAL)


def _still_going(params: Params, ctx: ActionContext, mode: str, done: list[dict[str, Any]]) -> list[int]:
    # Each check is its own transaction: pg_stat_activity is a snapshot taken once per transaction.
    with _transaction(ctx, params["connection"], read_only=True) as cur:
        cur.execute("SELECT pid, backend_start, query_start, state FROM pg_stat_activity WHERE pid = ANY(%s)",
                    ([c["pid"] for c in done],))
        now = {row[0]: row[1:] for row in cur.fetchall()}
    going = []
    for c in done:
        current = now.get(c["pid"])
        if current is None or current[0] != c["backend_start"]:
            continue  # gone (or the pid was reused by a new session)
        if mode == "cancel" and (current[1] != c["query_start"] or current[2] != "active"):
            continue
        going.append(int(c["pid"]))
    return going


def _public(session: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("pid", "usename", "application_name", "datname", "state", "idle_s")
    return {k: to_json(session[k]) for k in keys}


def _describe_session(s: Mapping[str, Any]) -> str:
    return (f"pid {s['pid']}: app={s['application_name'] or '-'} user={s['usename']} db={s['datname']} "
            f"state={s['state']} for {format_duration(float(s['idle_s'] or 0))}")
