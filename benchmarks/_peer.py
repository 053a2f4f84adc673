"""Shared helpers for the benchmarks: the peer tools' venvs (Chaos Toolkit, Ansible), the fireline
executable, machine facts, statistics, table printing and the machine-readable results run_all.py reads.

Each peer venv is created on first use with `python3 -m venv` + `pip install PACKAGE`, outside the
repository: Chaos Toolkit at `$FIRELINE_BENCH_PEER_VENV`, else `~/.cache/fireline-bench/peer-venv`; Ansible
(ansible-core) at `$FIRELINE_BENCH_ANSIBLE_VENV`, else `~/.cache/fireline-bench/ansible-venv`. A peer never
shares fireline's venv, so neither tool's dependencies influence the other's import time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

PEER_PACKAGE = os.environ.get("FIRELINE_BENCH_PEER_PACKAGE", "chaostoolkit")
PIP_TIMEOUT_S = 600


# --- the peer venv ---------------------------------------------------------------------------------------

def peer_venv_dir() -> Path:
    configured = os.environ.get("FIRELINE_BENCH_PEER_VENV")
    return Path(configured) if configured else Path.home() / ".cache" / "fireline-bench" / "peer-venv"


def chaos_executable() -> Path | None:
    """The peer venv's `chaos`, creating the venv on first use; None (with a message) when that fails."""
    return _venv_tool(peer_venv_dir(), PEER_PACKAGE, "chaos")


ANSIBLE_PACKAGE = os.environ.get("FIRELINE_BENCH_ANSIBLE_PACKAGE", "ansible-core")


def ansible_venv_dir() -> Path:
    configured = os.environ.get("FIRELINE_BENCH_ANSIBLE_VENV")
    return Path(configured) if configured else Path.home() / ".cache" / "fireline-bench" / "ansible-venv"


def ansible_executable() -> Path | None:
    """The `ansible` (ad hoc) of its own venv, created on first use like Chaos Toolkit's; None when that fails."""
    return _venv_tool(ansible_venv_dir(), ANSIBLE_PACKAGE, "ansible")


def _venv_tool(venv: Path, package: str, tool: str) -> Path | None:
    executable = venv / "bin" / tool
    if executable.exists():
        return executable
    print(f"creating a peer venv at {venv} (pip install {package}) ...", file=sys.stderr)
    python = shutil.which("python3") or sys.executable
    steps = [[python, "-m", "venv", str(venv)],
             [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", package]]
    for command in steps:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"  cannot set up the peer venv: {exc}", file=sys.stderr)
            return None
        if done.returncode != 0:
            print(f"  `{' '.join(command)}` failed:\n{done.stderr[-2000:]}", file=sys.stderr)
            return None
    return executable if executable.exists() else None


def peer_version(chaos: Path) -> str:
    done = subprocess.run([str(chaos), "--version"], capture_output=True, text=True, timeout=60, check=False)
    return done.stdout.strip() or "unknown"


# --- fireline --------------------------------------------------------------------------------------------

def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def fireline_executable() -> Path:
    """The `fireline` console script of the venv running this benchmark (normally .venv/bin/fireline)."""
    beside = Path(sys.executable).parent / "fireline"
    if beside.exists():
        return beside
    found = shutil.which("fireline")
    if found is None:
        raise SystemExit("no `fireline` script next to this Python; run with .venv/bin/python")
    return Path(found)


# --- measuring and reporting -----------------------------------------------------------------------------

def timed_run(command: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
              timeout: float = 300, expect: Sequence[int] = (0,)) -> float:
    """Wall time of one subprocess; raises when it exits with an unexpected code."""
    started = time.perf_counter()
    done = subprocess.run(list(command), cwd=cwd, env=env, capture_output=True, timeout=timeout, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in expect:
        tail = (done.stderr or done.stdout).decode(errors="replace")[-2000:]
        raise RuntimeError(f"`{' '.join(command)}` exited {done.returncode}:\n{tail}")
    return elapsed


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile (with 20 samples: the 19th smallest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def machine_facts() -> list[tuple[str, str]]:
    return [
        ("nproc", str(os.cpu_count())),
        ("python", f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})"),
        ("platform", platform.platform()),
    ]


def print_table(title: str, rows: Sequence[Sequence[str]], header: Sequence[str] | None = None) -> None:
    table = [list(header)] if header else []
    table += [list(r) for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    print(f"\n{title}")
    for index, row in enumerate(table):
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if header and index == 0:
            print("  " + "  ".join("-" * w for w in widths))


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


# --- machine-readable results (benchmarks/run_all.py reads them) ----------------------------------------------

@dataclass(frozen=True)
class Result:
    """One measure against its target. `fireline` and `peer` are in `unit`; `peer` is None when the measure
    has no peer (its target is absolute) or the peer could not be run; `met` is None when not judged."""

    measure: str
    fireline: float
    unit: str
    target: str
    met: bool | None
    peer: float | None = None
    ratio: float | None = None
    note: str = ""


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE (for run_all.py)")


def write_results(path: str | None, benchmark: str, results: Sequence[Result]) -> None:
    """Write `results` to `path` (when given) as {"benchmark": ..., "results": [...]}."""
    if path:
        payload = {"benchmark": benchmark, "results": [asdict(r) for r in results]}
        Path(path).write_text(json.dumps(payload, indent=2) + "\n")
