"""Where the team's policy file is (runner.policy reads it). Apart from reading it: every run that could
check signatures looks for the file, and one that finds none needs nothing of the policy machinery."""

from __future__ import annotations

import os
from pathlib import Path

from runner.errors import UsageError

FILE_NAME = "incident-policy.yaml"
ENV = "FIRELINE_POLICY"


def find_policy(explicit: str | None = None) -> Path | None:
    """The policy file in force: `--policy`, else $FIRELINE_POLICY, else ./incident-policy.yaml if present."""
    named = explicit or os.environ.get(ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            source = "--policy" if explicit else ENV
            raise UsageError(f"the policy file {path} ({source}) does not exist")
        return path
    local = Path(FILE_NAME)
    return local if local.is_file() else None
