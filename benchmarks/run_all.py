"""Run every benchmark and print one table: measure, fireline, peer, ratio, target, met/missed.

    .venv/bin/python benchmarks/run_all.py [--quick] [--only NAME,...] [--skip NAME,...] [--log DIR]
        [--json FILE] [--strict]

Each benchmark runs as its own process with `--json FILE` (its machine-readable results, see _peer.Result);
its own human output is shown as it runs (or written to `--log DIR/NAME.txt`). `--quick` passes each its small
settings (seconds, not minutes: a smoke run, not figures to quote). A benchmark that fails is a row of its own
("failed"), and the others still run. The peers (Chaos Toolkit, Ansible) are installed in their own venvs on
first use (see _peer.py). Figures vary by machine: read them next to the machine facts printed first.
`--strict` exits 1 when a target is missed or a benchmark failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _peer

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Benchmark:
    name: str
    quick: tuple[str, ...] = ()  # arguments for --quick
    full: tuple[str, ...] = ()


BENCHMARKS = [
    Benchmark("cli_startup", quick=("--runs", "3")),
    Benchmark("fast_paths", quick=("--repeat", "1", "--skip-per-step")),
    Benchmark("engine_overhead", quick=("--steps", "50", "--repeat", "1")),
    Benchmark("validate_throughput", quick=("--files", "20", "--repeat", "1")),
    Benchmark("journal_append", quick=("--events", "20")),
    Benchmark("store_load", quick=("--quick",)),
    Benchmark("ssh_fanout", quick=("--quick",)),
    Benchmark("incident_metrics", quick=("--incidents", "300", "--small", "100", "--repeat", "1")),
    Benchmark("kubernetes_step", quick=("--repeat", "3")),
    Benchmark("lab_throughput", quick=("--seconds", "0.3")),
    Benchmark("flag_toggle", quick=("--rounds", "3", "--no-unleash")),
]


@dataclass(frozen=True)
class Outcome:
    benchmark: str
    seconds: float
    code: int
    results: list[dict[str, Any]]
    machine_readable: bool


def run_one(bench: Benchmark, quick: bool, log_dir: Path | None, workdir: Path) -> Outcome:
    script = HERE / f"{bench.name}.py"
    machine_readable = "add_json_option" in script.read_text()
    out_file = workdir / f"{bench.name}.json"
    argv = [sys.executable, str(script), *(bench.quick if quick else bench.full)]
    if machine_readable:
        argv += ["--json", str(out_file)]
    print(f"\n=== {bench.name}: {' '.join(argv[1:])}", flush=True)
    started = time.perf_counter()
    if log_dir is None:
        code = subprocess.run(argv, check=False).returncode
    else:
        with (log_dir / f"{bench.name}.txt").open("w") as log:
            code = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
    seconds = time.perf_counter() - started
    results = json.loads(out_file.read_text())["results"] if out_file.exists() else []
    print(f"=== {bench.name}: exit {code} after {seconds:.1f} s", flush=True)
    return Outcome(bench.name, seconds, code, results, machine_readable)


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1000:.3g} ms" if value < 1 else f"{value:.3g} s"
    return f"{value:g} {unit}"


def _verdict(met: bool | None, target: str) -> str:
    if met is None:
        return "shown" if target == "(shown)" else "skipped"
    return "met" if met else "MISSED"


def table_rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    rows = []
    for outcome in outcomes:
        if outcome.code != 0 and not outcome.results:
            rows.append([f"{outcome.benchmark}: failed (exit {outcome.code})", "-", "-", "-", "-", "FAILED"])
            continue
        if not outcome.machine_readable:
            rows.append([f"{outcome.benchmark}: see its output (no --json)", "-", "-", "-", "-", "shown"])
            continue
        for r in outcome.results:
            ratio = "-" if r.get("ratio") is None else f"{r['ratio']:.2f}x"
            rows.append([
                f"{outcome.benchmark}: {r['measure']}", _value(r["fireline"], r["unit"]),
                _value(r.get("peer"), r["unit"]), ratio, r["target"], _verdict(r["met"], r["target"]),
            ])  # fmt: skip
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small settings: a smoke run of every benchmark")
    parser.add_argument("--only", help="comma-separated benchmark names (default: all)")
    parser.add_argument("--skip", default="", help="comma-separated benchmark names to leave out")
    parser.add_argument("--log", type=Path, help="write each benchmark's own output to DIR/NAME.txt")
    parser.add_argument("--json", metavar="FILE", help="also write the table as JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed or a benchmark failed")
    args = parser.parse_args(argv)
    known = {b.name for b in BENCHMARKS}
    only = set(args.only.split(",")) if args.only else known
    skip = set(filter(None, args.skip.split(",")))
    unknown = (only | skip) - known
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
    chosen = [b for b in BENCHMARKS if b.name in only - skip and (HERE / f"{b.name}.py").exists()]
    if args.log:
        args.log.mkdir(parents=True, exist_ok=True)
    _peer.print_table("machine", _peer.machine_facts())
    with tempfile.TemporaryDirectory(prefix="fireline-bench-all-") as tmp:
        outcomes = [run_one(b, args.quick, args.log, Path(tmp)) for b in chosen]
    rows = table_rows(outcomes)
    _peer.print_table(
        "All benchmarks" + (" (--quick: smoke settings, not figures to quote)" if args.quick else ""),
        rows,
        ["measure", "fireline", "peer", "ratio", "target", "result"],
    )
    missed = sum(1 for row in rows if row[-1] in ("MISSED", "FAILED"))
    met = sum(1 for row in rows if row[-1] == "met")
    print(f"\n{met} met, {missed} missed or failed, {len(rows) - met - missed} shown or skipped; "
          f"{sum(o.seconds for o in outcomes):.0f} s in all")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps({"benchmarks": [o.__dict__ for o in outcomes]}, indent=2) + "\n")
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
