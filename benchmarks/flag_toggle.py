"""A flag toggle's round trip: flags.set (read, write, read back) then flags.get, for flagd and Unleash.

    .venv/bin/python benchmarks/flag_toggle.py [--rounds 20] [--no-unleash]

Also reports how long until Unleash's client API (what application SDKs poll) shows the new state.
Loopback only: starts a throwaway PostgreSQL and a real Unleash (needs node + the cached npm package).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _peer

from runner.actions.base import ActionContext
from runner.actions.flags import Get, Set
from runner.testing import StaticConnections as Connections


def toggle_times(settings: Mapping[str, Mapping[str, Any]], flag: str, rounds: int) -> tuple[list[float], list[float]]:
    """Wall times (s) of set+get round trips, and of the set alone, alternating off/on."""
    connections = Connections(settings)
    round_trips, sets = [], []
    for i in range(rounds):
        wanted = i % 2 == 1
        ctx = ActionContext("bench", connections)
        started = time.perf_counter()
        Set().run({"connection": "flags", "flag": flag, "enabled": wanted}, ctx)
        set_done = time.perf_counter()
        got = Get().run({"connection": "flags", "flag": flag}, ctx).result
        round_trips.append(time.perf_counter() - started)
        sets.append(set_done - started)
        assert got["enabled"] is wanted, got
    return round_trips, sets


RESULTS: list[_peer.Result] = []  # for --json


def _report(label: str, round_trips: list[float], sets: list[float]) -> None:
    RESULTS.append(_peer.Result(f"{label}: flag set + read back, median", statistics.median(round_trips), "s",
                                "(shown)", None))  # fmt: skip
    def ms(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if len(values) > 1 else values[0] * 1000

    print(
        f"{label:<8} set+get median {statistics.median(round_trips) * 1000:7.1f}ms  p90 {ms(round_trips, 90):7.1f}ms"
        f"   set alone median {statistics.median(sets) * 1000:7.1f}ms"
    )


def bench_flagd(rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="fireline-bench-flagd-") as tmp:
        path = Path(tmp) / "flags.json"
        flags = {
            f"flag-{i}": {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "on"}
            for i in range(200)
        }
        path.write_text(json.dumps({"flags": flags}, indent=2))
        round_trips, sets = toggle_times({"flags": {"type": "flagd", "path": str(path)}}, "flag-100", rounds)
        _report("flagd", round_trips, sets)


def bench_unleash(rounds: int) -> None:
    from runner.lab.postgres import ThrowawayPostgres
    from tests.servers.unleash import start_unleash

    base = Path(tempfile.mkdtemp(prefix="fireline-bench-unleash-"))
    try:
        with ThrowawayPostgres(base / "pg") as pg, start_unleash(base, pg.create_database("unleash")) as unleash:
            print(f"unleash started in {unleash.startup_seconds:.1f}s")
            unleash.admin("POST", "/api/admin/projects/default/features", {"name": "bench.flag"})
            settings = {
                "flags": {
                    "type": "unleash",
                    "url": unleash.url,
                    "token": unleash.admin_token,
                    "project": "default",
                    "environment": "development",
                }
            }
            round_trips, sets = toggle_times(settings, "bench.flag", rounds)
            _report("unleash", round_trips, sets)
            print(
                f"unleash  client API shows the change after {client_visibility(unleash, settings) * 1000:.0f}ms"
                " (median of 5)"
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)


def client_visibility(unleash: Any, settings: Mapping[str, Mapping[str, Any]]) -> float:
    """Seconds from the start of flags.set until GET /api/client/features shows the new state."""
    samples = []
    connections = Connections(settings)
    for i in range(5):
        wanted = i % 2 == 0
        started = time.perf_counter()
        Set().run({"connection": "flags", "flag": "bench.flag", "enabled": wanted}, ActionContext("b", connections))
        while True:
            feature = next(f for f in unleash.client_features()["features"] if f["name"] == "bench.flag")
            if feature["enabled"] is wanted:
                break
            time.sleep(0.01)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--no-unleash", action="store_true")
    _peer.add_json_option(parser)
    args = parser.parse_args()
    bench_flagd(args.rounds)
    if not args.no_unleash:
        bench_unleash(args.rounds)
    _peer.write_results(args.json, "flag_toggle", RESULTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
