"""ssh.run against real OpenSSH servers on loopback (tests/servers/sshd.py), through a real ActionContext."""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from runner.actions.base import ActionContext, Cancelled, Verdict
from runner.actions.registry import get_action
from runner.actions.ssh import HostsFailed, Run, build_command, format_table, parse_host_spec
from runner.document.schemas import check_params_now
from runner.errors import ActionError
from runner.templating import render_string
from runner.testing import StaticConnections
from tests.servers.ports import free_port
from tests.servers.sshd import SshFleet, start_sshd


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshFleet]:
    with start_sshd(tmp_path_factory.mktemp("sshd"), count=3) as running:
        yield running


def _direct_hosts(fleet: SshFleet) -> list[str]:
    return [f"{fleet.user}@{host}:{port}" for host, port in fleet.hosts]


@pytest.fixture
def settings(fleet: SshFleet, tmp_path: Path) -> dict[str, dict[str, Any]]:
    empty_known_hosts = tmp_path / "empty_known_hosts"
    empty_known_hosts.write_text("")
    direct = {"type": "ssh", "hosts": _direct_hosts(fleet), "key_file": str(fleet.client_key_path)}
    return {
        # aliases web-1..3 resolved through the fleet's ssh_config (HostName, Port, User, IdentityFile,
        # UserKnownHostsFile all come from there)
        "fleet": {"type": "ssh", "hosts": fleet.aliases, "ssh_config": str(fleet.ssh_config_path)},
        "direct": {**direct, "known_hosts": str(fleet.known_hosts_path)},
        "strangers": {**direct, "known_hosts": str(empty_known_hosts)},
        "newcomers": {**direct, "known_hosts": str(tmp_path / "new_known_hosts"), "host_key_policy": "accept_new"},
    }


class Harness:
    """Runs ssh.run through a real ActionContext and keeps every line it logged."""

    def __init__(self, settings: Mapping[str, Mapping[str, Any]]) -> None:
        self.connections = StaticConnections(settings)
        self.lines: list[str] = []

    def context(self, timeout: float | None = None) -> ActionContext:
        deadline = None if timeout is None else time.monotonic() + timeout
        return ActionContext("ssh-test", self.connections, deadline=deadline, emit=self.lines.append)

    def run(self, params: Mapping[str, Any], timeout: float | None = None) -> Mapping[str, Any]:
        return Run().run(params, self.context(timeout)).result

    def failure(self, params: Mapping[str, Any]) -> HostsFailed:
        with pytest.raises(HostsFailed) as caught:
            self.run(params)
        return caught.value


@pytest.fixture
def harness(settings: dict[str, dict[str, Any]]) -> Iterator[Harness]:
    h = Harness(settings)
    yield h
    h.connections.close()


