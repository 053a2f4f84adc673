"""`fireline import chaostoolkit` as a user meets it: where the scenario goes, what is said on stderr, exit
codes, files never half-written or overwritten by surprise — and the imported scenarios run as game days:
the getting-started one against a local HTTP service, the pod-termination one against the lab."""

from __future__ import annotations

import http.server
import json
import os
import re
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.lab.demo_service import DemoServiceConfig, check_deployment
from runner.lab.k8s import LabCluster, LabConfig
from tests.conftest import Cli, wait_for, write
from tests.gameday.conftest import GameDayProcess, fireline_argv, journal_events
from tests.gameday.flagfile import environment

CliRunner = Callable[..., Cli]
EXPERIMENTS = Path(__file__).resolve().parents[1] / "importers" / "experiments"
GETTING_STARTED = EXPERIMENTS / "service-file-missing.json"
PODS = EXPERIMENTS / "checkout-pods-terminated.json"
PYTHON = EXPERIMENTS / "node-drain-python.json"


def test_writes_a_valid_scenario(tmp_path: Path, cli: CliRunner) -> None:
    out = tmp_path / "scenario.yaml"
    result = cli("import", "chaostoolkit", str(GETTING_STARTED), "-o", str(out))
    assert result.code == 0, result.err
    assert result.out == ""
    assert "warning:" not in result.err
    assert f"imported {GETTING_STARTED} → {out}: 0 warning(s)" in result.err
    assert "objectives are placeholders to fill in (nothing was made up)" in result.err
    assert "note: $: detection is steady_state_violated and the response is manual" in result.err
    assert yaml.safe_load(out.read_text())["kind"] == "GameDay"
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)  # an ordinary file, not mkstemp's private one
    checked = cli("validate", str(out))
    assert checked.code == 0, checked.out


def test_without_output_the_scenario_goes_to_stdout(cli: CliRunner) -> None:
    result = cli("import", "chaostoolkit", str(PODS))
    assert result.code == 0, result.err
    assert yaml.safe_load(result.out)["faults"][0]["action"] == "kubernetes.delete_pods"
    assert "→ stdout" in result.err and "CHECKOUT_URL" in result.err


def test_warnings_name_the_json_path_and_strict_refuses(tmp_path: Path, cli: CliRunner) -> None:
    out = tmp_path / "drain.yaml"
    lenient = cli("import", "chaostoolkit", str(PYTHON), "-o", str(out))
    assert lenient.code == 0, lenient.err
    assert ("warning: $.steady-state-hypothesis.probes[0].provider: python function "
            "orders.probes.orders_accepted_in_last_minute cannot run in fireline") in lenient.err
    assert "warning: $.method[0].provider: the Python function chaosk8s.node.actions.drain_nodes" in lenient.err
    assert "3 warning(s)" in lenient.err and out.exists()

    out.unlink()
    strict = cli("import", "chaostoolkit", str(PYTHON), "-o", str(out), "--strict")
    assert strict.code == 1
    assert "error: 3 warning(s) with --strict: nothing was written" in strict.err
    assert "$.method[0].provider" in strict.err
    assert not out.exists() and strict.out == ""
    assert list(tmp_path.iterdir()) == []  # no temporary file left either

    clean = cli("import", "chaostoolkit", str(GETTING_STARTED), "-o", str(out), "--strict")
    assert clean.code == 0 and out.exists()


def test_an_existing_output_is_never_overwritten_silently(tmp_path: Path, cli: CliRunner) -> None:
    out = write(tmp_path / "scenario.yaml", "my own work\n")
    refused = cli("import", "chaostoolkit", str(GETTING_STARTED), "-o", str(out))
    assert refused.code == 2
    assert f"error: {out} already exists: nothing was written" in refused.err and "--force" in refused.err
    assert out.read_text() == "my own work\n"

    forced = cli("import", "chaostoolkit", str(GETTING_STARTED), "-o", str(out), "--force")
    assert forced.code == 0, forced.err
    assert yaml.safe_load(out.read_text())["apiVersion"] == "fireline/v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario.yaml"]


def _deep(levels: int) -> str:
    return '{"title": "t", "method": [], "x": ' + "[" * levels + "]" * levels + "}"


