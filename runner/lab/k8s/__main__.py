"""``python -m runner.lab.k8s --state-dir DIR [--port N] [--time-scale X]``: run the lab in the foreground.

Writes ``DIR/lab.pid`` and ``DIR/kubeconfig``, prints the kubeconfig path, and on SIGTERM/SIGINT stops
cleanly, saving state to ``DIR/state.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cluster import LabCluster, LabConfig
from .process import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.lab.k8s", description="fireline Kubernetes lab")
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--pod-ready-delay", type=float, default=2.0)
    parser.add_argument("--no-seed", action="store_true", help="do not create the demo deployment")
    args = parser.parse_args(argv)
    config = LabConfig(
        state_dir=args.state_dir,
        port=args.port,
        time_scale=args.time_scale,
        pod_ready_delay=args.pod_ready_delay,
        seed_demo=not args.no_seed,
    )

    def announce(lab: LabCluster) -> None:
        print(f"fireline lab listening on {lab.url}", file=sys.stderr, flush=True)
        print(lab.kubeconfig_path, flush=True)

    serve(config, announce)
    return 0


if __name__ == "__main__":
    sys.exit(main())