def _by_host(result: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {h["host"]: h for h in result["hosts"]}


# The server port distinguishes the hosts (all are 127.0.0.1): the last field of $SSH_CONNECTION.
PER_HOST = 'p=${SSH_CONNECTION##* }; echo "port $p"; echo "warn $p" >&2; exit $((p % 5))'


def test_output_and_exit_code_per_host(harness: Harness, fleet: SshFleet) -> None:
    result = harness.run({"connection": "fleet", "command": PER_HOST, "expect_exit": [0, 1, 2, 3, 4]})
    hosts = _by_host(result)
    assert list(hosts) == ["web-1", "web-2", "web-3"]
    for server in fleet.servers:
        row = hosts[server.name]
        assert row["stdout"] == f"port {server.port}\n"
        assert row["stderr"] == f"warn {server.port}\n"
        assert row["exit_code"] == server.port % 5
        assert row["status"] == "ok"
        assert row["address"] == f"{fleet.user}@127.0.0.1:{server.port}"
        assert 0 < row["duration_s"] < 10
    assert (result["ok"], result["failed"], result["skipped"]) == (3, 0, 0)
    # live output tagged per host, then the table: a header and one row per host
    assert f"[web-2] port {fleet.servers[1].port}" in harness.lines
    header = next(i for i, line in enumerate(harness.lines) if line.startswith("HOST"))
    assert [line.split()[0] for line in harness.lines[header + 1 :]] == ["web-1", "web-2", "web-3"]


def test_nonzero_exit_fails_the_step_with_every_host_result(harness: Harness, fleet: SshFleet) -> None:
    failing_port = fleet.servers[1].port
    command = f'[ "${{SSH_CONNECTION##* }}" != {failing_port} ] || {{ echo broken >&2; exit 7; }}'
    error = harness.failure({"connection": "direct", "command": command})
    assert "web" not in str(error)  # direct hosts are named as written
    assert f"127.0.0.1:{failing_port}: exit code 7" in str(error)
    rows = {h["address"].rsplit(":", 1)[1]: h for h in error.result["hosts"]}
    assert rows[str(failing_port)]["exit_code"] == 7
    assert rows[str(failing_port)]["stderr"] == "broken\n"
    assert error.result["failed"] == 1 and error.result["ok"] == 2


def test_injected_shell_is_never_executed(harness: Harness, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payloads = [f"x; touch {marker}", f"$(touch {marker})", f"`touch {marker}`", f"x && touch {marker} #"]
    for payload in payloads:
        by_argv = harness.run({"connection": "fleet", "argv": ["echo", payload], "limit": ["web-1"]})
        assert by_argv["hosts"][0]["stdout"] == payload + "\n"
        # What the engine hands over for `command: echo {{ inputs.x }}`: every templated value quoted.
        command = render_string("echo {{ inputs.x }}", {"inputs": {"x": payload}}, shell=True)
        by_command = harness.run({"connection": "fleet", "command": command, "limit": ["web-1"]})
        assert by_command["hosts"][0]["stdout"] == payload + "\n"
    assert not marker.exists()
    assert not Path("/tmp/pwned").exists()


def test_unknown_host_key_is_refused_by_default(harness: Harness, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    error = harness.failure({"connection": "strangers", "argv": ["touch", str(marker)]})
    assert not marker.exists()
    assert error.result["failed"] == 3
    assert "host key for [127.0.0.1]:" in str(error) and "is not in" in str(error)
    assert error.hint is not None and "host_key_policy: accept_new" in error.hint
    assert "ssh-keyscan" in error.hint


def test_accept_new_records_keys_then_known_hosts_accepts_them(
    harness: Harness, settings: dict[str, dict[str, Any]], fleet: SshFleet
) -> None:
    result = harness.run({"connection": "newcomers", "argv": ["true"]})
    assert result["ok"] == 3
    recorded = Path(settings["newcomers"]["known_hosts"]).read_text().splitlines()
    assert sorted(recorded) == sorted(s.host_key_line() for s in fleet.servers)
    strict = Harness({"again": {**settings["newcomers"], "host_key_policy": "known_hosts"}})
    assert strict.run({"connection": "again", "argv": ["true"]})["ok"] == 3
    strict.connections.close()


def test_changed_host_key_is_refused_even_with_accept_new(
    settings: dict[str, dict[str, Any]], fleet: SshFleet, tmp_path: Path
) -> None:
    first, second = fleet.servers[0], fleet.servers[1]
    # web-2's key recorded under web-1's address: web-1 now presents a "changed" key.
    forged = tmp_path / "forged_known_hosts"
    forged.write_text(f"[127.0.0.1]:{first.port} " + second.host_key_line().split(" ", 1)[1] + "\n")
    harness = Harness({"c": {**settings["newcomers"], "known_hosts": str(forged), "hosts": _direct_hosts(fleet)[:1]}})
    error = harness.failure({"connection": "c", "argv": ["true"]})
    assert "HOST KEY CHANGED" in str(error)
    assert forged.read_text().count("\n") == 1  # nothing was added


def test_max_failures_stops_starting_new_hosts(harness: Harness) -> None:
    error = harness.failure({"connection": "fleet", "command": "exit 1", "max_parallel": 1, "max_failures": 1})
    statuses = [h["status"] for h in error.result["hosts"]]
    assert statuses == ["failed", "failed", "skipped"]
    assert "1 host(s) not started" in str(error)


def test_max_failures_tolerates_up_to_the_budget(harness: Harness, fleet: SshFleet) -> None:
    command = f'[ "${{SSH_CONNECTION##* }}" != {fleet.servers[0].port} ]'
    result = harness.run({"connection": "fleet", "command": command, "max_failures": 1})
    assert [h["status"] for h in result["hosts"]] == ["failed", "ok", "ok"]
    assert result["failed"] == 1


def test_fail_fast_interrupts_running_hosts(harness: Harness, fleet: SshFleet) -> None:
    command = f'if [ "${{SSH_CONNECTION##* }}" = {fleet.servers[0].port} ]; then sleep 0.3; exit 2; fi; sleep 30'
    started = time.monotonic()
    error = harness.failure({"connection": "fleet", "command": command, "fail_fast": True})
    assert time.monotonic() - started < 10
    assert [h["status"] for h in error.result["hosts"]] == ["failed", "interrupted", "interrupted"]


def test_fail_fast_with_serial_hosts_starts_no_more(harness: Harness) -> None:
    error = harness.failure({"connection": "fleet", "command": "exit 3", "fail_fast": True, "max_parallel": 1})
    assert [h["status"] for h in error.result["hosts"]] == ["failed", "skipped", "skipped"]


def test_per_host_timeout(harness: Harness) -> None:
    started = time.monotonic()
    error = harness.failure({"connection": "fleet", "command": "sleep 20", "timeout": "500ms"})
    assert time.monotonic() - started < 8
    assert {h["status"] for h in error.result["hosts"]} == {"timeout"}, error.result["hosts"]
    assert "timed out after 0.5s" in str(error)


def test_timeout_is_reported_even_when_the_timer_thread_is_slow(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The timer closes the channel and the command returns at once; on a loaded machine the timer thread
    is still alive when the worker classifies the result. Made deterministic: the close lingers."""
    import paramiko

    close = paramiko.Channel.close

    def slow_close_from_timer(channel: paramiko.Channel) -> None:
        close(channel)
        if isinstance(threading.current_thread(), threading.Timer):
            time.sleep(1.0)

    monkeypatch.setattr(paramiko.Channel, "close", slow_close_from_timer)
    error = harness.failure({"connection": "fleet", "command": "sleep 20", "timeout": "500ms"})
    assert [(h["status"], h["exit_code"]) for h in error.result["hosts"]] == [("timeout", None)] * 3


def test_a_bug_is_not_reported_as_a_connection_error(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    import runner.actions.ssh as ssh

    def broken_open(target: Any) -> None:
        raise TypeError("a bug while connecting")

    monkeypatch.setattr(ssh, "_open", broken_open)
    with pytest.raises(TypeError, match="a bug while connecting"):
        harness.run({"connection": "fleet", "command": "true"})
    with pytest.raises(TypeError, match="a bug while connecting"):
        Run().plan({"connection": "fleet", "command": "true"}, harness.context())


def test_a_bug_in_the_output_threads_is_not_reported_as_a_connection_error(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    import runner.actions.ssh as ssh

    def broken_write(self: Any, data: str) -> int:
        raise ZeroDivisionError("a bug while streaming")

    monkeypatch.setattr(ssh._LineSink, "write", broken_write)
    with pytest.raises(Exception) as caught:
        harness.run({"connection": "fleet", "command": "echo hi"})
    assert not isinstance(caught.value, ActionError)
    assert "a bug while streaming" in str(caught.value)


def test_a_refused_connection_is_still_a_connection_error(harness: Harness, settings: dict[str, Any]) -> None:
    settings["closed"] = {**settings["direct"], "hosts": [f"127.0.0.1:{free_port()}"]}
    harness.connections = StaticConnections(settings)
    error = harness.failure({"connection": "closed", "command": "true"})
    assert [h["status"] for h in error.result["hosts"]] == ["error"]
    assert "cannot connect" in str(error)


def test_step_deadline_bounds_the_hosts(harness: Harness) -> None:
    started = time.monotonic()
    with pytest.raises(HostsFailed):
        harness.run({"connection": "fleet", "command": "sleep 20"}, timeout=1.0)
    assert time.monotonic() - started < 8


def test_a_host_whose_turn_comes_after_the_step_deadline_is_not_started(harness: Harness) -> None:
    # One host at a time: web-1 runs until the step's deadline, so nothing is left for web-2 and web-3.
    with pytest.raises(HostsFailed) as caught:
        harness.run({"connection": "fleet", "command": "sleep 20", "max_parallel": 1}, timeout=1.0)
    hosts = _by_host(caught.value.result)
    assert [h["status"] for h in hosts.values()] == ["timeout", "timeout", "timeout"]
    assert hosts["web-1"]["error"].startswith("web-1: timed out after")
    for name in ("web-2", "web-3"):
        assert hosts[name]["error"] == f"{name}: step deadline reached before connecting"
        assert hosts[name]["duration_s"] == 0


def test_cancel_stops_running_commands(harness: Harness) -> None:
    ctx = harness.context()
    outcome: list[BaseException] = []

    def work() -> None:
        try:
            Run().run({"connection": "fleet", "command": "sleep 30"}, ctx)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=work)
    started = time.monotonic()
    worker.start()
    time.sleep(1.0)
    ctx.cancel()
    worker.join(15)
    assert not worker.is_alive()
    assert time.monotonic() - started < 10
    assert isinstance(outcome[0], Cancelled)


def test_plan_checks_reachability_and_runs_nothing(harness: Harness, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    plan = Run().plan({"connection": "fleet", "argv": ["touch", str(marker)]}, harness.context())
    assert plan.verdict is Verdict.WOULD_CHANGE
    assert f"command: touch {marker}" in plan.details
    assert [d for d in plan.details if d.startswith("host: ")] == [
        f"host: {name} ({h})" for name, h in zip(["web-1", "web-2", "web-3"], plan_addresses(harness), strict=True)
    ]
    assert not marker.exists()


def plan_addresses(harness: Harness) -> list[str]:
    result = harness.run({"connection": "fleet", "argv": ["true"]})
    return [h["address"] for h in result["hosts"]]


def test_plan_says_cannot_check_per_host(settings: dict[str, dict[str, Any]], fleet: SshFleet) -> None:
    dead = f"127.0.0.1:{free_port()}"
    harness = Harness({"c": {**settings["direct"], "hosts": [*_direct_hosts(fleet)[:1], dead]}})
    plan = Run().plan({"connection": "c", "command": "systemctl restart app"}, harness.context())
    assert plan.verdict is Verdict.CANNOT_CHECK
    unreachable = [d for d in plan.details if d.startswith("unreachable: ")]
    assert len(unreachable) == 1 and dead in unreachable[0] and "cannot connect" in unreachable[0]
    strangers = Harness({"s": settings["strangers"]})
    plan = Run().plan({"connection": "s", "command": "true"}, strangers.context())
    assert plan.verdict is Verdict.CANNOT_CHECK
    assert all("accept_new" in d for d in plan.details if d.startswith("unreachable: "))
    harness.connections.close()
    strangers.connections.close()


def test_inventory_file_and_limit(fleet: SshFleet, tmp_path: Path, settings: dict[str, dict[str, Any]]) -> None:
    inventory = tmp_path / "hosts.txt"
    inventory.write_text("# web tier\nweb-1\n\nweb-3   # canary\nweb-1\n")
    harness = Harness({"inv": {"type": "ssh", "inventory": str(inventory), "ssh_config": str(fleet.ssh_config_path)}})
    assert [h["host"] for h in harness.run({"connection": "inv", "argv": ["true"]})["hosts"]] == ["web-1", "web-3"]
    limited = harness.run({"connection": "inv", "argv": ["true"], "limit": ["*-3"]})
    assert [h["host"] for h in limited["hosts"]] == ["web-3"]
    with pytest.raises(ActionError, match="matched none"):
        harness.run({"connection": "inv", "argv": ["true"], "limit": ["db-*"]})
    harness.connections.close()


def test_connections_are_reused_within_a_run(harness: Harness) -> None:
    harness.run({"connection": "fleet", "argv": ["true"]})
    again = time.monotonic()
    harness.run({"connection": "fleet", "argv": ["true"]})
    assert time.monotonic() - again < 2.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("web-1", ("web-1", None, None)),
        ("10.0.0.5:2222", ("10.0.0.5", None, 2222)),
        ("deploy@db.internal:22", ("db.internal", "deploy", 22)),
        ("ops@[::1]:2200", ("::1", "ops", 2200)),
        ("[fe80::1]", ("fe80::1", None, None)),
    ],
)
def test_parse_host_spec(text: str, expected: tuple[str, str | None, int | None]) -> None:
    spec = parse_host_spec(text)
    assert (spec.host, spec.user, spec.port) == expected
    assert spec.name == text


@pytest.mark.parametrize("text", ["a b", "host:port", "user@", "host:99999", ""])
def test_parse_host_spec_rejects(text: str) -> None:
    with pytest.raises(ActionError, match="invalid"):
        parse_host_spec(text)


def test_build_command_quotes_argv_and_wraps_sudo() -> None:
    assert build_command({"argv": ["systemctl", "restart", "my app"]}) == "systemctl restart 'my app'"
    assert build_command({"command": "echo hi | wc -c", "sudo": True}) == "sudo -n -- sh -c 'echo hi | wc -c'"


def test_table_is_compact() -> None:
    from runner.actions.ssh import HostResult

    lines = format_table([HostResult("web-1", "a", "ok", 0, "line one\nline two\n", "", 0.1234)])
    assert lines == ["HOST   STATUS  EXIT  TIME   OUTPUT", "web-1  ok      0     0.12s  line one"]


def test_schema_agrees_with_the_action() -> None:
    assert isinstance(get_action("ssh.run"), Run)
    assert check_params_now("ssh.run", {"connection": "c", "argv": ["uptime"], "max_parallel": 5}) == []
    assert check_params_now("ssh.run", {"connection": "c", "command": "uptime", "timeout": "30s"}) == []
    assert check_params_now("ssh.run", {"connection": "c"})  # neither argv nor command
    assert check_params_now("ssh.run", {"connection": "c", "argv": ["a"], "command": "b"})  # both
    assert check_params_now("ssh.run", {"connection": "c", "argv": ["a"], "timeout": "soon"})
    assert check_params_now("ssh.run", {"connection": "c", "argv": ["a"], "parallel": 3})  # unknown field


def test_is_mutating() -> None:
    assert Run().is_mutating({"connection": "c", "argv": ["uptime"]}) is True
    assert shlex.split(build_command({"argv": ["a;b"]})) == ["a;b"]


# -- the runbook, end to end through the CLI ----------------------------------------------------------------
REPO = Path(__file__).resolve().parents[2]
FIRELINE = REPO / ".venv" / "bin" / "fireline"

# Stands in for systemctl on hosts without systemd: records each call with the sshd port that served it.
FAKE_SYSTEMCTL = """#!/bin/sh
echo "$* ${SSH_CONNECTION##* }" >> "$(dirname "$0")/calls.log"
case "$1" in is-active) echo active ;; restart) sleep 0.2 ;; esac
"""


def _fireline(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FIRELINE_HOME": str(tmp_path / "home"), "NO_COLOR": "1"}
    return subprocess.run(
        [str(FIRELINE), *args], capture_output=True, text=True, timeout=120, env=env, cwd=REPO, check=False
    )


@pytest.mark.skipif(not FIRELINE.exists(), reason="the fireline CLI is not installed in .venv")
def test_fleet_service_restart_runbook_end_to_end(fleet: SshFleet, tmp_path: Path) -> None:
    systemctl = tmp_path / "systemctl"
    systemctl.write_text(FAKE_SYSTEMCTL)
    systemctl.chmod(0o755)
    inventory = tmp_path / "web-hosts"
    inventory.write_text("\n".join(fleet.aliases) + "\n")
    runbook = str(REPO / "runbooks" / "fleet-service-restart.yaml")
    inputs = [
        "-i",
        "service=checkout.service",
        "-i",
        f"inventory={inventory}",
        "-i",
        f"ssh_config={fleet.ssh_config_path}",
        "-i",
        "use_sudo=false",
        "-i",
        f"systemctl={systemctl}",
        "--output",
        "plain",
    ]

    planned = _fireline(tmp_path, "plan", runbook, *inputs)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "restart" in planned.stdout and "reachable" in planned.stdout
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert all(call.startswith("is-active") for call in calls)  # dry-run ran the read-only step only

    ran = _fireline(tmp_path, "run", runbook, *inputs, "--approve-all", "--reason", "test")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    restarted = sorted(
        c.split()[-1] for c in (tmp_path / "calls.log").read_text().splitlines() if c.startswith("restart")
    )
    assert restarted == sorted(str(s.port) for s in fleet.servers)
    assert "3/3 host(s) ok" in ran.stdout


def test_the_handshake_itself_runs_without_nagle(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nagle on during the key exchange made every handshake wait on delayed ACKs (~50 ms of an ~80 ms
    connect on loopback): the socket paramiko negotiates on must already have TCP_NODELAY."""
    import socket

    import paramiko

    seen: list[int | None] = []
    connect = paramiko.SSHClient.connect

    def spy(self: paramiko.SSHClient, *args: Any, **kwargs: Any) -> None:
        sock = kwargs.get("sock")
        seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) if sock is not None else None)
        connect(self, *args, **kwargs)

    monkeypatch.setattr(paramiko.SSHClient, "connect", spy)
    result = harness.run({"connection": "fleet", "argv": ["echo", "hi"], "stream": False})
    assert result["ok"] == 3
    assert len(seen) == 3 and all(seen), seen


