"""Incidents at scale: `fireline incident metrics` over a store holding 10,000 incidents (and their events),
and `fireline incident list --open` as the history grows from 1,000 to 10,000 incidents.

    .venv/bin/python benchmarks/incident_metrics.py [--incidents 10000] [--small 1000] [--open 20]
        [--repeat 5] [--store postgresql://…] [--strict]

Each store is written first (not timed): every incident has its declaration, the five milestones, two status
changes, a role, a note and a status update (one in ten also a corrected milestone), declared a few hours
apart over the years before now, spread over 12 services and the four severities; one in twenty is a drill.
`--open` of them (the newest) stay open, whatever the history's size, so `list --open` has the same answer
to give at 1,000 and at 10,000 incidents.

Measured, median of `--repeat` (after one unmeasured warm-up): the whole command as a new process (the venv's
`fireline`, what a user waits for) and in-process (`runner.cli.main`, without the interpreter's start).
For scale, the cost of the way the index replaces is shown once: folding every incident's events.
Targets: metrics over 10,000 incidents < 0.5 s (whole process, SQLite); list --open at 10,000 within 1.5x
of its time at 1,000.

Without --store, SQLite files in a temp directory; with --store (an empty PostgreSQL database), the small
history is measured first, then the store grows to the large one.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _peer

from runner.incident import events as ev
from runner.incident.model import IncidentType, Severity
from runner.incident.store import iso
from runner.journal.store import Journal, open_journal

SERVICES = [f"svc-{n:02d}" for n in range(12)]
METRICS_TARGET_S = 0.5
FLAT_TARGET = 1.5


def write_incidents(journal: Journal, first: int, last: int, total: int, open_count: int, seed: int) -> None:
    """Incidents number `first`..`last` (1-based) of a history of `total`, oldest first; the newest
    `open_count` of the history stay open."""
    rnd = random.Random(seed + first)
    start = datetime.now(UTC) - timedelta(hours=6 * total)
    for number in range(first, last + 1):
        incident_id = f"INC-{2000 + (number - 1) // 1000:04d}-{(number - 1) % 1000 + 1:03d}"
        started = start + timedelta(hours=6 * number, minutes=rnd.randint(0, 300))
        is_open = number > total - open_count
        for payload in _events(rnd, started, is_open):
            journal.append(incident_id, payload.TYPE, actor="bench", data=payload.to_data())
    journal.flush()


def _events(rnd: random.Random, started: datetime, is_open: bool) -> list[ev.Payload]:
    at = started
    times: list[datetime] = []
    for bound in (600, 900, 3600, 7200):
        at += timedelta(seconds=rnd.randint(30, bound))
        times.append(at)
    systems = tuple(rnd.sample(SERVICES, rnd.randint(1, 3)))
    severity = rnd.choice(list(Severity))
    kind = IncidentType.DRILL if rnd.random() < 0.05 else rnd.choice(list(IncidentType)[:4])
    out: list[ev.Payload] = [
        ev.IncidentDeclared(title="Checkout errors", severity=severity, type=kind, systems=systems,
                            impact="Some customers cannot pay", started_at=iso(started), policy="bench"),
        ev.IncidentMilestone("started", iso(started), "command"),
        ev.IncidentMilestone("detected", iso(times[0]), "alert checkout-5xx"),
        ev.IncidentMilestone("acknowledged", iso(times[1]), "command"),
        ev.IncidentRoleAssigned("commander", "alice"),
        ev.IncidentNote("Error rate up since the 09:00 deploy", "observation"),
        ev.IncidentUpdate(status="identified", summary="Rolling back the deploy", actions=("rollback",)),
        ev.IncidentStatusChanged("investigating", "identified"),
    ]  # fmt: skip
    if is_open:
        return out
    out += [ev.IncidentMilestone("mitigated", iso(times[2]), "command"),
            ev.IncidentMilestone("resolved", iso(times[3]), "command"),
            ev.IncidentStatusChanged("identified", "resolved")]  # fmt: skip
    if rnd.random() < 0.1:
        earlier = times[0] - (times[0] - started) / 2  # the alert fired before the page said
        out.append(ev.IncidentCorrected("detected", iso(times[0]), iso(earlier), "alert fired earlier"))
    return out


def in_process(args: list[str], repeat: int) -> list[float]:
    from runner.cli import main

    samples = []
    for index in range(repeat + 1):
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(args)
        if code != 0:
            raise RuntimeError(f"fireline {' '.join(args)} exited {code}")
        if index:
            samples.append(time.perf_counter() - started)
    return samples


def whole_process(args: list[str], repeat: int) -> list[float]:
    command = [str(_peer.fireline_executable()), *args]
    return [_peer.timed_run(command, env=dict(os.environ)) for _ in range(repeat + 1)][1:]


def fold_everything(journal: Journal) -> float:
    """What `list --open` and `metrics` would cost without the index: every incident folded from its events."""
    from runner.incident.store import declared_ids
    from runner.incident.view import fold

    started = time.perf_counter()
    for incident_id in declared_ids(journal, 1_000_000):
        fold(journal.events(incident_id, ev.TYPES))
    return time.perf_counter() - started


def measure(repeat: int, both: Callable[[list[str], int], list[float]]) -> dict[str, list[float]]:
    return {
        "metrics": both(["incident", "metrics", "--format", "json"], repeat),
        "metrics-period": both(["incident", "metrics", "--period", "month", "--format", "json"], repeat),
        "list-open": both(["incident", "list", "--open", "--format", "json"], repeat),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=10_000, help="the large history (default 10000)")
    parser.add_argument("--small", type=int, default=1_000, help="the small history (default 1000)")
    parser.add_argument("--open", type=int, default=20, help="incidents left open (default 20)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--store", help="an empty postgresql:// database (default: SQLite files in a temp dir)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    _peer.add_json_option(parser)
    args = parser.parse_args()
    print(f"incident_metrics: {args.small} then {args.incidents} incidents, {args.open} open, "
          f"median of {args.repeat}")  # fmt: skip
    _peer.print_table("machine", _peer.machine_facts())
    results: dict[int, dict[str, dict[str, list[float]]]] = {}
    with tempfile.TemporaryDirectory() as home:
        os.environ["FIRELINE_HOME"] = home
        location, folded = "", 0.0
        for size in (args.small, args.incidents):
            if args.store:
                os.environ["FIRELINE_STORE"] = args.store
                journal = open_journal()
                have = len(journal.incidents())
                # The incidents open in the small history are resolved in the large one, as in life.
                for incident_id in journal.open_incidents(args.open):
                    journal.append(incident_id, ev.STATUS_CHANGED, data={"old": "identified", "new": "resolved"})
                write_incidents(journal, have + 1, size, size, args.open, args.seed)
            else:
                os.environ["FIRELINE_STORE"] = str(Path(home) / f"journal-{size}.db")
                journal = open_journal()
                write_incidents(journal, 1, size, size, args.open, args.seed)
            journal.flush()
            location = journal.location
            if size == args.incidents:
                folded = fold_everything(journal)
            count, still_open = len(journal.incidents()), len(journal.open_incidents(size))
            journal.close()
            print(f"  {count} incidents ({still_open} open) in {location}")
            results[size] = {"process": measure(args.repeat, whole_process),
                             "in-process": measure(args.repeat, in_process)}  # fmt: skip
    big = {how: {n: _peer.median(v) for n, v in r.items()} for how, r in results[args.incidents].items()}
    small = {how: {n: _peer.median(v) for n, v in r.items()} for how, r in results[args.small].items()}
    rows = []
    for name in ("metrics", "metrics-period", "list-open"):
        for how in ("process", "in-process"):
            best = min(results[args.incidents][how][name])
            rows.append([f"{name} ({how})", _peer.ms(small[how][name]), _peer.ms(big[how][name]), _peer.ms(best),
                         f"{big[how][name] / small[how][name]:.2f}x"])  # fmt: skip
    _peer.print_table("figures (median; best of the large history beside it: a loaded machine moves the median)",
                      rows, ["command", f"{args.small} incidents", f"{args.incidents} incidents", "best",
                             "growth"])  # fmt: skip
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\nfor scale: folding every incident's events (what the index spares) at {args.incidents}: "
          f"{_peer.ms(folded)}")  # fmt: skip
    metrics_ok = big["process"]["metrics"] < METRICS_TARGET_S
    flat = big["process"]["list-open"] / small["process"]["list-open"]
    flat_ok = flat <= FLAT_TARGET
    _peer.print_table("targets", [
        [f"incident metrics over {args.incidents} incidents < {METRICS_TARGET_S} s (whole process)",
         _peer.ms(big["process"]["metrics"]), _peer.verdict(metrics_ok)],
        [f"list --open at {args.incidents} within {FLAT_TARGET}x of {args.small} (whole process)",
         f"{flat:.2f}x", _peer.verdict(flat_ok)],
    ], ["target", "figure", "result"])  # fmt: skip
    _peer.write_results(args.json, "incident_metrics", [
        _peer.Result(f"incident metrics over {args.incidents} incidents, whole process", big["process"]["metrics"],
                     "s", f"< {METRICS_TARGET_S} s", metrics_ok),
        _peer.Result(f"incident list --open at {args.incidents} vs at {args.small}", big["process"]["list-open"],
                     "s", f"<= {FLAT_TARGET}x at {args.small}", flat_ok, peer=small["process"]["list-open"],
                     ratio=flat, note=f"peer column: at {args.small} incidents"),
    ])  # fmt: skip
    return 1 if args.strict and not (metrics_ok and flat_ok) else 0


if __name__ == "__main__":
    raise SystemExit(main())
