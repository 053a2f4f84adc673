"""Per-step engine overhead of `fireline run` with the SQLite journal on, compared with Chaos Toolkit's
per-activity overhead.

    .venv/bin/python benchmarks/engine_overhead.py [--steps 1000] [--repeat 5] [--profile] [--strict]

Per-step overhead = (wall time of a run of N no-op steps - wall time of a 1-step run) / (N - 1), so the
fixed cost (interpreter, imports, opening the journal) cancels out. The no-op step is `control.assert`
with `that: "{{ true }}"` (read-only, no approval gate, journalled as step.started + step.succeeded).
The peer does the same with an experiment of N `python` actions calling a no-op function.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import _peer

NOOP_MODULE = "fireline_bench_noop"
TARGET_RATIO = 0.5  # fireline per step <= half of Chaos Toolkit per activity
DESIGN_BUDGET_S = 0.001  # DESIGN.md: "well under a millisecond" per non-mutating step


# --- inputs ----------------------------------------------------------------------------------------------

def write_runbook(path: Path, steps: int) -> Path:
    lines = ["apiVersion: fireline/v1", "kind: Runbook", "metadata:", f"  name: bench-noop-{steps}",
             "  title: Benchmark no-op steps", "steps:"]
    for index in range(steps):
        lines += [f"  - id: noop-{index}", "    action: control.assert", '    with: {that: "{{ true }}"}']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_experiment(path: Path, activities: int) -> Path:
    method = [{"type": "action", "name": f"noop-{index}",
               "provider": {"type": "python", "module": NOOP_MODULE, "func": "noop"}}
              for index in range(activities)]
    experiment = {"version": "1.0.0", "title": f"benchmark no-op activities ({activities})",
                  "description": "fireline benchmark peer", "tags": [],
                  "steady-state-hypothesis": {"title": "nothing to check", "probes": []},
                  "method": method, "rollbacks": []}
    path.write_text(json.dumps(experiment), encoding="utf-8")
    return path


def write_noop_module(directory: Path) -> None:
    (directory / f"{NOOP_MODULE}.py").write_text("def noop() -> bool:\n    return True\n", encoding="utf-8")


# --- measurements ----------------------------------------------------------------------------------------

def per_step(small: Callable[[], float], big: Callable[[], float], steps: int, repeat: int) -> list[float]:
    """Per-repetition (big - small) / (steps - 1); the two runs alternate so drift hits both alike."""
    return [(big() - small()) / (steps - 1) for _ in range(repeat)]


def fireline_subprocess(small_rb: Path, big_rb: Path, workdir: Path) -> tuple[Callable[[], float], ...]:
    fireline = str(_peer.fireline_executable())

    def run(runbook: Path) -> Callable[[], float]:
        def once() -> float:
            with tempfile.TemporaryDirectory(dir=workdir) as home:
                env = {**os.environ, "FIRELINE_HOME": home, "FIRELINE_ACTOR": "bench"}
                return _peer.timed_run([fireline, "run", str(runbook), "--output", "json"], env=env)
        return once

    return run(small_rb), run(big_rb)


def inprocess_once(runbook: Path, workdir: Path) -> float:
    from runner.cli import main

    with tempfile.TemporaryDirectory(dir=workdir) as home:
        saved = os.environ.get("FIRELINE_HOME")
        os.environ["FIRELINE_HOME"] = home
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                started = time.perf_counter()
                code = main(["run", str(runbook), "--output", "json", "--as", "bench"])
                elapsed = time.perf_counter() - started
        finally:
            if saved is None:
                os.environ.pop("FIRELINE_HOME", None)
            else:
                os.environ["FIRELINE_HOME"] = saved
    if code != 0:
        raise RuntimeError(f"in-process run of {runbook} exited {code}")
    return elapsed


def chaos_runs(chaos: Path, small_exp: Path, big_exp: Path, workdir: Path) -> tuple[Callable[[], float], ...]:
    def run(experiment: Path) -> Callable[[], float]:
        def once() -> float:
            with tempfile.TemporaryDirectory(dir=workdir) as rundir:
                env = {**os.environ, "PYTHONPATH": str(workdir)}
                command = [str(chaos), "--no-version-check", "--settings", f"{rundir}/settings.yaml", "run",
                           "--no-verify-tls", "--journal-path", f"{rundir}/journal.json", str(experiment)]
                elapsed = _peer.timed_run(command, cwd=Path(rundir), env=env)
                if not Path(rundir, "journal.json").exists():
                    raise RuntimeError("chaos wrote no journal")
                return elapsed
        return once

    return run(small_exp), run(big_exp)


def profile_inprocess(runbook: Path, workdir: Path, top: int = 20) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    inprocess_once(runbook, workdir)
    profiler.disable()
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        print(f"\ncProfile of one in-process run of {runbook.name}, top {top} by {order}:")
        print("\n".join(line for line in out.getvalue().splitlines()[4:] if line.strip()))


# --- main ------------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000, help="steps/activities in the big run (default 1000)")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions; the median is reported (default 5)")
    parser.add_argument("--profile", action="store_true", help="also cProfile one in-process big run")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    _peer.add_json_option(parser)
    args = parser.parse_args()
    steps, repeat = max(args.steps, 2), max(args.repeat, 1)
    small_steps = max(2, steps // 10)

    print(f"engine_overhead: per-step engine overhead, {steps} no-op steps vs 1, median of {repeat}; "
          "journal ON (SQLite, temp FIRELINE_HOME per run)")
    _peer.print_table("machine", _peer.machine_facts())
    chaos = _peer.chaos_executable()

    with tempfile.TemporaryDirectory(prefix="fireline-bench-") as tmp:
        work = Path(tmp)
        rb1, rb_big = write_runbook(work / "one.yaml", 1), write_runbook(work / "big.yaml", steps)
        rb_small = write_runbook(work / "small.yaml", small_steps)
        inprocess_once(rb1, work)  # warm-up: imports, caches

        fl_sub = _peer.median(per_step(*fireline_subprocess(rb1, rb_big, work), steps, repeat))
        fl_in = _peer.median(per_step(lambda: inprocess_once(rb1, work), lambda: inprocess_once(rb_big, work),
                                      steps, repeat))
        fl_in_small = _peer.median(per_step(lambda: inprocess_once(rb1, work),
                                            lambda: inprocess_once(rb_small, work), small_steps, repeat))
        peer: float | None = None
        if chaos is not None:
            write_noop_module(work)
            exp1, exp_big = write_experiment(work / "one.json", 1), write_experiment(work / "big.json", steps)
            peer = _peer.median(per_step(*chaos_runs(chaos, exp1, exp_big, work), steps, repeat))

        rows = [["fireline run (subprocess, whole CLI)", "per step", _peer.ms(fl_sub)],
                ["fireline run (in-process main())", "per step", _peer.ms(fl_in)],
                [f"fireline run (in-process, {small_steps} steps)", "per step", _peer.ms(fl_in_small)]]
        if chaos is not None and peer is not None:
            rows.append([f"chaos run ({_peer.peer_version(chaos)}, subprocess)", "per activity", _peer.ms(peer)])
        _peer.print_table("figures (median)", rows, ["measured", "unit", "value"])

        results = report_targets(fl_sub, fl_in, peer)
        _peer.write_results(args.json, "engine_overhead", [
            _peer.Result(f"per step over {steps} no-op steps, whole CLI", fl_sub, "s", f"<= {TARGET_RATIO}x chaos",
                         fl_sub <= TARGET_RATIO * peer if peer else None, peer=peer,
                         ratio=fl_sub / peer if peer else None),
            _peer.Result("per step, in-process", fl_in, "s", f"< {DESIGN_BUDGET_S * 1000:g} ms",
                         fl_in < DESIGN_BUDGET_S),
        ])
        if args.profile:
            profile_inprocess(rb_big, work)
    return 1 if args.strict and not all(results) else 0


def report_targets(fl_sub: float, fl_in: float, peer: float | None) -> list[bool]:
    rows, results = [], []
    if peer is not None:
        ok = fl_sub <= TARGET_RATIO * peer
        results.append(ok)
        rows.append(["fireline per step <= 0.5 x chaos per activity",
                     f"{_peer.ms(fl_sub)} vs {_peer.ms(TARGET_RATIO * peer)} (ratio {fl_sub / peer:.1f}x)",
                     _peer.verdict(ok)])
    else:
        rows.append(["fireline per step <= 0.5 x chaos per activity", "peer venv unavailable", "SKIP"])
    ok = fl_in < DESIGN_BUDGET_S
    results.append(ok)
    rows.append(["in-process per step < 1 ms (DESIGN.md)", _peer.ms(fl_in), _peer.verdict(ok)])
    _peer.print_table("targets", rows, ["target", "figure", "result"])
    return results


if __name__ == "__main__":
    raise SystemExit(main())
