"""The resolution gate (`fireline incident resolve`): manual items confirmed by name, probe checks against real
servers on loopback (an HTTP service whose health the test flips, the suite's PostgreSQL) that must pass and
keep passing for the hold; refusals, the override and interruptions are all on the timeline."""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from runner.incident.gate import VERIFICATION, Clock, GateRequest, IncidentVerification, pass_gate
from runner.incident.model import Milestone
from runner.incident.store import load
from runner.journal.store import open_journal
from runner.policy import load_policy
from tests.command import FIRELINE
from tests.conftest import REPO, wait_for, write

TOKEN = "gate-token-7f3a9c"  # a secret: sent to the service, never shown or recorded


@dataclass
class Health:
    """What the service answers, and when each health check arrived (wall clock)."""

    status: int = 200
    fail_after: int | None = None  # answer 503 from this request on (counted from 1)
    seen: list[datetime] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, authorized: bool) -> int:
        with self.lock:
            self.seen.append(datetime.now(UTC))
            if not authorized:
                return 401
            if self.fail_after is not None and len(self.seen) >= self.fail_after:
                return 503
            return self.status


class _Handler(http.server.BaseHTTPRequestHandler):
    health: ClassVar[Health]

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        status = self.health.answer(self.headers.get("Authorization") == f"Bearer {TOKEN}")
        body = b"ok" if status == 200 else b"unhealthy"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@dataclass
class Service:
    url: str
    health: Health


@pytest.fixture
def service() -> Iterator[Service]:
    health = Health()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_Handler,), {"health": health}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Service(f"http://127.0.0.1:{server.server_address[1]}", health)
    finally:
        server.shutdown()
        server.server_close()


def _policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: Service, extra_checks: str = "") -> Path:
    monkeypatch.setenv("GATE_TOKEN", TOKEN)
    path = write(
        tmp_path / "incident-policy.yaml",
        f"""\
apiVersion: fireline/v1
kind: IncidentPolicy
secrets:
  TOKEN: {{from: env, name: GATE_TOKEN}}
connections:
  web: {{type: http, url: "{service.url}", headers: {{Authorization: "Bearer {{{{ secrets.TOKEN }}}}"}}}}
verification:
  SEV2:
    hold: 10m
    interval: 1m
    checks:
      - {{name: checkout answers, probe: http.get, with: {{connection: web, url: /health}}, expect: {{status: 200}}}}
{extra_checks}""",
    )
    monkeypatch.setenv("FIRELINE_POLICY", str(path))
    return path


def _declare(cli: Any, *extra: str) -> str:
    done = cli("incident", "declare", "--title", "Checkout returns 503", "--sev", "SEV2", "--systems", "checkout",
               *extra)  # fmt: skip
    assert done.code == 0, done.err
    return str(done.out.strip())


def _attempts(incident_id: str) -> list[IncidentVerification]:
    return [IncidentVerification.of(e) for e in open_journal().events(incident_id, (VERIFICATION,))]


def _whole_record(incident_id: str) -> str:
    return repr([(e.type, e.data) for e in open_journal().events(incident_id)])