@pytest.mark.parametrize(("name", "text", "said"), [
    ("binary.json", b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8"),
    ("notes.txt", "just some notes\nabout the service\n", "top level must be a mapping"),
    ("notes.yaml", "title: [unclosed: here\n", "YAML syntax error"),
    ("list.json", '[{"title": "t", "method": []}]', "top level must be a mapping, not a list"),
    ("no-method.json", '{"title": "t", "description": "d"}', "not a Chaos Toolkit experiment: there is no method"),
    ("scenario.yaml", (Path(__file__).resolve().parents[2] / "scenarios" / "checkout-bad-rollout.yaml").read_text(),
     "this is a fireline game day, not a Chaos Toolkit experiment"),
    ("broken.json", '{"title": "t", "method": [', "invalid JSON"),
    ("deep.json", _deep(100_000), "nest more than"),
    ("wide.json", '{"title": "t", "method": [], "x": [' + ",".join(["1"] * 200_001) + "]}", "more than"),
    ("empty.yaml", "", "file is empty"),
])
def test_not_an_experiment_is_a_clear_error(tmp_path: Path, cli: CliRunner, name: str, text: str | bytes,
                                            said: str) -> None:
    source = tmp_path / name
    if isinstance(text, bytes):
        source.write_bytes(text)
    else:
        source.write_text(text, encoding="utf-8")
    out = tmp_path / "out.yaml"
    result = cli("import", "chaostoolkit", str(source), "-o", str(out))
    assert result.code == 1, result.out + result.err
    assert said in result.err
    assert "Traceback" not in result.err and "internal error" not in result.err
    assert not out.exists()


def test_usage_errors(tmp_path: Path, cli: CliRunner) -> None:
    missing = cli("import", "chaostoolkit", str(tmp_path / "nope.json"))
    assert missing.code == 1 and "cannot read file" in missing.err
    directory = cli("import", "chaostoolkit", str(tmp_path))
    assert directory.code == 2 and "Traceback" not in directory.err
    unknown = cli("import", "gremlin", str(GETTING_STARTED))
    assert unknown.code == 2


# -- imported scenarios, run ----------------------------------------------------------------------------------


class _RatesService:
    """The service of the getting-started experiment: /rates answers 200 with the data file's content while
    the file exists, 503 when it does not."""

    def __init__(self, data_file: Path) -> None:
        def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
            ok = data_file.exists()
            body = data_file.read_bytes() if ok else b'{"error": "no exchange rates"}'
            handler.send_response(200 if ok else 503)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)

        handler = type("Rates", (http.server.BaseHTTPRequestHandler,),
                       {"do_GET": answer, "log_message": lambda *a: None})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> _RatesService:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def rates(tmp_path: Path) -> Iterator[tuple[_RatesService, Path]]:
    data_file = write(tmp_path / "data" / "exchange-rates.json", '{"EUR": 1.0, "USD": 1.08}\n')
    with _RatesService(data_file) as service:
        yield service, data_file


def _metrics(home: Path, gameday_id: str) -> dict[str, dict[str, Any]]:
    finished = [e for e in journal_events(home, gameday_id) if e.type == "gameday.finished"]
    assert len(finished) == 1
    return {m["name"]: m for m in finished[0].data["metrics"]}


def test_getting_started_experiment_runs_as_a_game_day(tmp_path: Path, cli: CliRunner, fireline_home: Path,
                                                       rates: tuple[_RatesService, Path]) -> None:
    service, data_file = rates
    scenario = tmp_path / "scenario.yaml"
    imported = cli("import", "chaostoolkit", str(GETTING_STARTED), "-o", str(scenario), "--strict")
    assert imported.code == 0, imported.err
    moved = data_file.with_name("exchange-rates.json.moved")

    result = cli("gameday", "run", str(scenario), "-i", f"service_url={service.url}", "-i", f"data_file={data_file}",
                 "-i", f"moved_file={moved}", "--report", "md")
    output = result.out + result.err
    assert "Traceback" not in output
    match = re.search(r"game day (gd-\S+):", output)
    assert match, output
    gameday_id = match.group(1)
    # The fault really broke the service, was detected, reverted by the paired rollback, and it recovered.
    assert "probe service-is-healthy: FAILING: GET" in output and "status 503, expected 200" in output
    assert "DETECTED by steady_state_violated" in output
    assert "fault move-data-file-away reverted (duration): ran the revert command" in output
    assert "RECOVERED" in output
    assert data_file.exists() and not moved.exists()
    metrics = _metrics(fireline_home, gameday_id)
    assert metrics["time_to_detect"]["seconds"] is not None and metrics["time_to_detect"]["seconds"] > 0
    assert metrics["time_to_recover"]["seconds"] >= metrics["time_to_detect"]["seconds"]
    assert re.search(r"Time to detect\s+\d+(\.\d+)?(ms|s)", output), output
    assert re.search(r"Time to recover\s+\d+(\.\d+)?(ms|s)", output), output
    # Nobody acknowledged (the scenario's comment says a manual response needs one): the verdict says so.
    assert result.code == 1 and metrics["time_to_acknowledge"]["seconds"] is None
    reverted = [e for e in journal_events(fireline_home, gameday_id) if e.type == "fault.reverted"]
    assert [(e.step_id, e.data["ok"]) for e in reverted] == [("move-data-file-away", True)]


class _Checkout:
    """The lab cluster at its real pace (a new pod is ready 2 s after it is created, so a probe every second
    sees the outage), and a checkout health endpoint that, like the lab's demo service, answers 200 only while
    the checkout deployment has ready pods."""

    def __init__(self, state_dir: Path) -> None:
        self.cluster = LabCluster(LabConfig(state_dir=state_dir, time_scale=1.0))
        self.health: _RatesService | None = None

    def __enter__(self) -> _Checkout:
        self.cluster.__enter__()
        self.cluster.wait_for_rollout("checkout", "demo", timeout=60)
        config = DemoServiceConfig(dsn="", cluster_url=self.cluster.url, db_timeout=5.0)

        def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
            problem = check_deployment(config)
            handler.send_response(503 if problem else 200)
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        handler = type("Health", (http.server.BaseHTTPRequestHandler,),
                       {"do_GET": answer, "log_message": lambda *a: None})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.cluster.__exit__(None, None, None)


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Checkout]:
    with _Checkout(tmp_path / "lab") as lab:
        monkeypatch.setenv("KUBECONFIG", str(lab.cluster.kubeconfig_path))  # as chaostoolkit-kubernetes finds it
        yield lab


