"""Chaos Toolkit experiments mapped to game days: what each part of an experiment becomes, what is said
about what cannot be imported (with its JSON path), and that every scenario written validates."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.document.diagnostics import DocumentInvalid
from runner.document.gameday import check_gameday
from runner.document.yamlsource import load_text
from runner.importers.chaostoolkit import Imported, Level, import_file
from runner.importers.yamlwriter import dump
from tests.conftest import write

EXPERIMENTS = Path(__file__).resolve().parent / "experiments"


def scenario_text(imported: Imported) -> str:
    return dump(imported.document, imported.comments, (), imported.trailer)


def assert_validates(imported: Imported) -> dict[str, Any]:
    text = scenario_text(imported)
    problems = check_gameday(load_text(text.encode(), "imported.yaml"))
    assert problems == [], "\n".join(p.render() for p in problems) + "\n" + text
    data = yaml.safe_load(text)
    assert data == imported.document
    return dict(data)


def warnings(imported: Imported) -> list[tuple[str, str]]:
    return [(f.path, f.message) for f in imported.warnings]


def experiment(tmp_path: Path, doc: dict[str, Any], name: str = "experiment.json") -> Imported:
    return import_file(write(tmp_path / name, json.dumps(doc)))


def http_probe(name: str = "up", tolerance: Any = 200, **provider: Any) -> dict[str, Any]:
    return {"type": "probe", "name": name, "tolerance": tolerance,
            "provider": {"type": "http", "url": "http://127.0.0.1:8080/health", **provider}}


def process(kind: str, name: str, path: str, *arguments: Any, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "name": name, "provider": {"type": "process", "path": path, "arguments": list(arguments)},
            **extra}


def base(**parts: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "title": "An experiment",
        "description": "For the tests.",
        "steady-state-hypothesis": {"title": "It answers", "probes": [http_probe()]},
        "method": [process("action", "break", "touch", "/tmp/broken")],
        "rollbacks": [process("action", "fix", "rm", "-f", "/tmp/broken")],
    }
    doc.update(parts)
    return doc


# -- the experiments written for the tests --------------------------------------------------------------------


def test_getting_started_experiment_imports_without_warnings() -> None:
    imported = import_file(EXPERIMENTS / "service-file-missing.json")
    assert imported.warnings == ()
    data = assert_validates(imported)
    assert data["metadata"] == {
        "name": "what-is-the-impact-of-a-missing-data-file-on-our-service",
        "title": "What is the impact of a missing data file on our service?",
        "description": "The service reads its data file on every request. If the file goes away, the service "
                       "should answer with an error until the file is back, and recover as soon as it is.",
        "hypothesis": "The service answers with exchange rates",
        "tags": ["service", "filesystem"],
    }
    assert data["inputs"]["service_url"] == {"type": "string", "default": "http://127.0.0.1:8080"}
    health, exists = data["steady_state"]["probes"]
    assert health == {"id": "service-is-healthy", "probe": "http.get",
                      "with": {"url": "{{ inputs.service_url }}/rates", "timeout": "3s"},
                      "expect": {"status": 200}, "timeout": "3s"}
    assert exists == {"id": "data-file-exists", "probe": "shell.run",
                      "with": {"argv": ["test", "-f", "{{ inputs.data_file }}"], "expect_exit": [0]}}
    assert data["faults"] == [{
        "id": "move-data-file-away",
        "action": "shell.run",
        "with": {"argv": ["mv", "{{ inputs.data_file }}", "{{ inputs.moved_file }}"]},
        "revert": {"argv": ["mv", "{{ inputs.moved_file }}", "{{ inputs.data_file }}"]},
        "duration": "2s",
    }]
    assert data["detection"] == [{"steady_state_violated": True}]
    assert data["response"] == {"mode": "manual"}
    assert "objectives" not in data
    text = scenario_text(imported)
    assert "# Chaos Toolkit contributions: reliability high, availability high" in text
    assert "# Reverted by the rollback 'restore-data-file' ($.rollbacks[0])." in text


def test_objectives_are_placeholders_without_numbers() -> None:
    imported = import_file(EXPERIMENTS / "service-file-missing.json")
    text = scenario_text(imported)
    tail = text[text.index("PLACEHOLDER objectives"):]
    for name in ("time_to_detect", "time_to_acknowledge", "time_to_mitigate", "time_to_recover"):
        assert re.search(rf"^#   {name}:$", tail, re.M), tail  # commented, and no value
    assert not re.search(r"^# .*\d+(ms|s|m|h)\b", tail.replace("(e.g. 30s, 2m)", ""), re.M)
    assert any("objectives are left as commented placeholders" in f.message for f in imported.notes)


def test_kubernetes_pod_termination() -> None:
    imported = import_file(EXPERIMENTS / "checkout-pods-terminated.json")
    assert imported.warnings == ()
    data = assert_validates(imported)
    assert data["connections"] == {"cluster": {"type": "kubernetes"}}
    assert data["inputs"]["checkout_url"] == {
        "type": "string", "required": True,
        "description": 'Chaos Toolkit read it from $CHECKOUT_URL: pass -i checkout_url="$CHECKOUT_URL"'}
    assert [f.path for f in imported.notes if "CHECKOUT_URL" in f.message] == ["$.configuration.checkout_url"]
    health, available = data["steady_state"]["probes"]
    assert health["with"] == {"url": "{{ inputs.checkout_url }}/health", "timeout": "3s"}  # (connect, read)
    assert available == {"id": "checkout-available", "probe": "kubernetes",
                         "with": {"connection": "cluster", "namespace": "{{ inputs.namespace }}",
                                  "deployment": "checkout", "condition": "ready"}}
    assert data["faults"] == [{"id": "terminate-checkout-pods", "action": "kubernetes.delete_pods",
                               "with": {"connection": "cluster", "namespace": "{{ inputs.namespace }}",
                                        "selector": "app=checkout"},
                               "duration": "1s"}]


def test_yaml_experiment_with_configuration_and_env_secrets() -> None:
    imported = import_file(EXPERIMENTS / "payments-config-secrets.yaml")
    assert imported.warnings == ()
    data = assert_validates(imported)
    assert data["inputs"] == {
        "api_url": {"type": "string", "default": "http://127.0.0.1:9000",
                    "description": 'Chaos Toolkit read it from $PAYMENTS_API_URL: pass -i api_url="$PAYMENTS_API_URL"'},
        "retries": {"type": "integer", "default": 3,
                    "description": 'Chaos Toolkit read it from $PAYMENTS_RETRIES: pass -i retries="$PAYMENTS_RETRIES"'},
        "cache_host": {"type": "string", "default": "cache.internal"},
        "flush_wait": {"type": "integer", "default": 5},
    }
    assert data["secrets"] == {"api_token": {"from": "env", "name": "PAYMENTS_API_TOKEN"},
                               "cache_password": {"from": "env", "name": "CACHE_PASSWORD"}}
    ok, database = data["steady_state"]["probes"]
    assert ok["with"]["headers"] == {"Authorization": "Bearer {{ secrets.api_token }}"}
    assert ok["expect"] == {"status": [200, 204]}
    assert database["expect"] == {"json": {"checks.database": "up"}}
    (fault,) = data["faults"]
    assert fault["with"]["argv"] == ["redis-cli", "-h", "{{ inputs.cache_host }}", "-a",
                                     "{{ secrets.cache_password }}", "FLUSHALL"]
    assert fault["revert"]["argv"][:3] == ["payments-cache-warmer", "--retries", "{{ inputs.retries }}"]
    assert fault["duration"] == "5s"  # pauses.after: ${flush_wait}, from the configuration


def test_python_provider_is_a_named_placeholder() -> None:
    imported = import_file(EXPERIMENTS / "node-drain-python.json")
    assert warnings(imported) == [
        ("$.steady-state-hypothesis.probes[0].provider",
         "python function orders.probes.orders_accepted_in_last_minute cannot run in fireline: a placeholder "
         "probe was written; replace it"),
        ("$.method[0].provider",
         "the Python function chaosk8s.node.actions.drain_nodes has no fireline fault: a placeholder fault was "
         "written; replace it"),
        ("$.rollbacks[0]",
         "this rollback (python function chaosk8s.node.actions.uncordon_node) has no fireline equivalent: not run"),
    ]
    data = assert_validates(imported)
    (probe,) = data["steady_state"]["probes"]
    assert probe["id"] == "placeholder-orders-accepted"
    assert "orders.probes.orders_accepted_in_last_minute" in probe["with"]["argv"][-1]
    text = scenario_text(imported)
    assert "# PLACEHOLDER: Chaos Toolkit ran the Python function orders.probes.orders_accepted_in_last_minute" in text
    assert "# PLACEHOLDER: Chaos Toolkit ran the Python function chaosk8s.node.actions.drain_nodes" in text


# -- the mapping, part by part ----------------------------------------------------------------------------------


def test_rollbacks_pair_in_order_or_not_at_all(tmp_path: Path) -> None:
    paired = experiment(tmp_path, base(
        method=[process("action", "a", "touch", "/tmp/a"), process("action", "b", "touch", "/tmp/b")],
        rollbacks=[process("action", "undo-a", "rm", "/tmp/a"), process("action", "undo-b", "rm", "/tmp/b")]))
    assert paired.warnings == ()
    assert [f["revert"] for f in assert_validates(paired)["faults"]] == [{"argv": ["rm", "/tmp/a"]},
                                                                        {"argv": ["rm", "/tmp/b"]}]

    ambiguous = experiment(tmp_path, base(
        method=[process("action", "a", "touch", "/tmp/a"), process("action", "b", "touch", "/tmp/b")],
        rollbacks=[process("action", "undo", "rm", "/tmp/a", "/tmp/b")]))
    assert [path for path, _ in warnings(ambiguous)] == ["$.rollbacks[0]", "$.method[0]", "$.method[1]"]
    assert "1 process rollback(s) for 2 process action(s)" in warnings(ambiguous)[0][1]
    faults = assert_validates(ambiguous)["faults"]
    assert faults[0]["revert"] == {"argv": ["echo", "fault a has no revert: Chaos Toolkit ran no rollback paired "
                                            "with its action"]}


def test_pauses_become_durations(tmp_path: Path) -> None:
    imported = experiment(tmp_path, base(
        method=[
            process("action", "a", "touch", "/tmp/a", pauses={"after": 5}),
            {**http_probe("look"), "pauses": {"before": 1, "after": 2}},
            process("action", "b", "touch", "/tmp/b", pauses={"before": 3, "after": 0.5}),
        ],
        rollbacks=[process("action", "undo-a", "rm", "/tmp/a"), process("action", "undo-b", "rm", "/tmp/b")]))
    faults = assert_validates(imported)["faults"]
    # Rolled back together after the method: a stays for everything after it, b for its own pause.
    assert [f["duration"] for f in faults] == ["11500ms", "500ms"]
    assert warnings(imported) == [
        ("$.method[1]", "a probe in the method is not run: fireline watches the steady-state probes throughout"),
        ("$.method[2].pauses", "injected with the first fault, not 11s after it: fireline injects every fault at "
                               "the start"),
    ]


def test_no_pause_means_no_duration_and_says_so(tmp_path: Path) -> None:
    imported = experiment(tmp_path, base())
    assert "duration" not in assert_validates(imported)["faults"][0]
    assert "# No duration: Chaos Toolkit undid it right after the method" in scenario_text(imported)
    assert any(f.path == "$.method[0]" and "add duration:" in f.message for f in imported.notes)


def test_tolerances(tmp_path: Path) -> None:
    imported = experiment(tmp_path, base(**{"steady-state-hypothesis": {"title": "t", "probes": [
        http_probe("codes", [200, 301]),
        http_probe("text", {"type": "regex", "pattern": "ok\\.", "target": "body"}),
        http_probe("regex", {"type": "regex", "pattern": "^ok$", "target": "body"}),
        http_probe("deep", {"type": "jsonpath", "path": "$.items[*].status", "expect": "up", "target": "body"}),
        http_probe("range", {"type": "range", "range": [1, 5]}),
        {**process("probe", "exit", "check", "--quiet"), "tolerance": [0, 3]},
        {**process("probe", "stdout", "check"), "tolerance": {"type": "regex", "pattern": "ok", "target": "stdout"}},
    ]}}))
    probes = assert_validates(imported)["steady_state"]["probes"]
    assert [p.get("expect") for p in probes[:5]] == [{"status": [200, 301]}, {"body_contains": "ok."}, None, None,
                                                     None]
    assert probes[5]["with"]["expect_exit"] == [0, 3] and probes[6]["with"]["expect_exit"] == [0]
    assert [path for path, _ in warnings(imported)] == [
        "$.steady-state-hypothesis.probes[2].tolerance",
        "$.steady-state-hypothesis.probes[3].tolerance",
        "$.steady-state-hypothesis.probes[4].tolerance",
        "$.steady-state-hypothesis.probes[6].tolerance",
    ]


def test_shell_command_lines(tmp_path: Path) -> None:
    """Chaos Toolkit runs string arguments through a shell. Plain words become argv; a real shell line stays
    one, its substitutions passed as environment variables (a value never becomes shell syntax)."""
    imported = experiment(tmp_path, base(
        configuration={"target": "/var/run/app.pid", "signal": "TERM"},
        method=[process("action", "plain", "kill", "-s", "${signal}", "--", "1"),
                {"type": "action", "name": "words", "provider": {"type": "process", "path": "pkill",
                                                                  "arguments": "-${signal} -f 'my app'"}},
                {"type": "action", "name": "line", "provider": {"type": "process", "path": "sh",
                                                                 "arguments": "-c 'kill $(cat ${target})' > $HOME/x"}}],
        rollbacks=[]))
    faults = assert_validates(imported)["faults"]
    assert faults[0]["with"] == {"argv": ["kill", "-s", "{{ inputs.signal }}", "--", "1"]}
    assert faults[1]["with"] == {"argv": ["pkill", "-{{ inputs.signal }}", "-f", "my app"]}
    assert faults[2]["with"] == {"argv": ["/bin/sh", "-c", "sh -c 'kill $(cat ${target})' > $HOME/x"],
                                 "env": {"target": "{{ inputs.target }}"}}
    assert "$.method[2].provider.arguments" in [path for path, _ in warnings(imported)]


def test_a_shell_line_runs_as_written_and_its_values_stay_values(tmp_path: Path) -> None:
    """The imported shell line, run by the real shell.run action with hostile configuration values: the
    values arrive as data, literal braces stay literal, and nothing else runs."""
    from runner.actions.base import ActionContext
    from runner.actions.registry import get_action
    from runner.templating import render_params
    from runner.testing import StaticConnections

    out = tmp_path / "out.txt"
    imported = experiment(tmp_path, base(
        configuration={"bin": "/bin", "word": "$(touch pwned); {{x}} 'q\""},
        method=[{"type": "action", "name": "line", "provider": {
            "type": "process", "path": "${bin}/echo", "arguments": f"'{{{{kept}}}}' ${{word}} > {out}"}}],
        rollbacks=[]))
    fault = assert_validates(imported)["faults"][0]
    inputs = {"bin": "/bin", "word": "$(touch pwned); {{x}} 'q\""}
    params = render_params("shell.run", fault["with"], {"inputs": inputs, "secrets": {}})
    get_action("shell.run").run(params, ActionContext("t", StaticConnections({})))
    assert out.read_text() == "{{kept}} $(touch pwned); {{x}} 'q\"\n"
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_chaostoolkit_kubernetes_actions(tmp_path: Path) -> None:
    def k8s(func: str, module: str = "chaosk8s.deployment.actions", **arguments: Any) -> dict[str, Any]:
        return {"type": "action", "name": func,
                "provider": {"type": "python", "module": module, "func": func, "arguments": arguments}}

    imported = experiment(tmp_path, base(
        method=[k8s("scale_deployment", name="api", replicas=1, ns="shop"),
                k8s("delete_deployment", name="worker", ns="shop"),
                k8s("rollout_deployment", name="web"),
                k8s("terminate_pods", "chaosk8s.pod.actions", label_selector="app=web", qty=2, rand=True,
                    grace_period=0, ns="shop")],
        rollbacks=[k8s("scale_deployment", name="api", replicas=3, ns="shop"),
                   k8s("create_deployment", spec_path="worker.json", ns="shop")]))
    assert imported.warnings == ()
    faults = assert_validates(imported)["faults"]
    assert [(f["action"], {k: v for k, v in f["with"].items() if k != "connection"}) for f in faults] == [
        ("kubernetes.scale", {"namespace": "shop", "deployment": "api", "replicas": 1}),
        ("kubernetes.scale", {"namespace": "shop", "deployment": "worker", "replicas": 0}),
        ("kubernetes.rollout_restart", {"namespace": "default", "deployment": "web"}),
        ("kubernetes.delete_pods", {"namespace": "shop", "selector": "app=web", "count": 2, "pick": "random",
                                    "grace_period": 0}),
    ]
    notes = [(f.path, f.message) for f in imported.notes]
    assert ("$.rollbacks[0]", "chaosk8s.deployment.actions.scale_deployment is not needed: fireline's Kubernetes "
                              "faults revert themselves") in notes
    assert any(path == "$.method[1].provider.arguments" and "scaling it to zero" in m for path, m in notes)


def test_secret_values_are_never_copied(tmp_path: Path) -> None:
    imported = experiment(tmp_path, base(
        secrets={"db": {"password": "hunter2-very-secret", "token": {"type": "vault", "path": "secret/app"}}},
        method=[process("action", "login", "psql", "--password=${password}", "--token=${token}")]))
    text = scenario_text(imported)
    assert "hunter2-very-secret" not in text and "secret/app" not in text
    data = assert_validates(imported)
    assert data["secrets"] == {"password": {"from": "env", "name": "PASSWORD"},
                               "token": {"from": "env", "name": "TOKEN"}}
    assert data["faults"][0]["with"]["argv"][1:] == ["--password={{ secrets.password }}", "--token={{ secrets.token }}"]
    assert [path for path, _ in warnings(imported)][:2] == ["$.secrets.db.password", "$.secrets.db.token"]
    assert "hunter2" not in " ".join(f.render() for f in imported.findings)


def test_runtime_controls_refs_and_unknown_fields(tmp_path: Path) -> None:
    imported = experiment(tmp_path, base(
        runtime={"hypothesis": {"strategy": "continuously", "freq": 2}, "rollbacks": {"strategy": "never"}},
        controls=[{"name": "tracing", "provider": {"type": "python", "module": "chaostracing.control"}}],
        method=[{"ref": "break-it"}],
        rollbacks=[process("action", "break-it", "touch", "/tmp/x", timeout=5)],
        extra_field=1))
    data = assert_validates(imported)
    assert data["steady_state"]["interval"] == "2s"
    assert data["faults"][0]["with"] == {"argv": ["touch", "/tmp/x"]}  # the ref, resolved
    paths = [path for path, _ in warnings(imported)]
    assert "$.runtime.rollbacks.strategy" in paths and "$.controls" in paths and "$.extra_field" in paths
    assert "$.method[0].timeout" in paths  # the activity's own timeout, reached through the ref


def test_nothing_to_inject_or_watch_gets_placeholders(tmp_path: Path) -> None:
    imported = experiment(tmp_path, {"title": "Only a look", "description": "d", "method": []})
    data = assert_validates(imported)
    assert data["faults"][0]["id"].startswith("placeholder-")
    assert data["steady_state"]["probes"][0]["id"].startswith("placeholder-")
    assert [path for path, _ in warnings(imported)] == ["$.steady-state-hypothesis", "$.method"]


def test_level_names() -> None:
    assert [level.value for level in Level] == ["warning", "note"]


# -- hostile experiments ----------------------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=12), st.sampled_from(["${namespace}", "$$", "${nope}", "{{ x }}", "env", "process",
                                                     "python", "http", "probe", "action", "regex", "jsonpath"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [at]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*at, index))
    return out


def _replaced(value: Any, at: tuple[Any, ...], new: Any) -> Any:
    if not at:
        return new
    head, rest = at[0], at[1:]
    if isinstance(value, dict):
        return {k: (_replaced(v, rest, new) if k == head else v) for k, v in value.items()}
    return [(_replaced(v, rest, new) if i == head else v) for i, v in enumerate(value)]


SOURCES = [json.loads((EXPERIMENTS / name).read_text()) for name in
           ("service-file-missing.json", "checkout-pods-terminated.json", "node-drain-python.json")]
SOURCES.append(yaml.safe_load((EXPERIMENTS / "payments-config-secrets.yaml").read_text()))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(SOURCES), st.data())
def test_any_damage_is_an_error_or_a_scenario_that_validates(tmp_path: Path, source: dict[str, Any],
                                                             data: st.DataObject) -> None:
    """Real experiments with a value anywhere replaced by any JSON value: never a bug, and whatever is
    written validates."""
    doc = source
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.sampled_from(_paths(doc)[1:]))
        doc = _replaced(doc, at, data.draw(json_values))
    try:
        imported = experiment(tmp_path, doc)
    except DocumentInvalid:
        return
    assert_validates(imported)
