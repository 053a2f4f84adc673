"""An action from another distribution, registered through the `fireline.actions` entry point group the
way a real plugin package is installed: its schema validates runbooks and the engine runs it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.actions import registry
from runner.spec import schemas
from tests.conftest import write

PLUGIN = '''
from runner.actions.base import BaseAction, Outcome


class Echo(BaseAction):
    name = "example.echo"
    params_schema = {
        "type": "object", "additionalProperties": False, "required": ["message"],
        "properties": {"message": {"type": "string"}, "times": {"type": "integer", "minimum": 1}},
    }

    def run(self, params, ctx):
        text = " ".join([params["message"]] * params.get("times", 1))
        ctx.log(text)
        return Outcome({"text": text}, summary=text, changed=False)
'''


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[None]:
    site = tmp_path / "site"
    write(site / "fireline_example_plugin.py", PLUGIN)
    dist = site / "fireline_example_plugin-1.0.dist-info"
    write(dist / "METADATA", "Metadata-Version: 2.1\nName: fireline-example-plugin\nVersion: 1.0\n")
    write(dist / "entry_points.txt", "[fireline.actions]\nexample.echo = fireline_example_plugin:Echo\n")
    sys.path.insert(0, str(site))
    caches = (registry._plugins, registry.get_action, schemas.action_schema, schemas.action_validator,
              schemas._fast_action)
    for cached in caches:
        cached.cache_clear()
    try:
        yield
    finally:
        sys.path.remove(str(site))
        sys.modules.pop("fireline_example_plugin", None)
        for cached in caches:
            cached.cache_clear()


def test_plugin_action_is_validated_and_runs(plugin: None, tmp_path: Path, cli) -> None:
    header = "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: plug}\nsteps:\n"
    bad = write(tmp_path / "bad.yaml", header + "  - {id: say, action: example.echo, with: {mesage: hi}}\n")
    result = cli("validate", str(bad))
    assert result.code == 1 and "unknown field 'mesage'" in result.out and "did you mean 'message'" in result.out
    step = "  - {id: say, action: example.echo, with: {message: hi, times: 2}}\n"
    good = write(tmp_path / "good.yaml", header + step)
    run = cli("run", str(good), "--output", "json")
    assert run.code == 0
    assert run.json()["steps"][0]["summary"] == "hi hi"
