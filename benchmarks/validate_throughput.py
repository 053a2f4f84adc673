"""Throughput of `fireline validate` (the whole CLI, as CI runs it) on generated runbooks, and the time it
takes to refuse a billion-laughs YAML file.

    .venv/bin/python benchmarks/validate_throughput.py [--files 300] [--repeat 5] [--seed 7] [--strict]

The runbooks are valid and varied: 5-20 steps each of shell.run, http.check, postgres.query, control.*
and notify.status_update, with `when`, retries, timeouts and outputs, and templates that reference inputs,
connections and earlier steps' outputs. The generator is seeded, so every run validates the same files.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _peer
import yaml

TARGET_S = 2.0
BOMB_TARGET_S = 1.0
Step = dict[str, Any]
Outputs = list[tuple[str, str]]  # (step id, output name) declared so far


# --- one step per action ----------------------------------------------------------------------------------

def shell_step(rng: random.Random, sid: str, earlier: Outputs) -> Step:
    if rng.random() < 0.5:
        params: dict[str, Any] = {"argv": ["systemctl", "status", "{{ inputs.service }}"], "timeout": "30s"}
    else:
        params = {"command": "journalctl -u {{ inputs.service }} --since -{{ inputs.window_minutes }}m | tail -50"}
    return {"id": sid, "name": f"Inspect {sid}", "action": "shell.run", "read_only": True, "with": params,
            "outputs": {"exit_code": "{{ result.exit_code }}"}}


def http_step(rng: random.Random, sid: str, earlier: Outputs) -> Step:
    return {"id": sid, "action": "http.check",
            "with": {"connection": "api", "url": "/health?probe={{ run.id }}", "timeout": "5s",
                     "expect": {"status": rng.choice([200, [200, 204]]), "body_contains": "ok"}},
            "retries": {"count": rng.randint(1, 5), "delay": "2s", "backoff": 2, "until": "{{ result.status == 200 }}"},
            "outputs": {"status": "{{ result.status }}"}}


def postgres_step(rng: random.Random, sid: str, earlier: Outputs) -> Step:
    return {"id": sid, "action": "postgres.query",
            "with": {"connection": "db", "max_rows": rng.choice([10, 100, 1000]),
                     "sql": "SELECT count(*) AS active FROM pg_stat_activity WHERE state = %(state)s "
                            "AND application_name = %(app)s",
                     "params": {"state": "active", "app": "{{ inputs.service }}"}},
            "outputs": {"active": "{{ result.rows[0].active }}"}}


def assert_step(rng: random.Random, sid: str, earlier: Outputs) -> Step:
    if earlier:
        source, name = rng.choice(earlier)
        that = f"{{{{ steps['{source}'].outputs.{name} is not none }}}}"
    else:
        that = "{{ inputs.window_minutes > 0 }}"
    return {"id": sid, "action": "control.assert", "with": {"that": that, "message": f"{sid} does not hold"},
            "on_failure": "continue"}


def sleep_step(rng: random.Random, sid: str, earlier: Outputs) -> Step:
    return {"id": sid, "action": "control.sleep", "with": {"duration": rng.choice(["500ms", "5s", "1m30s"])},
            "when": "{{ inputs.wait }}"}


def manual_step(rng: random.Random, sid: str, earlier: Outputs) -> Step:
    return {"id": sid, "action": "control.manual", "timeout": "15m",
            "with": {"instructions": "Check the dashboard for {{ inputs.service }}.\nConfirm when error rates drop."},
            "notes": "Dashboards: *Service overview*, *Database*."}


def notify_step(rng: random.Random, sid: str, earlier: Outputs) -> Step:
    summary = "{{ inputs.service }} degraded"
    if earlier:
        source, name = rng.choice(earlier)
        summary += f"; {source}.{name} = {{{{ steps['{source}'].outputs.{name} }}}}"
    return {"id": sid, "action": "notify.status_update",
            "with": {"status": rng.choice(["investigating", "identified", "mitigating", "monitoring"]),
                     "summary": summary, "impact": "Checkout errors for some users", "next_update": "30m",
                     "actions": ["restarted {{ inputs.service }}"], "to": {"stdout": True}}}


STEP_KINDS: list[Callable[[random.Random, str, Outputs], Step]] = [
    shell_step, http_step, postgres_step, assert_step, sleep_step, manual_step, notify_step,
]


# --- documents -------------------------------------------------------------------------------------------

def runbook(rng: random.Random, index: int) -> dict[str, Any]:
    steps: list[Step] = []
    earlier: Outputs = []
    for number in range(rng.randint(5, 20)):
        step = rng.choice(STEP_KINDS)(rng, f"step-{number}", earlier)
        steps.append(step)
        earlier += [(step["id"], name) for name in step.get("outputs", {})]
    return {
        "apiVersion": "fireline/v1", "kind": "Runbook",
        "metadata": {"name": f"generated-{index}", "title": f"Generated runbook {index}",
                     "severity": ["SEV1", "SEV2"], "owners": ["team-bench"], "tags": ["benchmark"]},
        "inputs": {"service": {"type": "string", "required": True, "description": "Service to inspect"},
                   "window_minutes": {"type": "integer", "default": 15, "minimum": 1},
                   "wait": {"type": "boolean", "default": False}},
        "secrets": {"PRIMARY_DSN": {"from": "env", "name": "PRIMARY_DSN"}},
        "connections": {"db": {"type": "postgres", "dsn": "{{ secrets.PRIMARY_DSN }}"},
                        "api": {"type": "http", "url": "http://127.0.0.1:8080"}},
        "steps": steps,
    }


def write_runbooks(directory: Path, count: int, seed: int) -> int:
    rng = random.Random(seed)
    total_steps = 0
    for index in range(count):
        document = runbook(rng, index)
        total_steps += len(document["steps"])
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)
        (directory / f"generated-{index:03d}.yaml").write_text(text, encoding="utf-8")
    return total_steps


def write_bomb(path: Path) -> Path:
    """The classic billion-laughs shape: 9 levels of 9 aliases (~387 million strings once expanded)."""
    lines = ["apiVersion: fireline/v1", "kind: Runbook", "metadata:", "  name: laughs", "  description: &a lol"]
    names = "abcdefghij"
    for level in range(1, len(names)):
        aliases = ", ".join(f"*{names[level - 1]}" for _ in range(9))
        lines.append(f"  x{level}: &{names[level]} [{aliases}]")
    lines += ["steps:", "  - id: boom", "    action: control.assert", f"    with: {{that: *{names[-1]}}}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- main ------------------------------------------------------------------------------------------------

def time_validate(paths: list[Path], repeat: int, expect: tuple[int, ...] = (0,)) -> list[float]:
    command = [str(_peer.fireline_executable()), "validate", *map(str, paths)]
    return [_peer.timed_run(command, expect=expect, timeout=120) for _ in range(repeat)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=300, help="runbooks to generate (default 300)")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions; the median is reported (default 5)")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    _peer.add_json_option(parser)
    args = parser.parse_args()
    count, repeat = max(args.files, 1), max(args.repeat, 1)

    print(f"validate_throughput: `fireline validate DIR` on {count} generated runbooks (subprocess, whole CLI), "
          f"median of {repeat}; one billion-laughs file")
    _peer.print_table("machine", _peer.machine_facts())
    with tempfile.TemporaryDirectory(prefix="fireline-bench-validate-") as tmp:
        corpus = Path(tmp, "runbooks")
        corpus.mkdir()
        steps = write_runbooks(corpus, count, args.seed)
        one = sorted(corpus.iterdir())[0]
        bomb = write_bomb(Path(tmp, "laughs.yaml"))

        time_validate([corpus], 1)  # warm-up; also proves every generated file is valid (exit 0)
        whole = _peer.median(time_validate([corpus], repeat))
        single = _peer.median(time_validate([one], repeat))
        laughs = _peer.median(time_validate([bomb], repeat, expect=(1,)))

    per_file = (whole - single) / max(count - 1, 1)
    rows = [[f"validate {count} files ({steps} steps)", _peer.ms(whole), f"{count / whole:.0f} files/s"],
            ["validate 1 file (fixed cost)", _peer.ms(single), ""],
            ["per additional file", _peer.ms(per_file), f"{1 / per_file:.0f} files/s" if per_file > 0 else ""],
            ["billion-laughs file (exit 1)", _peer.ms(laughs), ""]]
    _peer.print_table("figures (median)", rows, ["measured", "wall time", "throughput"])

    results = [whole < TARGET_S, laughs < BOMB_TARGET_S]
    _peer.write_results(args.json, "validate_throughput", [
        _peer.Result(f"validate {count} files", whole, "s", f"< {TARGET_S:g} s", results[0]),
        _peer.Result("billion-laughs refused", laughs, "s", f"< {BOMB_TARGET_S:g} s", results[1]),
    ])
    _peer.print_table("targets", [
        [f"validate {count} files < 2 s", _peer.ms(whole), _peer.verdict(results[0])],
        ["billion-laughs refused (exit 1) < 1 s", _peer.ms(laughs), _peer.verdict(results[1])],
    ], ["target", "figure", "result"])
    return 1 if args.strict and not all(results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