def test_resolve_refuses_while_the_probe_fails_and_resolves_once_it_held_for_the_window(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: Service
) -> None:
    _policy(tmp_path, monkeypatch, service)
    incident_id = _declare(cli)
    service.health.status = 503
    refused = cli("incident", "resolve", incident_id, "--hold", "2s", "--interval", "0.5s")
    assert refused.code == 1
    assert "is not resolved: check 'checkout answers' failed at the first check" in refused.err
    assert "503" in refused.err and "the hold starts over" in refused.err
    assert load(open_journal(), incident_id).status == "investigating"
    shown = cli("incident", "show", incident_id).out
    assert "to resolve: 1 probe check held 10m00s (checkout answers)" in shown
    assert "last resolution attempt: refused " in shown and "by responder: check 'checkout answers' failed" in shown
    gate = cli("incident", "show", incident_id, "--format", "json").json()["resolution_gate"]
    assert gate["hold_s"] == 600 and [c["name"] for c in gate["checks"]] == ["checkout answers"]

    service.health.status = 200
    typed = datetime.now(UTC)
    passed = cli("incident", "resolve", incident_id, "--hold", "2s", "--interval", "0.5s", "--as", "alice")
    assert passed.code == 0, passed.err
    assert "until they have held for 2.0s" in passed.out and "to go" in passed.out and "the gate passed" in passed.out
    assert f"{incident_id}: status investigating → resolved" in passed.out
    incident = load(open_journal(), incident_id)
    resolved = incident.milestones[Milestone.RESOLVED]
    # Resolved when the gate passed — after the last check of the hold — not when the command was typed.
    assert resolved.at >= typed + timedelta(seconds=2) and resolved.at >= service.health.seen[-1]
    assert resolved.source == "resolution gate (1 check held 2.0s)" and resolved.actor == "alice"
    assert len(service.health.seen) >= 2  # the first check, and one once the hold had passed (more in between)
    first, last = _attempts(incident_id)
    assert (first.passed, last.passed, last.forced, last.hold_s) == (False, True, False, 2.0)
    assert [(c["name"], c["kind"], c["ok"]) for c in last.checks] == [("checkout answers", "probe", True)]
    timeline = cli("incident", "timeline", incident_id)
    assert "resolution gate refused (hold 2.0s) by responder: check 'checkout answers' failed" in timeline.out
    assert "resolution gate passed (hold 2.0s) by alice" in timeline.out
    for seen in (refused.out, refused.err, passed.out, passed.err, timeline.out, _whole_record(incident_id)):
        assert TOKEN not in seen  # sent to the service (it answered 200), never shown or recorded


def test_a_failure_during_the_hold_refuses_and_nothing_is_resolved(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: Service
) -> None:
    _policy(tmp_path, monkeypatch, service)
    incident_id = _declare(cli)
    service.health.fail_after = 4  # healthy for three checks, then down again
    refused = cli("incident", "resolve", incident_id, "--hold", "10m", "--interval", "0.2s")
    assert refused.code == 1
    assert "check 'checkout answers' failed after " in refused.err and "of the 10m00s hold" in refused.err
    assert refused.out.count("to go") == 3
    assert len(service.health.seen) == 4
    incident = load(open_journal(), incident_id)
    assert incident.status == "investigating" and Milestone.RESOLVED not in incident.milestones
    (attempt,) = _attempts(incident_id)
    assert not attempt.passed and attempt.checks[0]["ok"] is False and "503" in attempt.checks[0]["detail"]


def test_the_resolved_time_is_when_the_gate_passed_on_a_clock_the_test_drives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: Service, cli: Any
) -> None:
    """A 10-minute hold checked every minute, on a clock that moves only when the gate sleeps."""
    policy = load_policy(_policy(tmp_path, monkeypatch, service))
    incident_id = _declare(cli)
    start = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    elapsed = [0.0]
    clock = Clock(now=lambda: start + timedelta(seconds=elapsed[0]), monotonic=lambda: elapsed[0],
                  sleep=lambda s: elapsed.__setitem__(0, elapsed[0] + s))  # fmt: skip
    journal = open_journal()
    said: list[str] = []
    passed = pass_gate(journal, load(journal, incident_id), policy, GateRequest(), "alice", said.append, clock)
    assert passed.resolved_at == start + timedelta(minutes=10)
    assert load(journal, incident_id).at(Milestone.RESOLVED) == start + timedelta(minutes=10)
    assert len(service.health.seen) == 11  # at 0, 1, … 10 minutes
    assert "  10:05:00 UTC  the check passes; held 5m00s of 10m00s, 5m00s to go" in said


def test_manual_items_are_confirmed_by_name(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: Service
) -> None:
    _policy(tmp_path, monkeypatch, service,
            '      - {name: support confirms, manual: "Support sees no new tickets"}\n')  # fmt: skip
    incident_id = _declare(cli)
    typo = cli("incident", "resolve", incident_id, "--confirm", "support confirm")
    assert typo.code == 2
    assert "'support confirm' is not an item of the SEV2 verification checklist" in typo.err
    assert "its items: 'checkout answers', 'support confirms'" in typo.err
    assert _attempts(incident_id) == []  # a typo is not an attempt
    missing = cli("incident", "resolve", incident_id, "--hold", "0s")
    assert missing.code == 1
    assert "1 manual item not confirmed: 'support confirms' (Support sees no new tickets)" in missing.err
    assert "--confirm 'support confirms'" in missing.err
    assert service.health.seen == []  # the cheap check refused before any probe ran
    assert "; confirm: support confirms" in cli("incident", "show", incident_id).out
    done = cli("incident", "resolve", incident_id, "--hold", "0s", "--confirm", "support confirms", "--as", "bob")
    assert done.code == 0, done.err
    last = _attempts(incident_id)[-1]
    assert last.passed and {c["name"]: c["confirmed_by"] for c in last.checks} == {
        "support confirms": "bob", "checkout answers": None}  # fmt: skip