def test_known_hosts_is_read_once_per_fan_out_not_once_per_host(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """paramiko parses a whole known_hosts per client, each line checked against the ones before it: read for
    every host of a big fleet, that alone took ~170 ms of CPU at 50 hosts before the first connection."""
    import paramiko

    loaded: list[str] = []
    load = paramiko.HostKeys.load

    def spy(self: paramiko.HostKeys, filename: str) -> None:
        loaded.append(filename)
        load(self, filename)

    monkeypatch.setattr(paramiko.HostKeys, "load", spy)
    result = harness.run({"connection": "fleet", "argv": ["true"], "stream": False})
    assert result["ok"] == 3
    assert len(loaded) == 1, loaded


def test_the_first_command_on_a_new_connection_does_not_wait_for_a_delayed_ack(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sshd answers our channel-open right behind its host keys announcement with Nagle on, so the answer
    waited until we acknowledged the announcement: a delayed ACK, 40 ms at least on Linux, on every new
    connection. Measured where it happened (opening the first session) and taken at its best of six,
    so a loaded machine does not make it fail; without the fix not one of them is under 40 ms."""
    import paramiko

    waits: list[float] = []
    open_session = paramiko.Transport.open_session

    def timed(self: paramiko.Transport, *args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            return open_session(self, *args, **kwargs)
        finally:
            waits.append(time.monotonic() - started)

    monkeypatch.setattr(paramiko.Transport, "open_session", timed)
    for _ in range(2):
        result = harness.run({"connection": "fleet", "argv": ["true"], "stream": False})
        assert result["ok"] == 3
        harness.connections.close()  # the next run opens new connections
    assert len(waits) == 6
    assert min(waits) < 0.030, sorted(round(w * 1000) for w in waits)


def test_a_command_returns_when_its_exit_status_arrives_not_at_the_next_poll(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """invoke checks for the exit status every input_sleep (10 ms) and sleeps in between, so each command
    came back up to 10 ms late. Stretched to 5 s, a late return cannot hide behind a loaded machine."""
    from invoke.runners import Runner

    monkeypatch.setattr(Runner, "input_sleep", 5.0)
    started = time.monotonic()
    result = harness.run({"connection": "fleet", "argv": ["echo", "done"], "stream": False})
    assert result["ok"] == 3
    assert [h["stdout"] for h in result["hosts"]] == ["done\n"] * 3
    assert time.monotonic() - started < 5.0


def test_a_big_fleet_costs_no_per_host_work_that_grows_with_the_fleet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two costs of making each host's connection grew with the fleet: paramiko asked for the local user's
    name once per ssh_config Host block for every host looked up (2 x 40 x 40 calls here), and fabric
    wrote a setting into the config shared by all hosts, re-merging it once per host. With 50 hosts that
    was ~100 ms of CPU before the first connection. Every host still gets its own ssh_config values."""
    import getpass

    from invoke.config import Config as InvokeConfig

    from runner.actions.ssh import open_targets, resolve_hosts

    count = 40
    ssh_config = tmp_path / "ssh_config"
    blocks = [f"Host node-{i}\n    HostName 127.0.0.{i + 1}\n    Port {2200 + i}\n    User ops\n" for i in range(count)]
    ssh_config.write_text("Match host node-7\n    User seven\n" + "".join(blocks))  # first value wins
    settings = {"type": "ssh", "hosts": [f"node-{i}" for i in range(count)], "ssh_config": str(ssh_config)}
    calls = {"getuser": 0, "merge": 0}
    getuser, merge = getpass.getuser, InvokeConfig.merge

    def counting_getuser() -> str:
        calls["getuser"] += 1
        return getuser()

    def counting_merge(self: InvokeConfig) -> None:
        calls["merge"] += 1
        merge(self)

    connections = StaticConnections({"nodes": settings})
    try:
        ctx = ActionContext("ssh-test", connections)
        monkeypatch.setattr(getpass, "getuser", counting_getuser)
        monkeypatch.setattr(InvokeConfig, "merge", counting_merge)
        targets = open_targets(ctx, "nodes", resolve_hosts(settings))
    finally:
        connections.close()
    assert [t.address for t in targets[6:9]] == ["ops@127.0.0.7:2206", "seven@127.0.0.8:2207", "ops@127.0.0.9:2208"]
    assert calls["getuser"] < 4 * count, calls
    assert calls["merge"] < count, calls


def test_a_timeout_that_fires_as_the_connection_closes_raises_nothing() -> None:
    """The timer's kill() runs in its own thread; when the command ended and the connection closed at that
    very moment, closing the channel raised EOFError there, and a traceback reached stderr. The moment cannot
    be made to happen on demand against sshd, so the channel here is a stand-in that is already gone."""
    from runner.actions.ssh import _timed_remote_class

    class GoneChannel:
        def exit_status_ready(self) -> bool:
            return False

        def close(self) -> None:
            raise EOFError

    timed = _timed_remote_class()
    remote = timed.__new__(timed)
    remote.channel = GoneChannel()
    remote.kill()
    assert remote.timed_out
