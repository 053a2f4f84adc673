"""Throughput of the fireline lab on loopback: GET/s, PATCH/s and watch events/s.

    .venv/bin/python benchmarks/lab_throughput.py [--seconds 2]

Starts an in-process lab in a temporary directory (no seeding, controller idle), drives it with plain
http.client keep-alive connections, and prints one line per measurement. Loops are time-bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import _peer

from runner.lab.k8s import LabCluster, LabConfig, demo_deployment

NS = "demo"
DEPLOY = f"/apis/apps/v1/namespaces/{NS}/deployments"


def _request(
    conn: http.client.HTTPConnection, method: str, path: str, body: Any = None, content_type: str = "application/json"
) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": content_type, "Accept": "application/json"}
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    payload = resp.read()
    if resp.status >= 300:
        raise RuntimeError(f"{method} {path}: {resp.status} {payload[:200]!r}")
    return json.loads(payload)


def bench_get(port: int, seconds: float) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        _request(conn, "GET", f"{DEPLOY}/bench")
        n += 1
    conn.close()
    return n / (time.perf_counter() - start)


def bench_patch(port: int, seconds: float) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        _request(
            conn,
            "PATCH",
            f"{DEPLOY}/bench",
            {"metadata": {"annotations": {"n": str(n)}}},
            "application/merge-patch+json",
        )
        n += 1
    conn.close()
    return n / (time.perf_counter() - start)


def bench_watch(port: int, seconds: float) -> float:
    """One watcher counts MODIFIED events while a writer patches as fast as it can."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    rv = _request(conn, "GET", DEPLOY)["metadata"]["resourceVersion"]
    watch_conn = http.client.HTTPConnection("127.0.0.1", port)
    watch_conn.request("GET", f"{DEPLOY}?watch=true&resourceVersion={rv}&timeoutSeconds={int(seconds) + 2}")
    resp = watch_conn.getresponse()
    received = [0]
    stop = threading.Event()

    def reader() -> None:
        # Closing the connection from the main thread ends the stream; any error then just means "done".
        with contextlib.suppress(OSError, ValueError, AttributeError, http.client.HTTPException):
            while not stop.is_set():
                line = resp.readline()
                if not line:
                    return
                received[0] += 1

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < seconds:
        _request(
            conn,
            "PATCH",
            f"{DEPLOY}/bench",
            {"metadata": {"annotations": {"w": str(n)}}},
            "application/merge-patch+json",
        )
        n += 1
    deadline = time.perf_counter() + 5
    while received[0] < n and time.perf_counter() < deadline:
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    stop.set()
    watch_conn.close()
    conn.close()
    return received[0] / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each measurement")
    _peer.add_json_option(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LabCluster(LabConfig(state_dir=Path(tmp), seed_demo=False)) as lab:
        bench = demo_deployment("bench", replicas=0)
        conn = http.client.HTTPConnection("127.0.0.1", lab.port)
        _request(conn, "POST", DEPLOY, bench)
        conn.close()
        print(f"lab at {lab.url}")
        figures = {"GET/s": bench_get(lab.port, args.seconds), "PATCH/s": bench_patch(lab.port, args.seconds),
                   "watch events/s": bench_watch(lab.port, args.seconds)}  # fmt: skip
        for label, value in figures.items():
            print(f"{label:<15} {value:10.0f}")
    _peer.write_results(args.json, "lab_throughput", [
        _peer.Result(f"lab {label}", round(value), "/s", "(shown)", None) for label, value in figures.items()
    ])


if __name__ == "__main__":
    main()
