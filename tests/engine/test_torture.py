"""Model-based torture test: generated runbooks run under the real CLI, killed with SIGKILL at random points
and resumed until done. The steps' own side effects must be exactly what a small reference interpreter of
the format predicts — nothing lost, nothing repeated — and the run must end with the predicted status.

Each step is a mutating `shell.run` that appends `start <id>` to a log, sleeps a little (so kills land
mid-step), then, if it passes, appends `end <id>` (one append: atomic). Whether a step passes depends only on
how many `end` lines of changes (steps that are not reads) the log holds — never on how often it was
attempted, nor on a read cut short and run again — so a retried attempt decides the same way; a step that
fails leaves no `end`. The retry/skip decision after a kill is answered the way a
responder would, from the side effects: the step's `end` is the log's last line → it took effect
(--skip-step), otherwise → run it again (--retry-step).

Termination: a step's `goto` on failure always names a change that passes, so every loop back adds an `end`
line, and a flaky step passes once the log has `threshold` (≤ 4) of them; a step that never passes only
continues, aborts or jumps forward.

Some runbooks decide: a read counts the changes made so far (`end` lines of mutating steps: a read run again
after a kill counts the same) and a `control.branch` right after it jumps forward by that count, else goes
on to the next step. A kill after the decision must not change it: resume follows the recorded branch.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.cli import main

CASES = 100
FIGURES: Counter[str] = Counter()


@dataclass(frozen=True)
class Spec:
    id: str
    kind: str  # ok | read (read_only: true) — both always pass | flaky (passes once the log has `threshold`
    # ends) | broken (never passes) | count (a read whose output is the number of changes so far) | branch
    threshold: int
    on_failure: str  # abort | continue | goto:<id>
    critical: bool
    sleep: float
    choices: tuple[tuple[int, str], ...] = ()  # branch: (at least this many changes, go to this step)


# -- the reference interpreter ---------------------------------------------------------------------------

def predict(steps: list[Spec]) -> tuple[list[str], str, int]:
    """The side effects (ids of the steps that passed, in order) and the final status the format prescribes:
    steps run in order; a failed step continues, jumps (goto) or ends the run (abort, status failed); at the
    end the run failed if a critical step's last outcome was a failure. Also: how many log lines it writes."""
    index_of = {s.id: i for i, s in enumerate(steps)}
    reads = {s.id for s in steps if s.kind in ("read", "count")}
    ends: list[str] = []
    failed_last: dict[str, bool] = {}
    lines = 0
    counted = 0
    i = 0
    while i < len(steps):
        step = steps[i]
        if step.kind == "branch":  # first choice whose count is reached, else the next step; no side effect
            failed_last[step.id] = False
            went = next((index_of[to] for least, to in step.choices if counted >= least), i + 1)
            FIGURES["decisions: a choice" if went != i + 1 else "decisions: the default"] += 1
            i = went
            continue
        if step.kind == "count":
            counted = sum(1 for e in ends if e not in reads)  # before its own end
        changes = sum(1 for e in ends if e not in reads)
        passed = step.kind in ("ok", "read", "count") or (step.kind == "flaky" and changes >= step.threshold)
        failed_last[step.id] = not passed
        lines += 2 if passed else 1
        if passed:
            ends.append(step.id)
            i += 1
        elif step.on_failure == "continue":
            i += 1
        elif step.on_failure.startswith("goto:"):
            i = index_of[step.on_failure.removeprefix("goto:")]
        else:
            return ends, "failed", lines
    critical_failure = any(failed_last.get(s.id) and s.critical for s in steps)
    return ends, "failed" if critical_failure else "succeeded", lines


# -- generated runbooks ------------------------------------------------------------------------------------

@st.composite
def runbooks(draw: st.DrawFn) -> list[Spec]:
    count = draw(st.integers(3, 6))
    kinds = draw(st.lists(st.sampled_from(["ok", "read", "flaky", "broken"]), min_size=count, max_size=count))
    if "ok" not in kinds and "read" not in kinds:
        kinds[draw(st.integers(0, count - 1))] = "ok"
    # A count at this index, the branch after it, and room after that for a step to jump to.
    decide = draw(st.one_of(st.none(), st.integers(0, count - 4))) if count >= 4 else None
    if decide is not None:
        kinds[decide : decide + 2] = ["count", "branch"]
        if "ok" not in kinds and "read" not in kinds:
            kinds[decide + 2] = "ok"
    passing = [i for i, kind in enumerate(kinds) if kind in ("ok", "read")]
    changing = [i for i, kind in enumerate(kinds) if kind == "ok"]
    steps = []
    for i, kind in enumerate(kinds):
        if kind in ("count", "branch"):
            # Forward only (the default is the next step, so every step stays reachable); the count is of
            # changes, at most 6 in these runbooks.
            targets = draw(st.lists(st.integers(i + 2, count - 1), min_size=1, max_size=2)) if kind == "branch" else []
            choices = tuple((draw(st.integers(0, 2)), f"s{t}") for t in targets)
            steps.append(
                Spec(id=f"s{i}", kind=kind, threshold=0, on_failure="abort", critical=True, sleep=0.0, choices=choices)
            )
            continue
        policies = ["abort", "continue"]
        if kind == "flaky":
            policies += [f"goto:s{t}" for t in changing]  # each loop back adds a change
        elif kind == "broken":
            policies += [f"goto:s{t}" for t in passing if t > i]  # never back: it would loop for ever
        steps.append(
            Spec(
                id=f"s{i}",
                kind=kind,
                threshold=draw(st.integers(1, 4)) if kind == "flaky" else 0,
                on_failure=draw(st.sampled_from(policies)) if i not in passing else "abort",
                critical=draw(st.booleans()) if i not in passing else True,
                sleep=draw(st.sampled_from([0.0, 0.0, 0.01, 0.02])),
            )
        )
    return steps


