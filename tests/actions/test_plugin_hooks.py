"""A step type is one module: a plugin action installed through the `fireline.actions` entry point group says
everything about itself (shell text, a person doing it, read_only, its connection type, what it judges
itself, what may not be templated, its parameter and result schemas), and validation, dry-run, the run, the
approval screen and a game-day probe all follow what it says, with no other file touched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.actions import registry
from runner.gameday.probes import run_check
from runner.secrets import Redactor
from runner.testing import StaticConnections
from tests.actions.test_plugins import installed
from tests.conftest import write

PLUGIN = '''
import subprocess

from runner.actions.base import BaseAction, Outcome, Plan, Verdict
from runner.errors import ActionError
from runner.templating import evaluate


class Greet(BaseAction):
    """Runs a shell script that prints a name, and greets it with the X-Greeting header of a webhook connection."""

    name = "example.greet"
    mutates = True
    shell_text_params = ("script",)
    waits_for_person = True
    accepts_read_only = True
    connection_types = ("webhook",)
    deferred_params = ("expect.that",)
    untemplated_params = {"label": "a label"}
    params_schema = {
        "type": "object", "additionalProperties": False, "required": ["connection", "script"],
        "properties": {
            "connection": {"type": "string"},
            "script": {"type": "string"},
            "label": {"type": "string"},
            "expect": {"type": "object", "additionalProperties": False, "properties": {"that": {"type": "string"}}},
        },
    }
    result_schema = {
        "type": "object", "additionalProperties": False,
        "properties": {"name": {"type": "string"}, "text": {"type": "string"}},
    }

    def plan(self, params, ctx):
        greeting = ctx.connection(params["connection"], "example")["headers"]["X-Greeting"]
        return Plan(Verdict.WOULD_CHANGE, f"would greet with {greeting!r}", (f"$ {params['script']}",))

    def run(self, params, ctx):
        greeting = ctx.connection(params["connection"], "example")["headers"]["X-Greeting"]
        done = subprocess.run(["/bin/sh", "-c", params["script"]], capture_output=True, text=True, check=True)
        result = {"name": done.stdout, "text": f"{greeting}, {done.stdout}"}
        that = (params.get("expect") or {}).get("that")
        if that is not None and not evaluate(that, {"value": result["text"], "result": result}):
            raise ActionError(f"expectation failed: {that} (value {result['text']!r})")
        return Outcome(result, summary=result["text"])
'''

HEADER = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: greet}
inputs:
  name: {type: string, required: true}
connections:
  hall: {type: webhook, url: "http://127.0.0.1:9", headers: {X-Greeting: Hello}}
  web: {type: http, url: "http://127.0.0.1:9"}
steps:
"""
STEP = """\
  - id: greet
    action: example.greet
    read_only: true
    with:
      connection: hall
      script: printf %s {{ inputs.name }}
      label: front door
      expect: {that: "{{ value == 'Hello, ' ~ result.name and result.name | length > 2 }}"}
    outputs: {text: "{{ result.text }}"}
"""


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)  # where an injected `touch` would land
    entry = "example.greet = fireline_greet_plugin:Greet\n"
    clear = (registry.traits.cache_clear, registry.family_connection_types.cache_clear)
    for forget in clear:
        forget()
    with installed(tmp_path / "site", "fireline-greet-plugin", "fireline_greet_plugin", PLUGIN, entry):
        yield
    for forget in clear:
        forget()


def _runbook(tmp_path: Path, step: str = STEP) -> str:
    return str(write(tmp_path / "greet.yaml", HEADER + step))


def test_validation_follows_what_the_plugin_declares(plugin: None, tmp_path: Path, cli) -> None:
    good = cli("validate", _runbook(tmp_path))
    # read_only accepted, `value`/`result` allowed in the deferred expect.that, result.text a declared field
    assert good.code == 0, good.out

    broken = (
        STEP.replace("connection: hall", "connection: web")
        .replace("printf %s {{ inputs.name }}", "echo '{{ inputs.name }}'")
        .replace("label: front door", "label: '{{ inputs.name }}'")
        .replace("result.text", "result.txt")
        .replace("expect:", "expekt:")
    )
    result = cli("validate", _runbook(tmp_path, broken))
    assert result.code == 1
    out = result.out
    assert "connection 'web' is of type http, example.greet needs webhook" in out  # connection_types
    assert "with.script" in out and "single quotes" in out  # shell_text_params
    assert "templates are not allowed in a label" in out  # untemplated_params
    assert "the result of example.greet has no field 'txt'" in out and "did you mean 'text'" in out  # result_schema
    assert "unknown field 'expekt'" in out  # params_schema


