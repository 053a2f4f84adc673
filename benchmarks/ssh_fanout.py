"""ssh.run fan-out: wall time to run `true` on 1, 10 and 20 loopback sshd hosts, by max_parallel.

    .venv/bin/python benchmarks/ssh_fanout.py [--repeat 3] [--user NAME | --current-user] [--quick]
        [--peer-hosts 1,10,50] [--json FILE]

Connect = the dry-run reachability check (TCP + key exchange + host key + auth, no command): the
fan-out machinery alone. Cold = new connections + the command, what the first ssh step of a run pays.
Warm = connections already open (a later ssh step of the same run). Target: 10 hosts within 1.5x of one
host with max_parallel >= 10. Loopback only; starts and stops its own sshd instances.

The "hosts" are not free and, unlike a real fleet, share this machine's CPUs: 10 hosts cost 10x one
host's CPU, on the same cores. sshd runs each command through the login user's shell, so when root's
rc files do work (`pyenv init` in root's .bashrc: ~200ms of CPU per command) the benchmark measures
those dotfiles, not fireline. As root it therefore logs in as a dedicated system user with /bin/sh
(dash, no rc files; created on first use, see tests/servers/sshd.py). `--current-user` measures the
old way. The "cost" lines show what one host costs in CPU (sshd + shell, and the paramiko client), and
the CPU floor that puts under the 10-host figure on this many CPUs.

Against Ansible: `ansible all -i INVENTORY -m command -a true -f N` (ansible-core in its own venv, see
_peer.py) on the same hosts, key, ssh_config and login user, for 1, 10 and 50 hosts, each run with a fresh
ControlPath directory so its connections are as cold as fireline's. Both are measured as whole processes
(`fireline run` of a one-step ssh.run runbook, journal on, against `ansible`); fireline's in-process ssh.run
(cold) is shown beside them. Targets: the whole fireline process <= 0.5x Ansible at 10 and 50 hosts, and the
in-process cold run within 1.2x of the CPU floor at 10 and 50 hosts.

The CPU floor is the CPU that the cold run itself used, client and servers, spread over the machine's
CPUs (one host's over one): the least wall time that work allows. It is read inside the run's own wall
time, exactly, from a cgroup holding the sshd instances (see FleetCgroup; root and a writable cgroup fs).
Without one it falls back to the /proc walk after the connections closed, which also counts their
teardown and gives a floor that a run can beat (at 50 hosts: a "floor" of 705 ms under a 613 ms run).

"10 hosts within 1.5x one host" is only judged where this machine allows it: 10 hosts sharing the
client's CPUs need 10 hosts' CPU, and when that alone exceeds 1.5x one host's time the ratio is shown
with the reason instead (see _ten_versus_one).

Reading the 1-host figure: most of it is idle waiting, not work. paramiko does not set TCP_NODELAY, so
Nagle + the peer's delayed ACK (40ms on Linux loopback) stall the handshake and each command
(~50ms of a ~80ms connect, ~40ms of a ~47ms `true`, measured with and without TCP_NODELAY on the socket).
ssh.run therefore opens the socket itself with TCP_NODELAY and hands it to paramiko for the handshake.
The other direction stalled too: sshd keeps Nagle on, and right after authentication it sends its host keys
announcement and then the answer to the client's channel-open; the answer waited for the client's delayed
ACK of the announcement (~43 ms of a ~80 ms cold 1-host run). The socket acknowledges each read at once
(TCP_QUICKACK), and a cold 1-host `true` takes ~30 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _peer

from runner.actions.base import ActionContext
from runner.actions.ssh import Run
from runner.testing import StaticConnections as Connections
from tests.servers.sshd import SshFleet, start_sshd

BENCH_USER = "fireline-bench"
TARGET_RATIO = 1.5
TARGET_VS_ANSIBLE = 0.5
TARGET_VS_FLOOR = 1.2
_CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- CPU accounting ---------------------------------------------------------------------------------------
def _tree_cpu(pid: int) -> int:
    """Clock ticks used by `pid` and all its descendants, live or already reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (FileNotFoundError, ProcessLookupError):
        return 0  # exited while we walked: its time is in its parent's cutime by now (or soon)
    fields = stat.rsplit(")", 1)[1].split()
    # After "pid (comm)": fields[11..14] are utime, stime, cutime, cstime (proc(5) fields 14-17).
    # cutime/cstime only hold *reaped* children, the live ones are walked: nothing counted twice.
    return sum(int(v) for v in fields[11:15]) + sum(_tree_cpu(int(c)) for c in children)