def test_force_with_a_reason_resolves_without_checks_and_says_so_on_the_timeline(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: Service
) -> None:
    _policy(tmp_path, monkeypatch, service)
    incident_id = _declare(cli)
    service.health.status = 503
    assert cli("incident", "resolve", incident_id, "--force").code == 2  # an override needs its reason
    forced = cli("incident", "resolve", incident_id, "--force", "--reason", "health check itself is broken",
                 "--as", "carol")  # fmt: skip
    assert forced.code == 0, forced.err
    assert "WITHOUT its checks" in forced.out and service.health.seen == []
    (attempt,) = _attempts(incident_id)
    assert (attempt.forced, attempt.passed, attempt.reason) == (True, False, "health check itself is broken")
    assert load(open_journal(), incident_id).status == "resolved"
    timeline = cli("incident", "timeline", incident_id).out
    assert "resolution gate overridden (--force) by carol: health check itself is broken" in timeline


def test_status_and_update_send_a_checked_resolution_to_the_gate(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: Service
) -> None:
    _policy(tmp_path, monkeypatch, service)
    incident_id = _declare(cli)
    for command in (("status", incident_id, "resolved"),
                    ("update", incident_id, "--status", "resolved", "--summary", "fixed")):  # fmt: skip
        refused = cli("incident", *command)
        assert refused.code == 1
        assert "its SEV2 verification checklist has 1 item(s) to pass first ('checkout answers')" in refused.err
        assert f"run `fireline incident resolve {incident_id}`" in refused.err
    assert load(open_journal(), incident_id).status == "investigating"
    assert service.health.seen == []


def test_items_limited_to_other_systems_do_not_apply_and_nothing_verified_is_said_plainly(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: Service
) -> None:
    path = _policy(tmp_path, monkeypatch, service)
    path.write_text(path.read_text().replace("probe: http.get,", "probe: http.get, systems: [checkout],"))
    incident_id = _declare(cli, "--systems", "payments")
    assert cli("incident", "status", incident_id, "resolved").code == 0  # nothing to check: a status change will do
    other = _declare(cli, "--systems", "payments")
    done = cli("incident", "resolve", other)
    assert done.code == 0, done.err
    assert "nothing was verified: the SEV2 checklist has no probe checks" in done.out
    assert service.health.seen == []


def test_without_a_policy_resolve_resolves_at_once_and_says_nothing_was_verified(cli: Any) -> None:
    incident_id = _declare(cli)
    done = cli("incident", "resolve", incident_id)
    assert done.code == 0, done.err
    assert "nothing was verified" in done.out and f"{incident_id}: resolved at " in done.out
    (attempt,) = _attempts(incident_id)
    assert attempt.passed and attempt.checks == ()
    assert "resolution gate passed by responder: no checks to run, nothing was verified" in cli(
        "incident", "timeline", incident_id).out  # fmt: skip


def test_a_postgres_probe_checks_the_real_database_with_a_secret_dsn(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_db: str, postgres: Any
) -> None:
    monkeypatch.setenv("GATE_DSN", pg_db)
    write(
        tmp_path / "incident-policy.yaml",
        """\
apiVersion: fireline/v1
kind: IncidentPolicy
secrets:
  DSN: {from: env, name: GATE_DSN}
connections:
  db: {type: postgres, dsn: "{{ secrets.DSN }}"}
verification:
  SEV2:
    checks:
      - name: replication caught up
        probe: postgres.query
        with: {connection: db, sql: "SELECT 1 FROM gate_state WHERE healthy"}
        expect: {rows: 1}
""",
    )
    monkeypatch.setenv("FIRELINE_POLICY", str(tmp_path / "incident-policy.yaml"))
    import psycopg

    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE gate_state (healthy boolean)")
        conn.execute("INSERT INTO gate_state VALUES (false)")
        incident_id = _declare(cli)
        refused = cli("incident", "resolve", incident_id, "--hold", "0s")
        assert refused.code == 1 and "check 'replication caught up' failed" in refused.err
        conn.execute("UPDATE gate_state SET healthy = true")
        done = cli("incident", "resolve", incident_id, "--hold", "1s", "--interval", "0.5s")
    assert done.code == 0, done.err
    assert load(open_journal(), incident_id).status == "resolved"
    for seen in (refused.err, done.out, _whole_record(incident_id)):
        assert pg_db not in seen


