"""The commands people type, against Chaos Toolkit at its fastest (`--no-version-check`, `--no-log-file`):
`fireline validate ONE_FILE` for each shipped runbook, both unchanged since its last check and just edited (a
new content each time, so that only the caches of fireline's own code help, as at a pre-commit hook or an
editor's save), and once with an empty user cache (a first start); a one-step `fireline run` and `fireline
plan` (journal on); 300 generated runbooks in one `fireline validate` against Chaos Toolkit validating 3
files; and the per-step engine overhead over N no-op steps.

    .venv/bin/python benchmarks/fast_paths.py [--repeat 7] [--steps 1000] [--skip-per-step] [--strict]

Every figure is the median of --repeat new processes after one unmeasured warm-up; fireline and the peer are
measured in the same run, alternating, so machine drift hits both alike. Targets (ratio fireline / peer):
validate one file <= 0.5 (unchanged or just edited; a first start is shown), one-step run <= 0.6, one-step
plan <= 0.6, per step <= 0.5, 300 files < 1.0 (of 3).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import _peer
import engine_overhead
import validate_throughput

PEER_FLAGS = ["--no-version-check", "--no-log-file"]


def bench_env() -> dict[str, str]:
    """Both tools run as after `pip install`: with Python's bytecode cache on. (An environment that sets
    PYTHONDONTWRITEBYTECODE would make an editable checkout compile every module at every start, while the
    peer's pip-installed modules come precompiled.) The cache goes beside the peer venv, not into the
    repository; the unmeasured warm-up run of each command fills it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(_peer.peer_venv_dir().parent / "pycache")
    return env


BASE_ENV = bench_env()


class Pair:
    """One fireline command and one peer command, timed alternately."""

    def __init__(self, fireline: Callable[[], float], peer: Callable[[], float] | None) -> None:
        self.fireline, self.peer = fireline, peer

    def measure(self, repeat: int) -> tuple[float, float | None]:
        self.fireline()
        if self.peer is not None:
            self.peer()
        fl: list[float] = []
        pe: list[float] = []
        for _ in range(repeat):
            fl.append(self.fireline())
            if self.peer is not None:
                pe.append(self.peer())
        return _peer.median(fl), (_peer.median(pe) if pe else None)


def command(argv: Sequence[str], *, cwd: Path | None = None, expect: Sequence[int] = (0,)) -> Callable[[], float]:
    return lambda: _peer.timed_run(argv, env=BASE_ENV, cwd=cwd, expect=expect, timeout=300)


def fresh_home(argv: Sequence[str], work: Path) -> Callable[[], float]:
    """A fireline command with a new FIRELINE_HOME (empty journal) each time, like a first run."""
    def once() -> float:
        with tempfile.TemporaryDirectory(dir=work) as home:
            env = {**BASE_ENV, "FIRELINE_HOME": home, "FIRELINE_ACTOR": "bench"}
            return _peer.timed_run(argv, env=env, timeout=300)
    return once


def edited(argv: Sequence[str], runbook: Path, work: Path) -> Callable[[], float]:
    """`fireline validate` of a file just edited (a new comment line each time): nothing derived from its
    content is cached yet, as at a pre-commit hook or an editor's save; the code's own caches are warm."""
    copy = work / "edited" / runbook.name
    copy.parent.mkdir(exist_ok=True)
    text = runbook.read_text(encoding="utf-8")
    count = iter(range(1_000_000))

    def once() -> float:
        copy.write_text(f"{text}\n# edit {next(count)}\n", encoding="utf-8")
        return _peer.timed_run([*argv, str(copy)], env=BASE_ENV, timeout=300)
    return once


def empty_cache(argv: Sequence[str], work: Path) -> Callable[[], float]:
    """A fireline command in a new user cache directory each time: its first start on a machine."""
    def once() -> float:
        with tempfile.TemporaryDirectory(dir=work) as cache:
            return _peer.timed_run(argv, env={**BASE_ENV, "XDG_CACHE_HOME": cache}, timeout=300)
    return once


def peer_run(chaos: Path, experiment: Path, work: Path) -> Callable[[], float]:
    def once() -> float:
        with tempfile.TemporaryDirectory(dir=work) as rundir:
            env = {**BASE_ENV, "PYTHONPATH": str(work)}
            argv = [str(chaos), *PEER_FLAGS, "--settings", f"{rundir}/settings.yaml", "run", "--no-verify-tls",
                    "--journal-path", f"{rundir}/journal.json", str(experiment)]
            return _peer.timed_run(argv, cwd=Path(rundir), env=env, timeout=300)
    return once


def peer_validate(chaos: Path, experiments: Sequence[Path], work: Path) -> Callable[[], float]:
    """`chaos validate` takes one file: N files are N processes, one after another (as a hook would)."""
    env = {**BASE_ENV, "PYTHONPATH": str(work)}

    def once() -> float:
        return sum(_peer.timed_run([str(chaos), *PEER_FLAGS, "--settings", str(work / "settings.yaml"),
                                    "validate", "--no-verify-tls", str(e)], cwd=work, env=env, timeout=300)
                   for e in experiments)
    return once


