"""An action from another distribution, registered through the `fireline.actions` entry point group the
way a real plugin package is installed: its schema validates runbooks and the engine runs it."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.actions import registry
from runner.document import schemas
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


def _fresh_caches() -> None:
    for cached in (registry._plugins, registry.get_action, schemas.action_schema, schemas.action_validator,
                   schemas._fast_action):
        cached.cache_clear()


@contextlib.contextmanager
def installed(site: Path, dist: str, module: str, source: str, entry_points: str) -> Iterator[None]:
    """A distribution as pip would leave it: the module and a dist-info with entry points, on sys.path."""
    write(site / f"{module}.py", source)
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    write(info / "METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    write(info / "entry_points.txt", "[fireline.actions]\n" + entry_points)
    sys.path.insert(0, str(site))
    _fresh_caches()
    try:
        yield
    finally:
        sys.path.remove(str(site))
        sys.modules.pop(module, None)
        _fresh_caches()


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[None]:
    entry = "example.echo = fireline_example_plugin:Echo\n"
    with installed(tmp_path / "site", "fireline-example-plugin", "fireline_example_plugin", PLUGIN, entry):
        yield


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


BROKEN = """
from runner.actions.base import BaseAction, Outcome


class Unchecked(BaseAction):
    name = "broken.unchecked"

    def run(self, params, ctx):
        return Outcome({}, summary="ran without any check")
"""

BROKEN_ENTRY_POINTS = """\
broken.missing_class = fireline_broken_plugin:Renamed
broken.missing_module = fireline_broken_plugin_gone:Echo
broken.unchecked = fireline_broken_plugin:Unchecked
"""


@pytest.mark.parametrize(
    ("action", "says"),
    [
        ("broken.missing_class", "names something its module does not have"),
        ("broken.missing_module", "cannot be imported"),
        ("broken.unchecked", "declares no parameter schema"),
    ],
)
def test_a_broken_plugin_is_a_clear_error_naming_it(tmp_path: Path, cli, action: str, says: str) -> None:
    path = write(
        tmp_path / "rb.yaml",
        "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: plug}\nsteps:\n"
        f"  - {{id: use, action: {action}, with: {{x: 1}}}}\n",
    )
    site = tmp_path / "site"
    with installed(site, "fireline-broken-plugin", "fireline_broken_plugin", BROKEN, BROKEN_ENTRY_POINTS):
        for command in (["validate", str(path)], ["run", str(path), "--output", "plain"]):
            result = cli(*command)
            assert result.code == 2, (command, result)
            message = result.out + result.err
            assert f"action '{action}'" in message and "fireline-broken-plugin 1.0" in message, message
            assert says in message
            assert "internal error" not in message and "Traceback" not in message
