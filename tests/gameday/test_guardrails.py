"""Dead man's switch, max_duration, abort_when and the blast-radius limit, on the real lab."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import yaml

from runner.gameday.session import run_gameday
from runner.journal.store import Journal
from tests.gameday.conftest import NAMESPACE, Lab, apps_api

BASE = Path(__file__).parent / "guardrails" / "base.yaml"


def _scenario(tmp_path: Path, **changes: Any) -> Path:
    data = yaml.safe_load(BASE.read_text())
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for part in parents:
            node = node[part] if not part.isdigit() else node[int(part)]
        node[last] = value
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _run(lab: Lab, path: Path) -> tuple[Any, list[Any]]:
    journal = Journal(lab.home / "journal.db")
    out = io.StringIO()
    result = run_gameday(path, {"service_url": lab.service_url}, "tester", journal, out)
    return result, journal.events(result.gameday_id)


def test_duration_reverts_the_fault_when_nobody_responds(lab: Lab, tmp_path: Path) -> None:
    result, events = _run(lab, _scenario(tmp_path, faults__0__duration="1s"))
    types = [e.type for e in events]
    reverted = next(e for e in events if e.type == "fault.reverted")
    assert reverted.data["why"] == "duration" and reverted.data["ok"]
    assert types.index("gameday.detected") < types.index("fault.reverted") < types.index("gameday.recovered")
    # The dead man's switch ended the outage, not a response: nobody acknowledged, the objective failed.
    assert result.status == "failed"
    ack = next(m for m in result.metrics if m.name == "time_to_acknowledge")
    assert ack.seconds is None and ack.passed is False
    assert lab.leaked() == 0


def test_max_duration_aborts_and_reverts(lab: Lab, tmp_path: Path) -> None:
    result, events = _run(lab, _scenario(tmp_path, guardrails={"max_duration": "1s"}))
    assert result.status == "aborted" and result.exit_code == 1
    aborted = next(e for e in events if e.type == "gameday.aborted")
    assert "max_duration" in aborted.data["reason"]
    assert next(e for e in events if e.type == "fault.reverted").data["why"] == "aborted"
    assert lab.leaked() == 0


def test_abort_when_stops_at_once(lab: Lab, tmp_path: Path) -> None:
    stop = {"probe": {
        "probe": "postgres.query",
        "with": {"connection": "primary",
                 "sql": "SELECT 1 FROM pg_stat_activity WHERE application_name = 'leaky-pool' HAVING count(*) > 5"},
        "expect": {"rows": 1}}}
    result, events = _run(lab, _scenario(tmp_path, guardrails={"abort_when": [stop]}))
    assert result.status == "aborted"
    aborted = next(e for e in events if e.type == "gameday.aborted")
    assert "guardrail abort-0 tripped" in aborted.data["reason"]
    injected = next(e for e in events if e.type == "fault.injected")
    assert aborted.ts_mono - injected.ts_mono < 2.0  # within a few probe intervals, not at max_duration
    assert lab.leaked() == 0


def test_blast_radius_refuses_before_touching_pods(lab: Lab, tmp_path: Path) -> None:
    core_api = _core(lab)
    before = sorted(p.metadata.name for p in core_api.list_namespaced_pod(NAMESPACE).items)
    fault = {"id": "half-the-pods", "action": "kubernetes.delete_pods",
             "with": {"connection": "cluster", "selector": "app=checkout", "percent": 60}}
    path = _scenario(tmp_path, faults=[fault], guardrails={"max_pods_percent": 34})
    result, events = _run(lab, path)
    assert result.status == "aborted"
    assert "limit is 34%" in next(e for e in events if e.type == "gameday.aborted").data["reason"]
    assert not any(e.type == "fault.injected" for e in events)
    assert sorted(p.metadata.name for p in core_api.list_namespaced_pod(NAMESPACE).items) == before


def _core(lab: Lab) -> Any:
    from kubernetes import client

    return client.CoreV1Api(apps_api(lab.kubeconfig).api_client)


def test_blast_radius_counts_the_pods_a_count_would_delete(lab: Lab, tmp_path: Path) -> None:
    core_api = _core(lab)
    pods = core_api.list_namespaced_pod(NAMESPACE, label_selector="app=checkout").items
    before = sorted(p.metadata.name for p in pods)
    assert len(before) >= 2
    fault = {"id": "too-many-pods", "action": "kubernetes.delete_pods",
             "with": {"connection": "cluster", "selector": "app=checkout", "count": len(before)}}
    path = _scenario(tmp_path, faults=[fault], guardrails={"max_pods_percent": 34})
    result, events = _run(lab, path)
    assert result.status == "aborted"
    reason = next(e for e in events if e.type == "gameday.aborted").data["reason"]
    assert f"would delete {len(before)} of {len(before)} pods; the limit is 34%" in reason
    assert not any(e.type == "fault.injected" for e in events)
    after = core_api.list_namespaced_pod(NAMESPACE, label_selector="app=checkout").items
    assert sorted(p.metadata.name for p in after) == before
