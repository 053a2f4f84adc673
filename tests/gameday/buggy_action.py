"""A test-only stand-in for `shell.run` with a bug on its failure path: when the command fails, instead of
reporting the failure (an ActionError) it crashes with a KeyError — the kind of mistake a real action can
make. Registered under `shell.run` by the tests that need a probe with a bug."""

from __future__ import annotations

from typing import Any

from runner.actions.base import ActionContext, Outcome
from runner.actions.shell import Run
from runner.errors import ActionError


class RunWithABug(Run):
    def run(self, params: Any, ctx: ActionContext) -> Outcome:
        try:
            return super().run(params, ctx)
        except ActionError:
            details: dict[str, int] = {}
            return Outcome({}, summary=f"exit code {details['exit_code']}")  # the bug: a key never set
