"""Test actions for engine tests, installed the way a plugin distribution is (a module plus a dist-info with
`fireline.actions` entry points), so the engine runs them exactly as it runs any plugin."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from runner.actions import registry
from runner.document import schemas
from tests.conftest import write

MODULE = "fireline_engine_test_actions"

ACTIONS = '''
import threading

from runner.actions.base import BaseAction, Outcome

LOG = {"type": "object", "additionalProperties": False, "required": ["log"],
       "properties": {"log": {"type": "string"}, "text": {"type": "string"}}}
# Set by the test when it is done: the stuck work then finishes, so no thread outlives the test.
RELEASE = threading.Event()


def append(path, line):
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\\n")


class Record(BaseAction):
    """A change: appends its text to the log."""

    name = "testing.record"
    mutates = True
    params_schema = LOG

    def run(self, params, ctx):
        append(params["log"], params.get("text", "record"))
        return Outcome({}, summary="recorded")


class Stuck(BaseAction):
    """A change whose work ignores cancellation (like a call into a library that cannot be interrupted)."""

    name = "testing.stuck"
    mutates = True
    params_schema = LOG

    def run(self, params, ctx):
        append(params["log"], "attempt")
        RELEASE.wait()  # deaf to ctx.cancel()
        append(params["log"], "attempt-end")
        return Outcome({}, summary="finished late")


class BadPlan(BaseAction):
    """A change whose dry-run check has a bug."""

    name = "testing.bad_plan"
    mutates = True
    params_schema = LOG

    def plan(self, params, ctx):
        return {}["missing"]

    def run(self, params, ctx):
        append(params["log"], "ran")
        return Outcome({}, summary="ran")
'''

ENTRY_POINTS = "[fireline.actions]\n" + "".join(
    f"testing.{name} = {MODULE}:{cls}\n" for name, cls in (("record", "Record"), ("stuck", "Stuck"),
                                                          ("bad_plan", "BadPlan"))
)


@pytest.fixture
def engine_actions(tmp_path: Path) -> Iterator[ModuleType]:
    """The test actions, importable and registered; yields their module (for RELEASE)."""
    site = tmp_path / "site"
    write(site / f"{MODULE}.py", ACTIONS)
    dist = site / "fireline_engine_test_actions-1.0.dist-info"
    write(dist / "METADATA", "Metadata-Version: 2.1\nName: fireline-engine-test-actions\nVersion: 1.0\n")
    write(dist / "entry_points.txt", ENTRY_POINTS)
    sys.path.insert(0, str(site))
    caches = (registry._plugins, registry.get_action, schemas.action_schema, schemas.action_validator,
              schemas._fast_action)
    for cached in caches:
        cached.cache_clear()
    try:
        module = __import__(MODULE)
        yield module
    finally:
        sys.modules[MODULE].RELEASE.set()
        sys.path.remove(str(site))
        sys.modules.pop(MODULE, None)
        for cached in caches:
            cached.cache_clear()
