"""Documents the incident tests write: the runbook a worked incident runs, the runbook an alert about
PostgreSQL connections leads to, and a policy's SEV2 severity."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

_RESTART = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: restart-checkout, title: Restart checkout, mitigates: true}}
steps:
  - id: look
    action: shell.run
    read_only: true
    with: {{argv: [echo, looking]}}
{more_steps}  - id: restart
    action: shell.run
    with: {{argv: [touch, "{marker}"]}}
"""
_DB = """\
apiVersion: fireline/v1
kind: Runbook
metadata:
  name: db-connection-exhaustion
  title: Database connection exhaustion
  alerts: [PostgresTooManyConnections]
"""
_SEV2 = """\
  SEV2:
    title: high
    definition: Partial degradation.
    response_target: 15m
    update_cadence: 30m
    roles: [commander]
    channels: [{channels}]
    criteria: []
"""


def restart_runbook(marker: Path, more_steps: str = "") -> str:
    """`restart-checkout`, a runbook that mitigates: it looks (read only), runs `more_steps` (YAML list items),
    then restarts, which touches `marker` so that a test can see it ran."""
    return _RESTART.format(marker=marker, more_steps=more_steps)


def db_runbook(metadata: str = "", rest: str = "") -> str:
    """`db-connection-exhaustion`, the runbook for the PostgresTooManyConnections alert: `metadata` adds lines
    to its metadata, `rest` is the document after it (inputs, steps)."""
    return _DB + metadata + rest


def sev2(channels: Sequence[str]) -> str:
    """A policy's `SEV2:` severity (an entry of `severities:`), its updates sent to `channels`."""
    return _SEV2.format(channels=", ".join(channels))
