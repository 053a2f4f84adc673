"""A smoke run of benchmarks/run_all.py: one small benchmark end to end, in seconds. The benchmarks
themselves stay out of the suite (they take minutes and measure the machine, not correctness)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RUN_ALL = Path(__file__).resolve().parents[1] / "benchmarks" / "run_all.py"


def _run_all(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUN_ALL), *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_run_all_runs_a_benchmark_and_prints_its_rows_in_the_table(tmp_path: Path) -> None:
    out = tmp_path / "all.json"
    done = _run_all("--quick", "--only", "journal_append", "--log", str(tmp_path / "logs"), "--json", str(out))
    assert done.returncode == 0, done.stderr
    table = done.stdout[done.stdout.index("All benchmarks") :]
    assert "measure" in table and "target" in table and "result" in table
    assert "journal_append: durable append, one process, median" in table
    assert "durable append: median" in (tmp_path / "logs" / "journal_append.txt").read_text()  # its own output
    [outcome] = json.loads(out.read_text())["benchmarks"]
    assert outcome["benchmark"] == "journal_append" and outcome["code"] == 0
    assert {r["measure"] for r in outcome["results"]} >= {"queued append, mean"}
    assert all(r["fireline"] > 0 for r in outcome["results"])


def test_run_all_refuses_an_unknown_benchmark_name() -> None:
    done = _run_all("--only", "no_such_bench")
    assert done.returncode == 2
    assert "unknown benchmark(s): no_such_bench" in done.stderr
