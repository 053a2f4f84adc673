"""`fireline lab up|status|down`: the local practice lab (an emulated Kubernetes cluster).

Imports stay light: the lab itself is standard library only, and the kubernetes client is never loaded.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click


def default_state_dir() -> Path:
    home = os.environ.get("FIRELINE_HOME") or str(Path("~/.local/state/fireline").expanduser())
    return Path(home) / "lab"


_state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the lab keeps its state, pid file and kubeconfig [default: $FIRELINE_HOME/lab].",
)


def _resolve(state_dir: Path | None) -> Path:
    return (state_dir or default_state_dir()).expanduser().resolve()


def _hint(kubeconfig: Path) -> None:
    click.echo(str(kubeconfig))
    click.echo(f"  export KUBECONFIG={kubeconfig}", err=True)
    click.echo("  kubectl get deploy,rs,pods   # namespace 'demo' is the default", err=True)


@click.group(help="The local practice lab: an emulated Kubernetes cluster for runbooks and kubectl.")
def lab() -> None:
    pass


@lab.command(help="Start the lab (foreground until Ctrl-C, or in the background with --detach).")
@_state_dir_option
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="0 picks a free port.")
@click.option(
    "--time-scale",
    type=click.FloatRange(min=0.0001),
    default=1.0,
    show_default=True,
    help="Multiplier for every delay: 0.1 makes pods ready and deadlines expire 10x sooner.",
)
@click.option("--detach", is_flag=True, help="Run in the background; stop it with `fireline lab down`.")
def up(state_dir: Path | None, port: int, time_scale: float, detach: bool) -> None:
    from runner.lab.k8s import LabConfig
    from runner.lab.k8s.process import read_pid, serve, server_url, start_detached

    directory = _resolve(state_dir)
    config = LabConfig(state_dir=directory, port=port, time_scale=time_scale)
    running = read_pid(directory)
    if running is not None:
        click.echo(f"lab already running (pid {running}) at {server_url(directory)}", err=True)
        _hint(directory / "kubeconfig")
        return
    if detach:
        try:
            pid, url = start_detached(config)
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"lab started (pid {pid}) at {url}", err=True)
        _hint(directory / "kubeconfig")
        return

    def announce(cluster: Any) -> None:
        click.echo(f"lab listening on {cluster.url} (Ctrl-C to stop)", err=True)
        _hint(cluster.kubeconfig_path)

    serve(config, announce)
    click.echo("lab stopped; state saved", err=True)


@lab.command(help="Show whether the lab is running, where, and its deployments' readiness.")
@_state_dir_option
def status(state_dir: Path | None) -> None:
    from runner.lab.k8s.process import answers, get_json, read_pid, server_url

    directory = _resolve(state_dir)
    pid = read_pid(directory)
    url = server_url(directory)
    if pid is None or url is None or not answers(url):
        click.echo(f"lab is not running (state dir {directory})")
        sys.exit(1)
    click.echo(f"lab running (pid {pid}) at {url}")
    click.echo(f"kubeconfig: {directory / 'kubeconfig'}")
    deployments = get_json(f"{url}/apis/apps/v1/deployments").get("items", [])
    if not deployments:
        click.echo("no deployments")
        return
    rows = [("NAMESPACE", "NAME", "READY", "UP-TO-DATE", "AVAILABLE")]
    for dep in deployments:
        st = dep.get("status", {})
        rows.append(
            (
                dep["metadata"].get("namespace", ""),
                dep["metadata"]["name"],
                f"{st.get('readyReplicas', 0)}/{dep['spec'].get('replicas', 0)}",
                str(st.get("updatedReplicas", 0)),
                str(st.get("availableReplicas", 0)),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@lab.command(help="Stop a lab started with --detach (state is kept for the next `up`).")
@_state_dir_option
def down(state_dir: Path | None) -> None:
    from runner.lab.k8s.process import stop_detached

    directory = _resolve(state_dir)
    try:
        pid = stop_detached(directory)
    except TimeoutError as exc:
        raise click.ClickException(str(exc)) from exc
    if pid is None:
        click.echo("lab is not running")
    else:
        click.echo(f"lab stopped (pid {pid})")