def changes_so_far(log: Path, reads: list[str]) -> str:
    """Shell: how many `end` lines of steps that are not reads the log holds."""
    others = " ".join(f"-e ' {r}$'" for r in reads)
    return f"$(grep '^end ' {log} | grep -cv {others})" if reads else f"$(grep -c '^end ' {log})"


def command(step: Spec, log: Path, reads: list[str]) -> str:
    parts = [f"echo 'start {step.id}' >> {log}"]
    if step.sleep:
        parts.append(f"sleep {step.sleep}")
    if step.kind == "broken":
        parts.append("exit 1")
    if step.kind == "flaky":
        parts.append(f"test {changes_so_far(log, reads)} -ge {step.threshold} || exit 1")
    parts.append(f"echo 'end {step.id}' >> {log}")
    return "; ".join(parts)


def runbook_yaml(steps: list[Spec], log: Path) -> str:
    lines = ["apiVersion: fireline/v1", "kind: Runbook", "metadata: {name: torture}", "steps:"]
    reads = [s.id for s in steps if s.kind in ("read", "count")]
    for index, step in enumerate(steps):
        if step.kind == "branch":
            counter = steps[index - 1].id
            lines += [f"  - id: {step.id}", "    action: control.branch", "    with:", "      choices:"]
            lines += [
                f'        - {{when: "{{{{ steps.{counter}.outputs.n >= {least} }}}}", goto: {to}}}'
                for least, to in step.choices
            ]
            lines.append(f"      default: {steps[index + 1].id}")
            continue
        if step.kind == "count":
            counting = f"echo 'start {step.id}' >> {log}; n={changes_so_far(log, reads)}; "
            counting += f"echo 'end {step.id}' >> {log}; echo $n"
            lines += [f"  - id: {step.id}", "    action: shell.run", "    read_only: true"]
            lines += [f'    with: {{command: "{counting}"}}', '    outputs: {n: "{{ result.stdout | trim | int }}"}']
            continue
        lines += [f"  - id: {step.id}", "    action: shell.run"]
        lines.append(f'    with: {{command: "{command(step, log, reads)}"}}')
        if step.kind == "read":
            lines.append("    read_only: true")
        elif step.kind != "ok":
            lines.append(f"    on_failure: {step.on_failure}")
            lines.append(f"    critical: {'true' if step.critical else 'false'}")
    return "\n".join(lines) + "\n"


# -- driving the CLI ---------------------------------------------------------------------------------------

def log_lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def run_killed(argv: list[str], env: dict[str, str], log: Path, kill_at: int, delay: float) -> bool:
    """Run fireline in its own process; SIGKILL it and its step's shell once the log has `kill_at` lines
    (plus `delay`). True when it was killed, False when it finished first."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while proc.poll() is None:
            if len(log_lines(log)) >= kill_at:
                time.sleep(delay)
                if proc.poll() is not None:
                    return False
                crash(proc)
                return True
            time.sleep(0.002)
        return False
    finally:
        if proc.poll() is None:
            crash(proc)


def crash(proc: subprocess.Popen[bytes]) -> None:
    """What a machine crash does: fireline and the step's command die at once. The command runs in a
    session of its own (so a timeout can kill its whole group), so it is found and killed first, with
    fireline frozen meanwhile so that it cannot start another."""
    os.kill(proc.pid, signal.SIGSTOP)
    children = []
    for task in Path(f"/proc/{proc.pid}/task").iterdir():
        with contextlib.suppress(OSError):
            children += [int(c) for c in (task / "children").read_text().split()]
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def in_process(*argv: str) -> tuple[int, str]:
    """`fireline ARGV` in this process (no interpreter start): exit code and what it wrote to stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, err.getvalue()


def journal_query(home: Path, sql: str) -> list[tuple[str, ...]]:
    if not (home / "journal.db").exists():
        return []
    with contextlib.closing(sqlite3.connect(home / "journal.db")) as db:
        return db.execute(sql).fetchall()


