"""Every action's result has the shape it declares (runner/actions/results.py).

The suite runs with FIRELINE_CHECK_RESULTS=1 (tests/conftest.py), so every test that runs a built-in action
against a real server also proves that action's actual result conforms to its declaration; this file proves
that every built-in has one, and that the switch really stops a run whose action breaks its word.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from runner.actions import registry, results
from tests.actions.test_plugins import installed
from tests.command import FIRELINE
from tests.conftest import write

# Fields the step itself names (kubernetes.get's `with.fields`, control.set's `with.values`): only these
# are left open.
OPEN_BY_DESIGN = {"kubernetes.get", "control.set"}


@pytest.mark.parametrize("name", sorted(registry.BUILTIN))
def test_every_built_in_action_declares_the_shape_of_its_result(name: str) -> None:
    schema = registry.traits(name).result_schema
    assert schema is not None, f"{name} declares no result shape (x-fireline.result in its schema fragment)"
    Draft202012Validator.check_schema(dict(schema))
    assert schema.get("type") == "object"
    if name not in OPEN_BY_DESIGN:
        assert schema.get("properties") and schema.get("additionalProperties") is False


def test_the_suite_checks_every_result_it_sees() -> None:
    assert os.environ.get(results.ENV_SWITCH) == "1" and results.CHECK_RESULTS


PLUGIN = """
from runner.actions.base import BaseAction, Outcome


class Liar(BaseAction):
    name = "example.liar"
    params_schema = {"type": "object", "additionalProperties": False, "properties": {"count": {"type": "integer"}}}
    result_schema = {
        "type": "object", "additionalProperties": False, "required": ["count"],
        "properties": {"count": {"type": "integer"}},
    }

    def run(self, params, ctx):
        return Outcome({"count": str(params.get("count", 1))}, summary="counted", changed=False)


class Vague(BaseAction):
    name = "example.vague"
    params_schema = {"type": "object"}

    def run(self, params, ctx):
        return Outcome({"anything": [1, "two"]}, summary="said something", changed=False)
"""
ENTRY = "example.liar = fireline_liar_plugin:Liar\nexample.vague = fireline_liar_plugin:Vague\n"
RUNBOOK = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: liar}
steps:
  - {id: count, action: %s, with: {}}
"""


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    with installed(tmp_path / "site", "fireline-liar-plugin", "fireline_liar_plugin", PLUGIN, ENTRY):
        yield tmp_path / "site"


def _run(runbook: Path, site: Path, tmp_path: Path, check: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != results.ENV_SWITCH}
    env.update(PYTHONPATH=os.pathsep.join([str(site), *sys.path]), FIRELINE_HOME=str(tmp_path / "home"))
    if check:
        env[results.ENV_SWITCH] = "1"
    return subprocess.run([*FIRELINE, "run", str(runbook)], capture_output=True, text=True, env=env, timeout=120)


def test_with_the_switch_a_result_that_breaks_its_declared_shape_stops_the_run_loudly(
    site: Path, tmp_path: Path
) -> None:
    runbook = write(tmp_path / "liar.yaml", RUNBOOK % "example.liar")
    checked = _run(runbook, site, tmp_path, check=True)
    assert checked.returncode == 4, checked.stdout + checked.stderr
    assert "internal error" in checked.stderr
    assert "the result of example.liar does not match its declared shape: count: '1' is not of type 'integer'" in (
        checked.stderr
    )
    # Off (the default), nothing is checked: the run goes on as before.
    unchecked = _run(runbook, site, tmp_path, check=False)
    assert unchecked.returncode == 0, unchecked.stdout + unchecked.stderr


def test_a_plugin_that_declares_no_result_shape_is_not_checked(site: Path, tmp_path: Path, cli: Any) -> None:
    runbook = write(tmp_path / "vague.yaml", RUNBOOK % "example.vague")
    assert results.CHECK_RESULTS
    run = cli("run", str(runbook))
    assert run.code == 0, run.out + run.err
    # Nor are templates reading its result judged when validating.
    step = "  - {id: say, action: example.vague, outputs: {x: '{{ result.whatever.deeper }}'}}\n"
    valid = cli("validate", str(write(tmp_path / "reads.yaml", (RUNBOOK % "example.vague") + step)))
    assert valid.code == 0, valid.out
