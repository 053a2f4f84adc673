"""Detection by a real Alertmanager alert: a flag flip (a flagd fault) raises an error metric, Prometheus
fires the rule, the game day detects it through Alertmanager, the response runbook turns the flag off, the
metric drops, the game day recovers, and the flag file ends as it started."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.gameday.session import run_gameday
from runner.journal.store import Journal
from tests.servers import MetricsExporter, start_alertmanager, start_prometheus

HERE = Path(__file__).parent / "alerting"
FLAGS = {
    "flags": {
        "payments-new-path": {"state": "DISABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off"},
        "dark-mode": {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "on"},
    }
}
RULES = """
groups:
  - name: payments
    rules:
      - alert: PaymentsErrors
        expr: payments_errors > 0
        for: 1s
"""


class FlagMirror(threading.Thread):
    """The application under test: it serves errors while the new payments path is on."""

    def __init__(self, flags_file: Path, exporter: MetricsExporter) -> None:
        super().__init__(daemon=True)
        self.flags_file, self.exporter, self.stop = flags_file, exporter, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            state = json.loads(self.flags_file.read_text())["flags"]["payments-new-path"]["state"]
            self.exporter.set("payments_errors", 1.0 if state == "ENABLED" else 0.0)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, str]]:
    flags_file = tmp_path / "flagd.json"
    flags_file.write_text(json.dumps(FLAGS, indent=2) + "\n")
    with MetricsExporter() as exporter:
        exporter.set("payments_errors", 0.0)
        mirror = FlagMirror(flags_file, exporter)
        mirror.start()
        with start_alertmanager(tmp_path) as am, start_prometheus(tmp_path, [exporter.target], RULES, am.url) as prom:
            prom.wait_for_targets_up()
            try:
                yield {"flags_file": str(flags_file), "prometheus_url": prom.url, "alertmanager_url": am.url}
            finally:
                mirror.stop.set()


def test_alert_detection_and_flag_response(world: dict[str, str], fireline_home: Path) -> None:
    before = Path(world["flags_file"]).read_bytes()
    journal = Journal(fireline_home / "journal.db")
    out = io.StringIO()
    result = run_gameday(HERE / "payments-flag.yaml", world, "tester", journal, out)
    assert result.status == "passed", out.getvalue()
    events = journal.events(result.gameday_id)
    types = [e.type for e in events]
    assert "alert.firing" in types
    detected = next(e for e in events if e.type == "gameday.detected")
    assert detected.data["signal"] == "alert"
    reverted = next(e for e in events if e.type == "fault.reverted")
    assert reverted.data["ok"] is True
    assert types.index("gameday.detected") < types.index("response.started") < types.index("gameday.recovered")
    # The runbook turned the flag off and the revert found nothing to put back: the file is as it was.
    assert json.loads(Path(world["flags_file"]).read_bytes()) == json.loads(before)
    metrics = {m.name: m for m in result.metrics}
    assert metrics["time_to_detect"].seconds is not None and metrics["time_to_detect"].passed


def test_prometheus_signal_detects(world: dict[str, str], fireline_home: Path, tmp_path: Path) -> None:
    """The same game day detected by a Prometheus query instead of the alert."""
    scenario = (HERE / "payments-flag.yaml").read_text(encoding="utf-8").replace(
        "  - alert: {connection: am, name: PaymentsErrors}",
        '  - prometheus: {connection: prom, query: payments_errors, expect: {op: ">", value: 0}}',
    )
    assert "prometheus: {connection: prom" in scenario
    (tmp_path / "scenario.yaml").write_text(scenario, encoding="utf-8")
    (tmp_path / "disable-flag.yaml").write_bytes((HERE / "disable-flag.yaml").read_bytes())
    journal = Journal(fireline_home / "journal.db")
    out = io.StringIO()
    result = run_gameday(tmp_path / "scenario.yaml", world, "tester", journal, out)
    assert result.status == "passed", out.getvalue()
    types = [e.type for e in journal.events(result.gameday_id)]
    assert "alert.firing" not in types
    detected = next(e for e in journal.events(result.gameday_id) if e.type == "gameday.detected")
    assert detected.data["signal"] == "prometheus"
    assert types.index("signal.fired") < types.index("gameday.detected") < types.index("response.started")