def _core_api(kubeconfig: str) -> Any:
    from kubernetes import client, config

    return client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))  # type: ignore[no-untyped-call]


def _ready_pods(kubeconfig: str) -> set[str]:
    core = _core_api(kubeconfig)
    return {p.metadata.name for p in core.list_namespaced_pod("demo", label_selector="app=checkout").items
            if p.metadata.deletion_timestamp is None
            and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])}


def test_pod_termination_experiment_runs_on_the_lab(tmp_path: Path, cli: CliRunner, fireline_home: Path,
                                                    checkout: _Checkout) -> None:
    scenario = tmp_path / "pods.yaml"
    imported = cli("import", "chaostoolkit", str(PODS), "-o", str(scenario), "--strict")
    assert imported.code == 0, imported.err
    kubeconfig = str(checkout.cluster.kubeconfig_path)
    before = _ready_pods(kubeconfig)
    assert len(before) == 3

    result = cli("gameday", "run", str(scenario), "-i", f"checkout_url={checkout.url}", "--report", "none")
    output = result.out + result.err
    assert "Traceback" not in output
    match = re.search(r"game day (gd-\S+):", output)
    assert match, output
    events = journal_events(fireline_home, match.group(1))
    injected = next(e for e in events if e.type == "fault.injected")
    assert sorted(injected.data["state"]["deleted"]) == sorted(before)  # every checkout pod, as the experiment says
    assert "DETECTED by steady_state_violated" in output and "RECOVERED" in output, output
    metrics = _metrics(fireline_home, match.group(1))
    assert metrics["time_to_detect"]["seconds"] is not None and metrics["time_to_recover"]["seconds"] is not None
    # The pods are back: as many as before, new ones, all ready; checkout answers again.
    after = wait_for(lambda: _ready_pods(kubeconfig) if len(_ready_pods(kubeconfig)) == 3 else None,
                     "the checkout pods to be back", timeout=30)
    assert not after & before
    assert check_deployment(DemoServiceConfig(dsn="", cluster_url=checkout.cluster.url)) is None


def test_the_command_is_listed_without_importing_it(cli: CliRunner) -> None:
    result = cli("--help")
    assert "import" in result.out and "Chaos Toolkit" in result.out
    code = (
        "import sys; from runner.cli import main; main(['--help']); "
        "print(any(m.startswith('runner.importers') for m in sys.modules))"
    )
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert done.stdout.strip().endswith("False")


def test_json_output_of_the_warnings_is_not_mixed_into_the_scenario(cli: CliRunner) -> None:
    result = cli("import", "chaostoolkit", str(PYTHON))
    assert result.code == 0
    assert "warning:" not in result.out
    assert json.dumps(yaml.safe_load(result.out))  # stdout is the scenario alone


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_imported_game_day_still_runs_the_rollback(tmp_path: Path, cli: CliRunner,
                                                                   fireline_home: Path,
                                                                   rates: tuple[_RatesService, Path],
                                                                   sig: signal.Signals) -> None:
    """Chaos Toolkit skips rollbacks when interrupted (by default); the imported game day runs them."""
    service, data_file = rates
    experiment = json.loads(GETTING_STARTED.read_text())
    experiment["method"][0]["pauses"]["after"] = 600  # long enough that only the signal ends it
    source = write(tmp_path / "experiment.json", json.dumps(experiment))
    scenario = tmp_path / "scenario.yaml"
    assert cli("import", "chaostoolkit", str(source), "-o", str(scenario), "--strict").code == 0
    moved = data_file.with_name("exchange-rates.json.moved")

    log = tmp_path / "gameday.log"
    argv = fireline_argv("gameday", "run", str(scenario), "-i", f"service_url={service.url}",
                         "-i", f"data_file={data_file}", "-i", f"moved_file={moved}", "--report", "none")
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=tmp_path, env=environment(fireline_home), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    gd = GameDayProcess(proc, fireline_home, log)
    try:
        gd.wait_event("gameday.detected", timeout=60)
        assert moved.exists() and not data_file.exists()  # the outage is real
        gd.signal_group(sig)
        code = gd.wait(60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    output = gd.output
    assert code == 130, output
    assert data_file.exists() and not moved.exists(), output  # the rollback ran
    reverted = [e for e in journal_events(fireline_home, gd.gameday_id()) if e.type == "fault.reverted"]
    assert [(e.step_id, e.data["ok"], e.data["why"]) for e in reverted] == [("move-data-file-away", True,
                                                                             "interrupted")]
    assert "Traceback" not in output