def resume_until_done(run_id: str, env: dict[str, str], log: Path, kill: tuple[int, float] | None) -> None:
    flags: list[str] = []
    for _ in range(20):
        if flags and kill is not None:
            # A resume killed too: the decision it carries is recorded before any step runs again.
            FIGURES["kills during resume"] += run_killed(["resume", run_id, *flags], env, log, *kill)
            kill, flags = None, []
            continue
        code, err = in_process("resume", run_id, "--output", "plain", *flags)
        FIGURES["resumes"] += 1
        if code == 3 and "started but never finished" in err:
            step = re.search(r"step '([^']+)'", err)
            assert step is not None, err
            flags = ["--skip-step"] if log_lines(log)[-1:] == [f"end {step.group(1)}"] else ["--retry-step"]
            FIGURES["decisions " + flags[0]] += 1
            continue
        if code in (0, 1) or (code == 2 and "already finished" in err):
            return
        raise AssertionError(f"resume exited {code}: {err}")
    raise AssertionError("the run did not finish after 20 resumes")


def assert_same_effects(actual: list[str], expected: list[str], reads: set[str], runbook: str) -> None:
    """Changes: exactly the predicted ones, in order. Reads: every predicted one happened, in order among
    the changes; a read cut short (or whose end was not yet on disk) may have run again."""
    why = f"side effects {actual}, expected {expected}\n{runbook}"
    assert [e for e in actual if e not in reads] == [e for e in expected if e not in reads], why
    pending = iter(expected)
    wanted = next(pending, None)
    for effect in actual:
        if effect == wanted:
            wanted = next(pending, None)
        else:
            assert effect in reads, why  # an extra change would have failed above; extra reads are re-runs
    assert wanted is None, why  # something predicted never happened


@pytest.mark.slow
@settings(
    max_examples=CASES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
@given(
    steps=runbooks(),
    kill_at=st.floats(0, 1),  # where in the run's side effects the kill lands
    delay=st.sampled_from([0.0, 0.0, 0.002, 0.01]),
    resume_kill=st.one_of(st.none(), st.none(), st.tuples(st.floats(0, 1), st.sampled_from([0.0, 0.005]))),
)
def test_kill_anywhere_then_resume_until_done(
    steps: list[Spec], kill_at: float, delay: float, resume_kill: tuple[float, float] | None
) -> None:
    expected_ends, expected_status, lines = predict(steps)
    with tempfile.TemporaryDirectory(prefix="fireline-torture-") as tmp:
        home, log, path = Path(tmp) / "home", Path(tmp) / "log", Path(tmp) / "rb.yaml"
        path.write_text(runbook_yaml(steps, log))
        env = {**os.environ, "FIRELINE_HOME": str(home), "PYTHONPATH": str(Path.cwd()), "FIRELINE_ACTOR": "torture"}
        os.environ["FIRELINE_HOME"] = str(home)  # for the in-process resumes; the fixture restores it
        run = ["run", str(path), "--approve-all", "--reason", "torture", "--output", "plain"]
        killed = run_killed(run, env, log, 1 + int(kill_at * lines), delay)
        FIGURES["cases"] += 1
        FIGURES["kills"] += killed
        started = journal_query(home, "SELECT run_id FROM events WHERE type = 'run.started'")
        if not started:  # killed before the run began: nothing may have happened
            assert log_lines(log) == []
            FIGURES["killed before the run started"] += 1
            code, err = in_process(*run)
            assert code in (0, 1), err
            started = journal_query(home, "SELECT run_id FROM events WHERE type = 'run.started'")
        elif killed:
            again = (1 + int(resume_kill[0] * lines), resume_kill[1]) if resume_kill else None
            resume_until_done(started[0][0], env, log, again)
        run_id = started[0][0]
        finished = journal_query(
            home, f"SELECT data FROM events WHERE run_id = '{run_id}' AND type = 'run.finished' ORDER BY seq"
        )
        ends = [line.removeprefix("end ") for line in log_lines(log) if line.startswith("end ")]
        reads = {s.id for s in steps if s.kind in ("read", "count")}
        FIGURES["branches"] += any(s.kind == "branch" for s in steps)
        assert_same_effects(ends, expected_ends, reads, runbook_yaml(steps, log))
        assert len(finished) == 1, finished
        assert f'"status": "{expected_status}"' in finished[0][0], (finished, runbook_yaml(steps, log))


@pytest.fixture(scope="module", autouse=True)
def _figures() -> object:
    # Each in-process command leaves its journal connection open until exit (harmless in a one-shot
    # process); a few hundred of them must not run a low descriptor limit out for the rest of the suite.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096 <= hard or hard == resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096), hard))
    started = time.monotonic()
    yield
    if FIGURES:
        figures = ", ".join(f"{k}: {v}" for k, v in sorted(FIGURES.items()))
        print(f"\ntorture figures: {figures}, {time.monotonic() - started:.1f}s")
