"""The journal store under load: concurrent fireline processes appending to one store, and `runs list` on a
store holding many runs.

    .venv/bin/python benchmarks/store_load.py [--procs 1,8,32] [--events 100] [--runs 100000]
        [--stores postgres,sqlite] [--quick] [--json FILE]

Appends: N processes (1, 8, 32) each open the journal the way a run does (runner.journal.store.open_journal,
FIRELINE_STORE pointing at the store), wait at a common start line, then append `--events` durable events
(`step.started` of a mutating step: committed, on SQLite fsynced, before append returns) to a run of their
own. Reported: durable append latency p50/p99 over every event of every process, and events/s over the
whole stretch (first start to last end). One PostgreSQL server (started by this script, fsync and
synchronous_commit ON, unlike the test fixture's) and one SQLite file under a temp FIRELINE_HOME.

Listing: the store is then filled to `--runs` runs (each a run.started and a run.finished, written through
the backend in batches, chained like any event) and `fireline runs list` (the console script, the whole
process) is timed, median of 5, against a target of 0.3 s, and so are `fireline runs show` of a whole run id
and of a unique prefix, and `fireline incident list` when this fireline has it. Loopback only; bounded; the
server and files are removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _peer

LIST_TARGET_S = 0.3
SEED_BATCH = 2000  # rows per transaction while filling the store
BOOT = "bench-boot"
PREFIXED_RUN = "bench-prefix-7f3a9c"  # one run in the middle of the store, found by `runs show bench-prefix-7f`


# -- the worker: one fireline process appending -------------------------------------------------------------
def worker(events: int, go: Path) -> int:
    """Open the configured journal, wait for `go`, append `events` durable events; print one JSON line."""
    from runner.journal.store import open_journal

    journal = open_journal()
    run_id = f"load-{uuid.uuid4().hex[:12]}"
    journal.append(run_id, "run.started", data={"name": "store-load"}, durable=True)  # connection warmed up
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.002)
    latencies = []
    started = time.time()
    for index in range(events):
        t0 = time.perf_counter()
        journal.append(run_id, "step.started", step_id=f"s{index}", data={"mutating": True}, durable=True)
        latencies.append(time.perf_counter() - t0)
    ended = time.time()
    journal.append(run_id, "run.finished", data={"status": "succeeded"}, durable=True)
    journal.close()
    print(json.dumps({"latencies": latencies, "started": started, "ended": ended}), flush=True)
    return 0


@dataclass(frozen=True)
class Load:
    store: str
    procs: int
    p50: float
    p99: float
    per_second: float


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def load(store: str, label: str, procs: int, events: int, workdir: Path, env: dict[str, str]) -> Load:
    go = workdir / f"go-{label}-{procs}"
    command = [sys.executable, __file__, "--worker", "--events", str(events), "--go", str(go)]
    workers = [
        subprocess.Popen(command, env={**env, "FIRELINE_STORE": store}, stdout=subprocess.PIPE, text=True)
        for _ in range(procs)
    ]
    try:
        for proc in workers:  # every process has its connection open before anyone starts
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError(f"a worker did not start (exit {proc.wait()}): {line}")
        go.touch()
        reports = []
        for proc in workers:
            out, _ = proc.communicate(timeout=600)
            if proc.returncode != 0:
                raise RuntimeError(f"a worker failed with exit {proc.returncode}")
            reports.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    latencies = sorted(t for r in reports for t in r["latencies"])
    span = max(r["ended"] for r in reports) - min(r["started"] for r in reports)
    return Load(label, procs, _percentile(latencies, 0.50), _percentile(latencies, 0.99), len(latencies) / span)


# -- filling the store ---------------------------------------------------------------------------------------
def seed(store: str, runs: int) -> float:
    """Add `runs` finished runs through the store's backend (chained like any event); returns seconds taken."""
    os.environ["FIRELINE_STORE"] = store
    from runner.journal.store import open_journal

    journal = open_journal()
    backend = journal._backend  # batches of many runs per transaction: the public append is one run at a time
    started = time.perf_counter()
    rows: list[tuple[str, str, float, str, str | None, str | None, str, str]] = []
    for index in range(runs):
        run_id = PREFIXED_RUN if index == runs // 2 else f"seed-{index:07d}"
        wall = f"2026-01-01T00:00:{index % 60:02d}.000000Z"
        started_data = json.dumps({"runbook": "/runbooks/x.yaml", "name": f"runbook-{index % 50}", "title": "",
                                   "digest": "", "inputs": {}})  # fmt: skip
        rows.append((run_id, wall, float(index), "run.started", None, "responder", started_data, BOOT))
        rows.append((run_id, wall, index + 0.5, "run.finished", None, "responder", '{"status": "succeeded"}', BOOT))
        if len(rows) >= SEED_BATCH:
            backend.insert(rows, False, {})
            rows = []
    if rows:
        backend.insert(rows, False, {})
    journal.close()
    return time.perf_counter() - started


def time_command(argv: Sequence[str], env: dict[str, str], repeat: int = 5) -> float | None:
    """Median wall time of a fireline command as a whole process; None when this fireline lacks it."""
    probe = subprocess.run([*argv, "--help"], env=env, capture_output=True, check=False)
    if probe.returncode != 0:
        return None
    _peer.timed_run(argv, env=env)  # warm the page cache and any per-user cache
    return statistics.median(_peer.timed_run(argv, env=env) for _ in range(repeat))