def ratio_row(name: str, fl: float, peer: float | None, target: float | None) -> tuple[list[str], bool | None]:
    """A row judged against `target` (a ratio), or only shown when there is none."""
    wanted = f"<= {target}" if target is not None else "-"
    if peer is None:
        return [name, _peer.ms(fl), "-", "-", wanted, "SKIP"], None
    ratio = fl / peer
    if target is None:
        return [name, _peer.ms(fl), _peer.ms(peer), f"{ratio:.2f}x", wanted, "shown"], None
    met = ratio <= target
    return [name, _peer.ms(fl), _peer.ms(peer), f"{ratio:.2f}x", f"<= {target}", "met" if met else "missed"], met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7, help="repetitions; the median is reported (default 7)")
    parser.add_argument("--steps", type=int, default=1000, help="no-op steps for the per-step figure")
    parser.add_argument("--skip-per-step", action="store_true", help="leave out the per-step figure (~1 min)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    _peer.add_json_option(parser)
    args = parser.parse_args()
    repeat = max(args.repeat, 1)
    fireline = str(_peer.fireline_executable())
    chaos = _peer.chaos_executable()
    print(f"fast_paths: fireline vs Chaos Toolkit ({' '.join(PEER_FLAGS)}), whole processes, median of {repeat}; "
          f"bytecode cache on for both (PYTHONPYCACHEPREFIX={BASE_ENV['PYTHONPYCACHEPREFIX']})")
    _peer.print_table("machine", _peer.machine_facts())

    rows: list[list[str]] = []
    results: list[bool | None] = []
    machine_readable: list[_peer.Result] = []

    def add(name: str, fl: float, peer: float | None, target: float | None) -> None:
        row, met = ratio_row(name, fl, peer, target)
        rows.append(row)
        results.append(met)
        wanted = f"<= {target}x chaos" if target is not None else "(shown)"
        machine_readable.append(_peer.Result(name, fl, "s", wanted, met, peer=peer,
                                             ratio=fl / peer if peer else None))

    with tempfile.TemporaryDirectory(prefix="fireline-bench-fast-") as tmp:
        work = Path(tmp)
        engine_overhead.write_noop_module(work)
        exp1 = engine_overhead.write_experiment(work / "one.json", 1)
        rb1 = engine_overhead.write_runbook(work / "one.yaml", 1)

        peer_one = peer_validate(chaos, [exp1], work) if chaos else None
        worst = {"unchanged": 0.0, "edited": 0.0}
        for runbook in sorted((_peer.repo_root() / "runbooks").glob("*.yaml")):
            fl, peer = Pair(command([fireline, "validate", str(runbook)]), peer_one).measure(repeat)
            add(f"validate {runbook.name} (unchanged)", fl, peer, 0.5)
            worst["unchanged"] = max(worst["unchanged"], fl / peer) if peer else 0.0
            fl, peer = Pair(edited([fireline, "validate"], runbook, work), peer_one).measure(repeat)
            add(f"validate {runbook.name} (just edited)", fl, peer, 0.5)
            worst["edited"] = max(worst["edited"], fl / peer) if peer else 0.0
        first = _peer.repo_root() / "runbooks" / "db-connection-exhaustion.yaml"
        fl, peer = Pair(empty_cache([fireline, "validate", str(first)], work), peer_one).measure(repeat)
        # Once per machine and fireline version (validators generated, classes compiled): shown, not judged.
        add(f"validate {first.name}, first start (empty user cache)", fl, peer, None)

        peer_run1 = peer_run(chaos, exp1, work) if chaos else None
        fl, peer = Pair(fresh_home([fireline, "run", str(rb1), "--output", "json"], work), peer_run1).measure(repeat)
        add("run, one step (journal on)", fl, peer, 0.6)
        fl, peer = Pair(fresh_home([fireline, "plan", str(rb1)], work), peer_run1).measure(repeat)
        add("plan, one step", fl, peer, 0.6)

        corpus = work / "corpus"
        corpus.mkdir()
        validate_throughput.write_runbooks(corpus, 300, 7)
        exps = [engine_overhead.write_experiment(work / f"three-{i}.json", 1) for i in range(3)]
        fl, peer = Pair(command([fireline, "validate", str(corpus)]),
                        peer_validate(chaos, exps, work) if chaos else None).measure(max(3, repeat // 2))
        add("validate 300 files (peer: 3 files)", fl, peer, 1.0)

        if not args.skip_per_step:
            steps = max(args.steps, 2)
            big = engine_overhead.write_runbook(work / "big.yaml", steps)
            exp_big = engine_overhead.write_experiment(work / "big.json", steps)
            small_f, big_f = fresh_home([fireline, "run", str(rb1), "--output", "json"], work), \
                fresh_home([fireline, "run", str(big), "--output", "json"], work)
            reps = max(3, repeat // 2)
            fl_steps = engine_overhead.per_step(small_f, big_f, steps, reps)
            peer_step = None
            if chaos:
                peer_step = _peer.median(engine_overhead.per_step(peer_run(chaos, exp1, work),
                                                                  peer_run(chaos, exp_big, work), steps, reps))
            add(f"per step over {steps} no-op steps", _peer.median(fl_steps), peer_step, 0.5)

    _peer.print_table("figures (fireline / Chaos Toolkit, lower is better)", rows,
                      ["measure", "fireline", "chaos", "ratio", "target", "result"])
    if any(worst.values()):
        print(f"\nworst validate ONE_FILE ratio: {worst['unchanged']:.2f}x unchanged, "
              f"{worst['edited']:.2f}x just edited")
    _peer.write_results(args.json, "fast_paths", machine_readable)
    return 1 if args.strict and any(r is False for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