def test_ctrl_c_during_the_hold_resolves_nothing_and_records_the_interruption(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: Service, cli: Any
) -> None:
    _policy(tmp_path, monkeypatch, service)
    incident_id = _declare(cli)
    proc = subprocess.Popen(
        [*FIRELINE, "incident", "resolve", incident_id, "--hold", "10m", "--interval", "0.2s"],
        env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        wait_for(lambda: sum("to go" in line for line in lines) >= 2, "the hold to be under way", timeout=60)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert f"interrupted: {incident_id} is not resolved" in err and "Traceback" not in err
    assert load(open_journal(), incident_id).status == "investigating"
    (attempt,) = _attempts(incident_id)
    assert not attempt.passed and attempt.reason.startswith("interrupted after ")
    assert "of the 10m00s hold" in attempt.reason
    timeline = cli("incident", "timeline", incident_id).out
    assert "resolution gate refused (hold 10m00s) by responder: interrupted after" in timeline


def test_a_closed_or_resolved_incident_is_not_resolved_again(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: Service
) -> None:
    _policy(tmp_path, monkeypatch, service)
    incident_id = _declare(cli)
    assert cli("incident", "resolve", incident_id, "--force", "--reason", "drill").code == 0
    again = cli("incident", "resolve", incident_id)
    assert again.code == 0 and "was resolved already: nothing recorded" in again.out
    assert len(_attempts(incident_id)) == 1 and service.health.seen == []


def test_bad_durations_are_usage_errors(cli: Any) -> None:
    incident_id = _declare(cli)
    bad = (("--hold", "soon"), ("--hold", "-1s"), ("--interval", "0s"), ("--interval", "10ms"), ("--hold", "30d"))
    for option, value in bad:
        done = cli("incident", "resolve", incident_id, option, value)
        assert done.code == 2 and done.err.startswith(f"error: {option}"), (option, value, done.err)
    assert _attempts(incident_id) == [] and load(open_journal(), incident_id).status == "investigating"


def test_an_update_resolving_is_judged_by_the_policy_it_was_given(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: Service
) -> None:
    path = _policy(tmp_path, monkeypatch, service)
    monkeypatch.delenv("FIRELINE_POLICY")
    monkeypatch.chdir(tmp_path / "..")  # no ./incident-policy.yaml: only --policy names it
    incident_id = _declare(cli)
    refused = cli("incident", "update", incident_id, "--status", "resolved", "--summary", "fixed", "--policy",
                  str(path))  # fmt: skip
    assert refused.code == 1 and "verification checklist has 1 item(s)" in refused.err
    assert load(open_journal(), incident_id).status == "investigating"


def test_validate_reports_checklist_mistakes_with_their_position(cli: Any, tmp_path: Path) -> None:
    path = write(
        tmp_path / "incident-policy.yaml",
        """\
apiVersion: fireline/v1
kind: IncidentPolicy
connections:
  db: {type: postgres, dsn: "postgresql://localhost/app"}
verification:
  SEV1: {interval: 1ms}
  SEV2:
    hold: soon
    checks:
      - {name: a, probe: http.got, with: {url: "http://x"}}
      - {name: b, probe: http.get, with: {url: "http://x"}, manual: "both at once"}
      - {name: c, probe: postgres.query, with: {connection: dbs, sql: "SELECT 1"}}
      - {name: d, probe: http.get, with: {url: "http://x", bogus: 1}}
      - {name: d, manual: "a second d"}
      - {name: e, probe: [http.get], with: {url: "http://x"}}
""",
    )
    done = cli("validate", str(path))
    assert done.code == 1
    where = f"{path}:"
    for expected in ("6:20: verification.SEV1.interval: interval 1ms would run the probes without a pause",
                     "8:11: verification.SEV2.hold: expected a duration",
                     "10:26: verification.SEV2.checks[0].probe: 'http.got' is not one of",
                     "11:9: verification.SEV2.checks[1]: needs exactly one of: probe, manual",
                     "12:61: verification.SEV2.checks[2].with.connection: unknown connection 'dbs'",
                     "13:60: verification.SEV2.checks[3].with.bogus: unknown field 'bogus'",
                     "14:16: verification.SEV2.checks[4].name: duplicate item 'd'",
                     "15:26: verification.SEV2.checks[5].probe:"):  # fmt: skip
        assert where + expected in done.out + done.err, expected


def test_a_resolution_made_by_someone_else_during_the_hold_is_not_recorded_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: Service, cli: Any
) -> None:
    from runner.incident import events as iev
    from runner.incident.gate import force_past

    policy = load_policy(_policy(tmp_path, monkeypatch, service))
    incident_id = _declare(cli)
    journal = open_journal()
    elapsed = [0.0]

    def sleep(seconds: float) -> None:  # while the gate waits, someone forces the resolution
        if elapsed[0] == 0.0:
            force_past(journal, load(journal, incident_id), "rollback finished", "bob")
        elapsed[0] += seconds

    clock = Clock(now=lambda: datetime(2026, 12, 4, 10, 0, tzinfo=UTC) + timedelta(seconds=elapsed[0]),
                  monotonic=lambda: elapsed[0], sleep=sleep)  # fmt: skip
    passed = pass_gate(journal, load(journal, incident_id), policy, GateRequest(hold_s=60), "alice", print, clock)
    assert passed.changed == []
    changes = [e for e in journal.events(incident_id) if e.type == iev.STATUS_CHANGED]
    assert [(e.data["new"], e.actor) for e in changes] == [("resolved", "bob")]