def _server_cpu(fleet: SshFleet) -> float:
    """CPU seconds used so far by all sshd instances and everything they ran (exact from the fleet's cgroup
    when there is one; else summed from /proc, see below).

    Each connection is a subtree of its listening sshd: the re-executed per-connection sshd (monitor),
    its privsep children (pre-auth, then the session process running as the login user) and the
    user's shell per command. Summing the whole tree counts the complete server side, shell included.
    """
    if CGROUP is not None:
        return CGROUP.seconds()
    return sum(_tree_cpu(s.process.pid) for s in fleet.servers if s.process is not None) / _CLK_TCK


def _client_cpu() -> float:
    """CPU seconds of this process (all threads): fabric/paramiko's side of every connection."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _settle() -> None:
    # Give just-exited processes (closed connections, finished shells) a moment to be reaped, so
    # their time is in a parent's cutime rather than in a zombie that may vanish mid-walk.
    time.sleep(0.05)


@dataclass
class Cpu:
    server: float = 0.0
    client: float = 0.0


class CpuMeter:
    """Adds the server and client CPU spent inside `with meter:` blocks (after the connections close)."""

    def __init__(self, fleet: SshFleet) -> None:
        self.fleet = fleet
        self.total = Cpu()
        self._start = Cpu()

    def __enter__(self) -> CpuMeter:
        _settle()
        self._start = Cpu(_server_cpu(self.fleet), _client_cpu())
        return self

    def __exit__(self, *exc: object) -> None:
        _settle()
        self.total.server += _server_cpu(self.fleet) - self._start.server
        self.total.client += _client_cpu() - self._start.client


class FleetCgroup:
    """The exact CPU of every server-side process, including the ones that already exited: the sshd
    instances are moved into a cgroup of their own (each connection's processes inherit it) whose
    kernel counter is read before and after a run. Needs root and a writable cgroup filesystem.

    The /proc walk of CpuMeter cannot measure a window that ends while the connections are open: a live
    process's time is in whole clock ticks (10 ms), and the sshd processes of each connection are live
    until the connection closes. CpuMeter therefore reads after the connections are closed, which puts
    their teardown (and the meter's own /proc walk) into the "CPU of a cold run"."""

    # cgroup v2 (unified, or its hybrid mount), then v1 cpuacct.
    _CANDIDATES = (
        (Path("/sys/fs/cgroup"), "cpu.stat"),
        (Path("/sys/fs/cgroup/unified"), "cpu.stat"),
        (Path("/sys/fs/cgroup/cpuacct"), "cpuacct.usage"),
    )

    def __init__(self, directory: Path, counter: str) -> None:
        self.directory = directory
        self.counter = counter

    @classmethod
    def create(cls) -> FleetCgroup | None:
        for root, counter in cls._CANDIDATES:
            if not (root / "cgroup.procs").exists():
                continue
            try:
                directory = Path(tempfile.mkdtemp(prefix="fireline-bench-ssh-", dir=root))
            except OSError:
                continue
            if (directory / counter).exists():
                return cls(directory, counter)
            directory.rmdir()
        return None

    def attach(self, fleet: SshFleet) -> None:
        for server in fleet.servers:
            assert server.process is not None
            (self.directory / "cgroup.procs").write_text(str(server.process.pid))

    def seconds(self) -> float:
        text = (self.directory / self.counter).read_text()
        if self.counter == "cpuacct.usage":
            return int(text) / 1e9
        usage = next(line for line in text.splitlines() if line.startswith("usage_usec"))
        return int(usage.split()[1]) / 1e6

    def remove(self) -> None:
        """Remove the cgroup once the fleet has stopped. Connections kept open past the fleet's listeners
        (Ansible's ControlPersist masters hold theirs for 60 s) leave sshd session processes in it: they
        belong to this fleet and are ended, by their ids, if still there after a second."""
        for attempt in range(50):
            try:
                self.directory.rmdir()
                return
            except OSError:
                if attempt == 10:
                    for pid in (self.directory / "cgroup.procs").read_text().split():
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(int(pid), signal.SIGTERM)
                time.sleep(0.1)


# -- the measured operations ----------------------------------------------------------------------------
def _settings(fleet: SshFleet) -> dict[str, dict[str, object]]:
    return {"fleet": {"type": "ssh", "hosts": fleet.aliases, "ssh_config": str(fleet.ssh_config_path)}}


# The cgroup of the fleet under test, when one could be made (main() sets it).
CGROUP: FleetCgroup | None = None


def _once(connections: Connections, hosts: int, parallel: int, window: list[float] | None = None) -> float:
    """Wall time of one ssh.run; with `window`, also append the CPU (client and servers) spent inside it."""
    ctx = ActionContext("bench", connections)
    params = {
        "connection": "fleet",
        "argv": ["true"],
        "max_parallel": parallel,
        "stream": False,
        "limit": [f"web-{i}" for i in range(1, hosts + 1)],
    }
    cpu_before = _client_cpu() + (CGROUP.seconds() if CGROUP is not None else 0.0)
    started = time.perf_counter()
    outcome = Run().run(params, ctx)
    elapsed = time.perf_counter() - started
    cpu_after = _client_cpu() + (CGROUP.seconds() if CGROUP is not None else 0.0)
    assert outcome.result["ok"] == hosts, outcome.result
    if window is not None and CGROUP is not None:
        window.append(cpu_after - cpu_before)
    return elapsed


def _connect_only(connections: Connections, hosts: int, parallel: int) -> float:
    ctx = ActionContext("bench", connections)
    params = {
        "connection": "fleet",
        "argv": ["true"],
        "max_parallel": parallel,
        "limit": [f"web-{i}" for i in range(1, hosts + 1)],
    }
    started = time.perf_counter()
    plan = Run().plan(params, ctx)
    elapsed = time.perf_counter() - started
    assert plan.verdict.value == "would-change", plan
    return elapsed


@dataclass
class Case:
    connect: float
    cold: float
    warm: float
    connect_cpu: Cpu  # per host
    cold_cpu: Cpu  # per host
    # CPU (client + servers) spent inside the cold runs' own wall time, median: None without a cgroup.
    cold_window_cpu: float | None = None


def measure(fleet: SshFleet, hosts: int, parallel: int, repeat: int) -> Case:
    """Median connect-only, cold and warm wall times in seconds, and CPU per host of connect and cold."""
    connect, cold, warm = [], [], []
    window: list[float] = []
    connect_meter, cold_meter = CpuMeter(fleet), CpuMeter(fleet)
    for _ in range(repeat):
        connections = Connections(_settings(fleet))
        try:
            with connect_meter:
                try:
                    connect.append(_connect_only(connections, hosts, parallel))
                finally:
                    connections.close()
            connections = Connections(_settings(fleet))
            cold.append(_once(connections, hosts, parallel, window))
            warm.append(_once(connections, hosts, parallel))
        finally:
            connections.close()
        # CPU of a cold run alone (connect + auth + session + shell), measured on its own pass so the
        # warm run and the settling waits are not in the wall times above.
        connections = Connections(_settings(fleet))
        with cold_meter:
            try:
                _once(connections, hosts, parallel)
            finally:
                connections.close()
    per_host = repeat * hosts

    def per(cpu: Cpu) -> Cpu:
        return Cpu(cpu.server / per_host, cpu.client / per_host)

    return Case(
        statistics.median(connect),
        statistics.median(cold),
        statistics.median(warm),
        per(connect_meter.total),
        per(cold_meter.total),
        statistics.median(window) if window else None,
    )


def one_host_cost(fleet: SshFleet, samples: int = 10) -> tuple[Cpu, Cpu, float]:
    """CPU of one connect+auth and of one `true` on an open connection (server, client), and its wall time."""
    warmup = Connections(_settings(fleet))
    try:
        _connect_only(warmup, 1, 1)  # first use imports fabric/paramiko: not a per-connection cost
    finally:
        warmup.close()
    connect = CpuMeter(fleet)
    for _ in range(samples):
        connections = Connections(_settings(fleet))
        with connect:
            try:
                _connect_only(connections, 1, 1)
            finally:
                connections.close()
    command = CpuMeter(fleet)
    connections = Connections(_settings(fleet))
    walls = []
    try:
        _once(connections, 1, 1)  # open the connection; only the commands below are counted
        with command:
            for _ in range(samples):
                walls.append(_once(connections, 1, 1))
    finally:
        connections.close()

    def per_sample(cpu: Cpu) -> Cpu:
        return Cpu(cpu.server / samples, cpu.client / samples)

    return per_sample(connect.total), per_sample(command.total), statistics.median(walls)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}ms"


# -- against Ansible --------------------------------------------------------------------------------------
RUNBOOK = """apiVersion: fireline/v1
kind: Runbook
metadata: {{name: fanout-bench}}
connections:
  fleet: {{type: ssh, hosts: {hosts}, ssh_config: "{ssh_config}"}}
steps:
  - id: fan-out
    action: ssh.run
    read_only: true
    with: {{connection: fleet, argv: ["true"], max_parallel: {width}, stream: false}}
"""


def _fireline_process(fleet: SshFleet, hosts: int, workdir: Path) -> float:
    """Wall time of `fireline run` of a one-step ssh.run runbook on `hosts` hosts (journal on, fresh home)."""
    runbook = workdir / f"fanout-{hosts}.yaml"
    aliases = fleet.aliases[:hosts]
    runbook.write_text(RUNBOOK.format(hosts=aliases, ssh_config=fleet.ssh_config_path, width=hosts))
    home = Path(tempfile.mkdtemp(prefix="home-", dir=workdir))
    env = {**os.environ, "FIRELINE_HOME": str(home), "FIRELINE_ACTOR": "bench"}
    command = [str(_peer.fireline_executable()), "run", str(runbook), "--output", "json"]
    return _peer.timed_run(command, env=env, timeout=300)


def _ansible_process(ansible: Path, fleet: SshFleet, hosts: int, workdir: Path) -> float:
    """Wall time of `ansible all -m command -a true -f N` on `hosts` hosts, with cold connections."""
    inventory = workdir / "inventory.ini"
    if not inventory.exists():
        inventory.write_text(
            "[fleet]\n" + "".join(f"{alias}\n" for alias in fleet.aliases) + "[all:vars]\n"
            f"ansible_ssh_common_args='-F {fleet.ssh_config_path}'\n"
            "ansible_python_interpreter=/usr/bin/python3\n"  # no interpreter discovery round trip
        )
    run_dir = Path(tempfile.mkdtemp(prefix="ansible-", dir=workdir))  # a fresh ControlPath: no warm master
    env = {
        **os.environ,
        "ANSIBLE_HOME": str(run_dir / "home"),
        "ANSIBLE_LOCAL_TEMP": str(run_dir / "tmp"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(run_dir / "cp"),
        "ANSIBLE_NOCOLOR": "1",
    }
    limit = ",".join(fleet.aliases[:hosts])
    command = [str(ansible), "all", "-i", str(inventory), "--limit", limit, "-m", "command", "-a", "true"]
    command += ["-f", str(hosts)]
    return _peer.timed_run(command, env=env, timeout=600)


@dataclass(frozen=True)
class VsAnsible:
    hosts: int
    in_process: float  # ssh.run, cold connections
    floor: float  # the CPU floor under `in_process`
    process: float  # `fireline run`
    ansible: float | None


def against_ansible(fleet: SshFleet, host_counts: list[int], repeat: int, workdir: Path) -> list[VsAnsible]:
    ansible = _peer.ansible_executable()
    if ansible is None:
        print("Ansible: SKIP (its venv could not be set up)")
    cpus = len(os.sched_getaffinity(0))
    rows = []
    for hosts in host_counts:
        case = measure(fleet, hosts, hosts, repeat)
        # One host's work cannot spread over two CPUs. Without a cgroup the CPU is CpuMeter's, which also
        # counts the connections' teardown after the run: a floor too high (the report says which).
        cpu = case.cold_window_cpu
        if cpu is None:
            cpu = hosts * (case.cold_cpu.server + case.cold_cpu.client)
        floor = cpu / min(cpus, hosts)
        process = statistics.median(_fireline_process(fleet, hosts, workdir) for _ in range(repeat))
        peer = None
        if ansible is not None:
            peer = statistics.median(_ansible_process(ansible, fleet, hosts, workdir) for _ in range(repeat))
        rows.append(VsAnsible(hosts, case.cold, floor, process, peer))
    return rows


def report_against_ansible(rows: list[VsAnsible]) -> list[_peer.Result]:
    table, results = [], []
    for row in rows:
        judged = row.hosts >= 10
        ratio = row.process / row.ansible if row.ansible else None
        floor_ratio = row.in_process / row.floor
        table.append([
            str(row.hosts), f"{row.process:.3f}", f"{row.ansible:.3f}" if row.ansible else "SKIP",
            f"{ratio:.2f}x" if ratio is not None else "-", f"{row.in_process:.3f}", f"{row.floor:.3f}",
            f"{floor_ratio:.2f}x",
        ])  # fmt: skip
        results.append(_peer.Result(
            f"ssh.run on {row.hosts} host(s), whole process, vs ansible -m command", row.process, "s",
            f"<= {TARGET_VS_ANSIBLE}x ansible" if judged else "(shown)",
            (ratio <= TARGET_VS_ANSIBLE if ratio is not None else None) if judged else None,
            peer=row.ansible, ratio=ratio,
        ))  # fmt: skip
        results.append(_peer.Result(
            f"ssh.run on {row.hosts} host(s), cold, vs the CPU floor", row.in_process, "s",
            f"<= {TARGET_VS_FLOOR}x floor" if judged else "(shown)",
            floor_ratio <= TARGET_VS_FLOOR if judged else None,
            peer=row.floor, ratio=floor_ratio,
            note="peer column: the CPU floor" + ("" if CGROUP else " (approximate: no cgroup, teardown included)"),
        ))  # fmt: skip
    _peer.print_table(
        f"Against Ansible (medians, seconds; targets at 10+ hosts: fireline run <= {TARGET_VS_ANSIBLE}x ansible, "
        f"ssh.run cold <= {TARGET_VS_FLOOR}x the CPU floor)",
        table,
        ["hosts", "fireline run", "ansible", "ratio", "ssh.run cold", "CPU floor", "vs floor"],
    )
    for result in results:
        if result.met is not None:
            print(f"{result.measure}: {result.ratio:.2f}x ({result.target}): {_peer.verdict(result.met)}")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--user", default=None, help=f"login user for the hosts (default as root: {BENCH_USER})")
    who.add_argument("--current-user", action="store_true", help="log in as the current user (its own shell)")
    parser.add_argument("--quick", action="store_true", help="one repeat, fewer cases, Ansible at 1 and 10 hosts")
    parser.add_argument("--peer-hosts", default="1,10,50", help="host counts for the Ansible comparison")
    _peer.add_json_option(parser)
    args = parser.parse_args()
    if args.quick:
        args.repeat, args.peer_hosts = 1, "1,10"
    peer_hosts = sorted({int(n) for n in args.peer_hosts.split(",")})
    user: str | None = args.user
    if user is None and not args.current_user and os.geteuid() == 0:
        user = BENCH_USER
    cpus = len(os.sched_getaffinity(0))
    cases = [(1, 1), (10, 10)] if args.quick else [(1, 1), (10, 1), (10, 5), (10, 10), (20, 5), (20, 10), (20, 20)]
    count = max(20, *peer_hosts)
    global CGROUP
    CGROUP = FleetCgroup.create()
    with tempfile.TemporaryDirectory(prefix="fireline-bench-ssh-") as tmp:
        t0 = time.perf_counter()
        try:
            with start_sshd(Path(tmp), count=count, user=user) as fleet:
                if CGROUP is not None:
                    CGROUP.attach(fleet)
                results, versus = _measure_all(fleet, cases, peer_hosts, args.repeat, Path(tmp), t0)
        finally:
            if CGROUP is not None:
                CGROUP.remove()
    _report(results, versus, cpus, args.json)
    return 0


def _measure_all(
    fleet: SshFleet, cases: list[tuple[int, int]], peer_hosts: list[int], repeat: int, workdir: Path, t0: float
) -> tuple[dict[tuple[int, int], Case], list[VsAnsible]]:
    cpus = len(os.sched_getaffinity(0))
    count = len(fleet.servers)
    print(f"{count} sshd instances started in {time.perf_counter() - t0:.2f}s, login user {fleet.user}")
    print(f"machine: {cpus} CPUs shared by the client and all {count} 'hosts'")
    source = "CPU spent inside each cold run (sshd in a cgroup: exact)" if CGROUP else "no cgroup: see FleetCgroup"
    print(f"CPU floor: {source}")
    conn_cpu, cmd_cpu, cmd_wall = one_host_cost(fleet)
    print(
        f"cost of one host, connect+auth: sshd {_ms(conn_cpu.server)} CPU, "
        f"client (fabric/paramiko) {_ms(conn_cpu.client)} CPU"
    )
    print(
        f"cost of one host, `true` on an open connection: {_ms(cmd_wall)} wall, "
        f"sshd session + shell {_ms(cmd_cpu.server)} CPU, client {_ms(cmd_cpu.client)} CPU"
    )
    header = f"{'hosts':>5} {'max_parallel':>12} {'connect s':>10} {'cold s':>8} {'warm s':>8}"
    print(f"{header}   CPU/host connect (sshd+client), cold (sshd+client), cold inside the run")
    results: dict[tuple[int, int], Case] = {}
    for hosts, parallel in cases:
        case = results[(hosts, parallel)] = measure(fleet, hosts, parallel, repeat)
        inside = "-" if case.cold_window_cpu is None else _ms(case.cold_window_cpu / hosts)
        print(
            f"{hosts:>5} {parallel:>12} {case.connect:>10.3f} {case.cold:>8.3f} {case.warm:>8.3f}"
            f"   {_ms(case.connect_cpu.server)}+{_ms(case.connect_cpu.client)}"
            f", {_ms(case.cold_cpu.server)}+{_ms(case.cold_cpu.client)}, {inside}"
        )
    return results, against_ansible(fleet, peer_hosts, repeat, workdir)


def _report(results: dict[tuple[int, int], Case], versus: list[VsAnsible], cpus: int, json_path: str | None) -> None:
    one, ten = results[(1, 1)], results[(10, 10)]
    for label, single, many in (
        ("connect+auth", one.connect, ten.connect),
        ("cold run", one.cold, ten.cold),
        ("warm run", one.warm, ten.warm),
    ):
        print(f"{label}: 10 hosts (max_parallel 10) take {many / single:.2f}x one host")
    # What the shared CPUs alone force: 10 hosts' CPU spread over `cpus` cores, against one host's wall.
    ten_cold_cpu = ten.cold_window_cpu
    if ten_cold_cpu is None:
        ten_cold_cpu = 10 * (ten.cold_cpu.server + ten.cold_cpu.client)
    floors = {}
    for label, single, cpu in (
        ("connect+auth", one.connect, 10 * (ten.connect_cpu.server + ten.connect_cpu.client)),
        ("cold run", one.cold, ten_cold_cpu),
    ):
        floors[label] = cpu / cpus
        print(
            f"{label}: 10 hosts need {_ms(cpu)} CPU = at least {_ms(cpu / cpus)} wall on "
            f"{cpus} CPUs, i.e. a floor of {cpu / cpus / single:.2f}x one host's {_ms(single)} on this machine"
        )
    report = report_against_ansible(versus)
    report.append(_ten_versus_one(one.cold, ten.cold, floors["cold run"]))
    _peer.write_results(json_path, "ssh_fanout", report)


def _ten_versus_one(one: float, ten: float, floor: float) -> _peer.Result:
    """10 hosts' cold run against one host's, judged only where the machine allows the target.

    The target (10 hosts within 1.5x one host) is about a fleet whose hosts do their share of the work on
    their own CPUs. Here the 10 "hosts" run on the client's CPUs: when their CPU alone needs more than
    1.5x one host's time, no client can meet it, and the ratio rewards a slow single host (removing a
    40 ms stall from every connection made one host 3x faster and this ratio 3x worse). Such a machine
    shows the ratio and why it is not judged; the CPU-floor rows judge the fan-out there instead."""
    ratio = ten / one
    possible = floor <= TARGET_RATIO * one
    target = f"<= {TARGET_RATIO}x one host"
    if not possible:
        target += f" (not judged: the 10 hosts' CPU floor alone is {floor / one:.2f}x one host here)"
    print(f"ssh.run cold on 10 hosts vs 1 host: {ratio:.2f}x ({target})" + (
        f": {_peer.verdict(ratio <= TARGET_RATIO)}" if possible else ""
    ))  # fmt: skip
    return _peer.Result(
        "ssh.run cold on 10 hosts vs 1 host", ten, "s", target, ratio <= TARGET_RATIO if possible else None,
        peer=one, ratio=ratio, note="peer column: one host",
    )  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
