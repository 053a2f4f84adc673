"""Helpers that start REAL servers (sshd, Prometheus, Alertmanager, Unleash) on loopback for tests.

Every `start_*` function starts the server(s) in a directory the caller owns (usually pytest's
`tmp_path`), waits until they answer, and returns an object that is also a context manager: leaving
the `with` block (or calling `.stop()`) stops the process group, killing whatever does not stop in
time. Nothing here mocks a server. Binaries come from `.ci/install-servers.sh`.
"""

from __future__ import annotations

from .ports import ServerNotReady, free_port, wait_for_http, wait_for_port
from .prometheus import (
    AlertmanagerServer,
    MetricsExporter,
    PrometheusServer,
    start_alertmanager,
    start_prometheus,
)
from .sshd import SshFleet, SshServer, start_sshd
from .unleash import UnleashServer, ensure_unleash_installed, start_unleash

__all__ = [
    "AlertmanagerServer",
    "MetricsExporter",
    "PrometheusServer",
    "ServerNotReady",
    "SshFleet",
    "SshServer",
    "UnleashServer",
    "ensure_unleash_installed",
    "free_port",
    "start_alertmanager",
    "start_prometheus",
    "start_sshd",
    "start_unleash",
    "wait_for_http",
    "wait_for_port",
]