# -- the stores ----------------------------------------------------------------------------------------------
@contextmanager
def durable_postgres(workdir: Path) -> Iterator[str]:
    """A throwaway PostgreSQL server that, unlike the test fixture's, fsyncs its commits; yields a DSN."""
    from runner.lab.postgres import ThrowawayPostgres

    server = ThrowawayPostgres(workdir / "pg")
    server.start(max_connections=100)
    try:
        options = (
            f"-c listen_addresses={server.host} -c port={server.port} -c unix_socket_directories='' "
            "-c max_connections=100 -c fsync=on -c synchronous_commit=on -c full_page_writes=on "
            "-c shared_buffers=64MB"
        )
        server._run("pg_ctl", "-D", str(server.data_dir), "-l", str(server.log_path), "-o", options, "-w",
                    "-t", "30", "-m", "fast", "restart")  # fmt: skip
        yield server.create_database("load")
    finally:
        server.stop()


@dataclass(frozen=True)
class Listing:
    store: str
    runs: int
    seed_s: float
    runs_list: float
    show_whole: float
    show_prefix: float
    incident_list: float | None


def run_store(label: str, store: str, args: argparse.Namespace, workdir: Path) -> tuple[list[Load], Listing]:
    env = {**os.environ, "FIRELINE_HOME": str(workdir / f"home-{label}"), "FIRELINE_ACTOR": "bench"}
    loads = []
    for procs in args.procs:
        loads.append(load(store, label, procs, args.events, workdir, env))
        print(f"  {label}: {procs} process(es) done", file=sys.stderr)
    seed_s = seed(store, args.runs)
    fireline = str(_peer.fireline_executable())
    env["FIRELINE_STORE"] = store
    listing = Listing(
        label,
        args.runs,
        seed_s,
        time_command([fireline, "runs", "list"], env) or 0.0,
        time_command([fireline, "runs", "show", f"seed-{args.runs - 1:07d}"], env) or 0.0,
        time_command([fireline, "runs", "show", PREFIXED_RUN[:15]], env) or 0.0,
        time_command([fireline, "incident", "list"], env),
    )
    return loads, listing


def report(loads: list[Load], listings: list[Listing]) -> list[_peer.Result]:
    _peer.print_table(
        "Durable appends, N processes at once (each event committed before append returns)",
        [[r.store, str(r.procs), _peer.ms(r.p50), _peer.ms(r.p99), f"{r.per_second:,.0f}"] for r in loads],
        ["store", "processes", "p50", "p99", "events/s"],
    )
    _peer.print_table(
        f"Listing with many runs in the store (whole process, median of 5; target < {LIST_TARGET_S} s)",
        [
            [x.store, f"{x.runs:,}", f"{x.seed_s:.1f} s", f"{x.runs_list:.3f} s", f"{x.show_whole:.3f} s",
             f"{x.show_prefix:.3f} s", "-" if x.incident_list is None else f"{x.incident_list:.3f} s"]
            for x in listings
        ],
        ["store", "runs", "filled in", "runs list", "runs show ID", "runs show PREFIX", "incident list"],
    )
    results = [
        _peer.Result(f"{r.store}: durable append, {r.procs} process(es), p99 (p50 {_peer.ms(r.p50)}, "
                     f"{r.per_second:,.0f} events/s)", r.p99, "s", "(shown)", None)
        for r in loads
    ]
    for x in listings:
        met = x.runs_list < LIST_TARGET_S
        print(f"{x.store}: runs list with {x.runs:,} runs: {x.runs_list:.3f} s: {_peer.verdict(met)}")
        results.append(_peer.Result(f"{x.store}: runs list, {x.runs:,} runs", x.runs_list, "s",
                                    f"< {LIST_TARGET_S} s", met))  # fmt: skip
        for what, took in (("runs show ID", x.show_whole), ("runs show PREFIX", x.show_prefix)):
            results.append(_peer.Result(f"{x.store}: {what}, {x.runs:,} runs", took, "s", f"< {LIST_TARGET_S} s",
                                        took < LIST_TARGET_S))  # fmt: skip
        if x.incident_list is not None:
            met = x.incident_list < LIST_TARGET_S
            results.append(_peer.Result(f"{x.store}: incident list, {x.runs:,} runs", x.incident_list, "s",
                                        f"< {LIST_TARGET_S} s", met))  # fmt: skip
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", default="1,8,32", help="numbers of concurrent processes")
    parser.add_argument("--events", type=int, default=100, help="durable appends per process")
    parser.add_argument("--runs", type=int, default=100_000, help="runs in the store when listing")
    parser.add_argument("--stores", default="postgres,sqlite")
    parser.add_argument("--quick", action="store_true", help="1 and 8 processes, 20 events, 5,000 runs")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--go", type=Path, help=argparse.SUPPRESS)
    _peer.add_json_option(parser)
    args = parser.parse_args()
    if args.worker:
        return worker(args.events, args.go)
    if args.quick:
        args.procs, args.events, args.runs = "1,8", 20, 5000
    args.procs = [int(n) for n in args.procs.split(",")]
    for fact, value in _peer.machine_facts():
        print(f"{fact}: {value}")
    loads: list[Load] = []
    listings: list[Listing] = []
    with tempfile.TemporaryDirectory(prefix="fireline-bench-store-") as tmp:
        workdir = Path(tmp)
        stores = args.stores.split(",")
        if "postgres" in stores:
            with durable_postgres(workdir) as dsn:
                store_loads, listing = run_store("postgres", dsn, args, workdir)
                loads += store_loads
                listings.append(listing)
        if "sqlite" in stores:
            store_loads, listing = run_store("sqlite", str(workdir / "journal.db"), args, workdir)
            loads += store_loads
            listings.append(listing)
    results = report(loads, listings)
    _peer.write_results(args.json, "store_load", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