def test_a_slow_check_is_not_followed_by_a_burst_of_checks_catching_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: Service, cli: Any
) -> None:
    policy = load_policy(_policy(tmp_path, monkeypatch, service))  # a 10-minute hold, checked every minute
    incident_id = _declare(cli)
    elapsed = [0.0]
    clock = Clock(now=lambda: datetime(2026, 12, 4, 10, 0, tzinfo=UTC) + timedelta(seconds=elapsed[0]),
                  monotonic=lambda: elapsed[0], sleep=lambda s: elapsed.__setitem__(0, elapsed[0] + s))  # fmt: skip
    original = service.health.answer

    def answer(authorized: bool) -> int:  # the first answer takes 2m30s; the others come at once
        if not service.health.seen:
            elapsed[0] += 150
        return original(authorized)

    monkeypatch.setattr(service.health, "answer", answer)
    journal = open_journal()
    said: list[str] = []
    pass_gate(journal, load(journal, incident_id), policy, GateRequest(), "alice", said.append, clock)
    rounds = [line.split("held ")[1].split(" ")[0].rstrip(":,") for line in said if "held" in line and "UTC  " in line]
    assert rounds == ["0s", "2m30s", "3m30s", "4m30s", "5m30s", "6m30s", "7m30s", "8m30s", "9m30s", "10m00s"]


def test_a_status_change_resolving_is_judged_by_the_policy_it_was_given(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: Service
) -> None:
    path = _policy(tmp_path, monkeypatch, service)
    monkeypatch.delenv("FIRELINE_POLICY")
    monkeypatch.chdir(tmp_path / "..")  # no ./incident-policy.yaml: only --policy names it
    incident_id = _declare(cli)
    refused = cli("incident", "status", incident_id, "resolved", "--policy", str(path))
    assert refused.code == 1 and "verification checklist has 1 item(s)" in refused.err
    assert load(open_journal(), incident_id).status == "investigating"
    assert _attempts(incident_id) == [] and service.health.seen == []
    moved = cli("incident", "status", incident_id, "identified", "--policy", str(path))
    assert moved.code == 0 and load(open_journal(), incident_id).status == "identified"


def test_a_probe_whose_plain_text_mentions_secrets_needs_no_such_secret(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: Service
) -> None:
    path = _policy(tmp_path, monkeypatch, service)
    path.write_text(path.read_text().replace("url: /health}", "url: /health/secrets.json}"))
    incident_id = _declare(cli)
    done = cli("incident", "resolve", incident_id, "--hold", "0s")
    assert done.code == 0, done.err  # only a template reads a secret: `secrets.json` in a path names none
    assert load(open_journal(), incident_id).status == "resolved"
    assert len(service.health.seen) == 1
