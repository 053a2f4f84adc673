"""Latency of one journal append: durable (committed, and on SQLite fsynced, before `append` returns — the
event written before every change) and queued (group-committed, every read-only step).

    .venv/bin/python benchmarks/journal_append.py [--events 300] [--store postgresql://…]

Without --store the SQLite journal is measured in a fresh temp directory. Reported: median and p95 of
durable appends, and the mean of queued appends (the flushes they trigger included).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import _peer

from runner.journal.store import Journal, open_journal


def measure(journal: Journal, events: int) -> tuple[list[float], float]:
    durable: list[float] = []
    for index in range(events):
        start = time.perf_counter()
        journal.append("bench-run", "step.started", step_id=f"s{index}", data={"mutating": True}, durable=True)
        durable.append(time.perf_counter() - start)
    start = time.perf_counter()
    for index in range(events * 10):
        journal.append("bench-run", "step.succeeded", step_id=f"s{index}", data={"ok": True})
    journal.flush()
    return durable, (time.perf_counter() - start) / (events * 10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300, help="durable appends (queued: ten times as many)")
    parser.add_argument("--store", help="a postgresql:// URL (default: an SQLite file in a temp directory)")
    _peer.add_json_option(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        if args.store:
            os.environ["FIRELINE_STORE"] = args.store
            journal = open_journal()
        else:
            journal = Journal(Path(home) / "journal.db")
        try:
            durable, queued = measure(journal, args.events)
        finally:
            journal.close()
    durable.sort()
    print(f"store: {journal.location}")
    print(
        f"durable append: median {statistics.median(durable) * 1e6:.0f} us, "
        f"p95 {durable[int(len(durable) * 0.95)] * 1e6:.0f} us ({len(durable)} events)"
    )
    print(f"queued append: mean {queued * 1e6:.1f} us")
    _peer.write_results(args.json, "journal_append", [
        _peer.Result(f"durable append, one process, median ({journal.location.rsplit('/', 1)[-1]})",
                     statistics.median(durable), "s", "(shown)", None),
        _peer.Result("queued append, mean", queued, "s", "(shown)", None),
    ])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