def test_a_builtin_that_does_not_accept_read_only_is_refused(plugin: None, tmp_path: Path, cli) -> None:
    sleep = "  - {id: nap, action: control.sleep, read_only: true, with: {duration: 1ms}}\n"
    result = cli("validate", _runbook(tmp_path, sleep))
    assert result.code == 1 and "read_only does not apply to control.sleep" in result.out


def test_a_person_confirms_before_it_runs_even_when_read_only(plugin: None, tmp_path: Path, cli) -> None:
    path = _runbook(tmp_path)
    paused = cli("run", path, "-i", "name=Ann", "--output", "plain")
    assert paused.code == 3, paused.out  # waits_for_person: gated although read_only makes it non-mutating
    assert "what to do: would greet with 'Hello'" in paused.out
    assert "$ printf %s 'Ann'" not in paused.out  # the plan shows the script as rendered for the shell
    assert "$ printf %s Ann" in paused.out


def test_run_quotes_shell_text_and_leaves_expect_that_to_the_action(plugin: None, tmp_path: Path, cli) -> None:
    path = _runbook(tmp_path)
    hostile = "Ann; touch pwned"
    ran = cli("run", path, "-i", f"name={hostile}", "--approve", "greet", "--reason", "test", "--output", "json")
    assert ran.code == 0, ran.out
    step = ran.json()["steps"][0]
    assert step["summary"] == f"Hello, {hostile}"
    assert step["outputs"] == {"text": f"Hello, {hostile}"}
    assert not (tmp_path / "pwned").exists()

    # The action judged `that` against what it read: a name of two letters fails it.
    failed = cli("run", path, "-i", "name=Al", "--approve", "greet", "--reason", "test", "--output", "plain")
    assert failed.code == 1 and "expectation failed" in failed.out


def test_plan_asks_the_plugin_instead_of_running_it(plugin: None, tmp_path: Path, cli) -> None:
    planned = cli("plan", _runbook(tmp_path), "-i", "name=Ann; touch pwned", "--output", "plain")
    assert planned.code == 0, planned.out
    assert "would greet with 'Hello'" in planned.out
    assert not (tmp_path / "pwned").exists()


def test_a_game_day_probe_renders_and_connects_as_the_plugin_declares(plugin: None, tmp_path: Path) -> None:
    params = {
        "connection": "hall",
        "script": "printf %s {{ gameday.who }}",
        "expect": {"that": "{{ value == 'Hi, ' ~ result.name }}"},
    }
    connections = StaticConnections(
        {"hall": {"type": "webhook", "headers": {"X-Greeting": "Hi"}}, "web": {"type": "http"}}
    )
    context = {"gameday": {"who": "Bo; touch pwned"}}
    probe = run_check("p", "example.greet", params, 10.0, connections, context, Redactor())
    assert probe.ok and probe.detail == "Hi, Bo; touch pwned", probe
    assert not (tmp_path / "pwned").exists()

    wrong = run_check("p", "example.greet", {**params, "connection": "web"}, 10.0, connections, context, Redactor())
    assert not wrong.ok and "connection 'web' is of type http; this step needs webhook" in wrong.detail


def test_built_in_families_answer_without_listing_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Listing installed plugins costs ~25 ms of every `fireline validate`: built-in families never need it,
    also for a game-day fault that is not an action (postgres.lock_table)."""
    for forget in (registry.traits.cache_clear, registry.family_connection_types.cache_clear):
        forget()

    def no_listing() -> dict[str, object]:
        raise AssertionError("plugins were listed")

    monkeypatch.setattr(registry, "_plugins", no_listing)
    assert registry.connection_types("flags") == ("unleash", "flagd")
    assert registry.traits("postgres.lock_table").connection_types == ()
    assert registry.traits("shell.run").shell_text_params == ("command",)
    for forget in (registry.traits.cache_clear, registry.family_connection_types.cache_clear):
        forget()
