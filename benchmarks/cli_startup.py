"""Cold start of the CLI: `fireline --help` vs Chaos Toolkit's `chaos --version`, plus the slowest imports
of `fireline --help` (python -X importtime) to spot regressions.

    .venv/bin/python benchmarks/cli_startup.py [--runs 20] [--strict]

Each run is a new process (the OS page cache is warm: one unmeasured run of each command goes first).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import _peer

TARGET_S = 0.3
# DESIGN.md principle 6: `fireline --help` must not import these.
HEAVY_MODULES = ("kubernetes", "psycopg", "fabric", "paramiko", "jinja2", "jsonschema", "rich", "yaml")
_IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$")


def sample(command: list[str], runs: int) -> list[float]:
    _peer.timed_run(command)  # warm the page cache; not counted
    return [_peer.timed_run(command) for _ in range(runs)]


def import_profile(fireline: Path) -> list[tuple[str, int, int]]:
    """(module, self µs, cumulative µs) of every import made by `fireline --help`."""
    done = subprocess.run([sys.executable, "-X", "importtime", str(fireline), "--help"], capture_output=True,
                          text=True, timeout=60, check=True)
    rows = []
    for line in done.stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if match:
            rows.append((match.group(4), int(match.group(1)), int(match.group(2))))
    return rows


def top_imports(rows: list[tuple[str, int, int]], count: int = 10) -> list[list[str]]:
    ordered = sorted(rows, key=lambda r: r[2], reverse=True)[:count]
    return [[name, f"{cumulative / 1000:.1f} ms", f"{own / 1000:.1f} ms"] for name, own, cumulative in ordered]


def heavy_imports(rows: list[tuple[str, int, int]]) -> list[str]:
    return sorted({name for name, _, _ in rows if name.split(".")[0] in HEAVY_MODULES})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="runs per command (default 20)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    _peer.add_json_option(parser)
    args = parser.parse_args()
    runs = max(args.runs, 1)

    print(f"cli_startup: wall time of a new process, {runs} runs each (after one warm-up run)")
    _peer.print_table("machine", _peer.machine_facts())
    fireline = _peer.fireline_executable()
    chaos = _peer.chaos_executable()

    fl = sample([str(fireline), "--help"], runs)
    rows = [[f"{fireline} --help", _peer.ms(_peer.median(fl)), _peer.ms(_peer.p95(fl))]]
    peer: list[float] | None = None
    if chaos is not None:
        peer = sample([str(chaos), "--version"], runs)
        rows.append([f"{chaos} --version", _peer.ms(_peer.median(peer)), _peer.ms(_peer.p95(peer))])
    _peer.print_table("figures", rows, ["command", "median", "p95"])

    imports = import_profile(fireline)
    _peer.print_table("top 10 imports of `fireline --help` by cumulative time (python -X importtime, one run)",
                      top_imports(imports), ["module", "cumulative", "self"])
    heavy = heavy_imports(imports)

    results = [_peer.median(fl) <= TARGET_S, not heavy]
    targets = [["fireline --help median <= 0.3 s", _peer.ms(_peer.median(fl)), _peer.verdict(results[0])],
               ["no heavy imports on --help", ", ".join(heavy) or "none", _peer.verdict(results[1])]]
    if peer is not None:
        ratio = _peer.median(fl) / _peer.median(peer)
        results.append(ratio <= 0.5)
        targets.append(["well below chaos --version (<= 0.5x)", f"ratio {ratio:.2f}x", _peer.verdict(ratio <= 0.5)])
    else:
        targets.append(["well below chaos --version (<= 0.5x)", "peer venv unavailable", "SKIP"])
    _peer.print_table("targets", targets, ["target", "figure", "result"])
    median = _peer.median(fl)
    peer_median = _peer.median(peer) if peer is not None else None
    _peer.write_results(args.json, "cli_startup", [
        _peer.Result("fireline --help, median", median, "s", f"<= {TARGET_S} s", results[0]),
        _peer.Result("fireline --help vs chaos --version", median, "s", "<= 0.5x chaos",
                     median / peer_median <= 0.5 if peer_median else None, peer=peer_median,
                     ratio=median / peer_median if peer_median else None),
        _peer.Result("no heavy imports on --help", float(len(heavy)), "modules", "0", not heavy,
                     note=", ".join(heavy)),
    ])
    return 1 if args.strict and not all(results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
