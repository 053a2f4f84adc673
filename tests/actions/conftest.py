"""The faults are tested against the game-day lab (PostgreSQL, the emulated Kubernetes, the demo service):
its fixtures, shared with tests/gameday."""

from __future__ import annotations

from tests.gameday.conftest import lab, lab_endpoints

__all__ = ["lab", "lab_endpoints"]
