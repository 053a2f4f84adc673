"""Helpers that start REAL servers (sshd, Prometheus, Alertmanager, Unleash) on loopback for tests.

Every helper is a context manager: it starts the server(s) in a directory the caller owns (usually
pytest's `tmp_path`), waits until they answer, and always stops them on exit, killing whatever does not
stop in time. Nothing here mocks a server.
"""

from __future__ import annotations

from .ports import free_port, wait_for_http, wait_for_port

__all__ = ["free_port", "wait_for_http", "wait_for_port"]
