"""ssh.run fan-out: wall time to run `true` on 1, 10 and 20 loopback sshd hosts, by max_parallel.

    .venv/bin/python benchmarks/ssh_fanout.py [--repeat 3]

Connect = the dry-run reachability check (TCP + key exchange + host key + auth, no command): the
fan-out machinery alone. Cold = new connections + the command, what the first ssh step of a run pays.
Warm = connections already open (a later ssh step of the same run). Target: 10 hosts within 1.5x of one
host with max_parallel >= 10. Loopback only; starts and stops its own sshd instances.

The remote side is not free: sshd starts the user's login shell for every command, and on a machine where
that shell's rc files do work (e.g. `pyenv init` in root's .bashrc) each command costs that much CPU on
the "hosts" - which here all share the benchmark machine's CPUs. The "shell" line measures it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runner.actions.base import ActionContext
from runner.actions.ssh import Run
from runner.testing import StaticConnections as Connections
from tests.servers.sshd import SshFleet, start_sshd


def _once(connections: Connections, hosts: int, parallel: int) -> float:
    ctx = ActionContext("bench", connections)
    params = {
        "connection": "fleet",
        "argv": ["true"],
        "max_parallel": parallel,
        "stream": False,
        "limit": [f"web-{i}" for i in range(1, hosts + 1)],
    }
    started = time.perf_counter()
    outcome = Run().run(params, ctx)
    elapsed = time.perf_counter() - started
    assert outcome.result["ok"] == hosts, outcome.result
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


def measure(fleet: SshFleet, hosts: int, parallel: int, repeat: int) -> tuple[float, float, float]:
    """Median connect-only, cold and warm wall times in seconds."""
    settings = {"fleet": {"type": "ssh", "hosts": fleet.aliases, "ssh_config": str(fleet.ssh_config_path)}}
    connect, cold, warm = [], [], []
    for _ in range(repeat):
        for phase in ("connect", "run"):
            connections = Connections(settings)
            try:
                if phase == "connect":
                    connect.append(_connect_only(connections, hosts, parallel))
                else:
                    cold.append(_once(connections, hosts, parallel))
                    warm.append(_once(connections, hosts, parallel))
            finally:
                connections.close()
    return statistics.median(connect), statistics.median(cold), statistics.median(warm)


def shell_cost(fleet: SshFleet) -> float:
    """Seconds one `true` takes on an open connection: the remote login shell's startup."""
    from fabric import Config, Connection

    conn = Connection("web-1", config=Config(runtime_ssh_path=str(fleet.ssh_config_path)))
    try:
        conn.open()
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            conn.run("true", hide=True, in_stream=False)
            samples.append(time.perf_counter() - started)
        return statistics.median(samples)
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cases = [(1, 1), (10, 1), (10, 5), (10, 10), (20, 5), (20, 10), (20, 20)]
    with tempfile.TemporaryDirectory(prefix="fireline-bench-ssh-") as tmp:
        t0 = time.perf_counter()
        with start_sshd(Path(tmp), count=20) as fleet:
            print(f"20 sshd instances started in {time.perf_counter() - t0:.2f}s")
            print(f"shell: one `true` on an open connection takes {shell_cost(fleet) * 1000:.0f}ms")
            print(f"{'hosts':>5} {'max_parallel':>12} {'connect s':>10} {'cold s':>8} {'warm s':>8}")
            results = {}
            for hosts, parallel in cases:
                results[(hosts, parallel)] = measure(fleet, hosts, parallel, args.repeat)
                connect, cold, warm = results[(hosts, parallel)]
                print(f"{hosts:>5} {parallel:>12} {connect:>10.3f} {cold:>8.3f} {warm:>8.3f}")
    for index, label in ((0, "connect+auth"), (1, "cold run")):
        ratio = results[(10, 10)][index] / results[(1, 1)][index]
        verdict = "meets" if ratio <= 1.5 else "misses"
        print(f"{label}: 10 hosts (max_parallel 10) take {ratio:.2f}x one host: {verdict} the 1.5x target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
