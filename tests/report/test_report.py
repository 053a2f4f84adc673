"""Reports rendered from a real journal: a whole game day appended event by event (the journal stamps the
times, so the sleeps shape the timeline), then Markdown, JSON and a self-contained HTML file that headless
Chromium must render with its SVG timeline."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from runner.errors import UsageError
from runner.gameday import events as gev
from runner.gameday.metrics import measure
from runner.journal.events import Event
from runner.journal.store import Journal
from runner.report import render
from tests.report.browser import CHROMIUM, chromium

REPO = Path(__file__).resolve().parents[2]
GD = "gd-7f3a9c21"
RESPONSE_RUN = "run-5be1d0aa"
OBJECTIVES = {"time_to_detect": 120.0, "time_to_acknowledge": 300.0, "time_to_mitigate": 0.05,
              "time_to_recover": 600.0}
SCRIPT = "<script>alert(1)</script>"
PAUSE = 0.03  # ≥ 20 ms between events so the timeline has visible gaps


def _started(journal: Journal, gd: str = GD, scenario: str = "checkout-db-exhaustion",
             objectives: dict[str, float] | None = None, interval: float = 1.0) -> None:
    journal.append(gd, gev.GAMEDAY_STARTED, actor="sre-bot", data={
        "scenario": scenario, "title": "Checkout survives primary connection exhaustion",
        "hypothesis": "On-call detects within 2 minutes and recovers within 10 minutes using the runbook.",
        "path": "scenarios/checkout-db-exhaustion.yaml", "digest": "sha256:0f1e",
        "objectives": OBJECTIVES if objectives is None else objectives, "interval": interval, "settle": 0.1})


def _pause(n: float = 1) -> None:
    time.sleep(PAUSE * n)


def _step(journal: Journal, step_id: str, status: str, seconds: float) -> None:
    began = time.monotonic()
    time.sleep(seconds)
    journal.append(GD, gev.RESPONSE_STEP, step_id=step_id, data={
        "run_id": RESPONSE_RUN, "status": status, "started_mono": began, "ended_mono": time.monotonic()})


def _inject_and_detect(j: Journal) -> None:
    j.append(GD, gev.STEADY_STATE_CHECKED, data={"ok": True, "phase": "before",
                                                 "probes": {"checkout-ok": {"ok": True, "detail": "200"}}})
    _pause()
    j.append(GD, gev.FAULT_INJECTING, step_id="exhaust", durable=True,
             data={"action": "postgres.hold_connections", "params": {"count": 95}, "state": {"app": "fl-1"}})
    j.append(GD, gev.FAULT_INJECTED, step_id="exhaust",
             data={"action": "postgres.hold_connections", "state": {"app": "fl-1"}, "summary": "holding 95"})
    _pause(3)
    j.append(GD, gev.PROBE_FAILED, step_id="checkout-ok", data={"detail": "HTTP 503"})
    j.append(GD, gev.STEADY_STATE_VIOLATED)
    _pause()
    j.append(GD, gev.DETECTED, data={"signal": {"steady_state_violated": True}})
    _pause(2)
    j.append(GD, gev.ACKNOWLEDGED, actor="alice", data={"via": "ack"})


def _respond_and_finish(j: Journal) -> None:
    j.append(GD, gev.RESPONSE_STARTED, data={"run_id": RESPONSE_RUN, "runbook": "db-connection-exhaustion",
                                             "mode": "runbook"})
    _step(j, "find-idle-connections", "succeeded", PAUSE * 2)
    _step(j, "terminate-idle", "succeeded", PAUSE * 3)
    _step(j, "page-dba", "skipped", PAUSE)
    j.append(GD, gev.RESPONSE_FINISHED, data={"run_id": RESPONSE_RUN, "status": "succeeded"})
    _pause()
    since = time.monotonic()
    j.append(GD, gev.PROBE_OK, step_id="checkout-ok")
    j.append(GD, gev.STEADY_STATE_RESTORED)
    _pause(2)
    j.append(GD, gev.RECOVERED, data={"since_mono": since})
    j.append(GD, gev.FAULT_REVERTED, step_id="exhaust", durable=True,
             data={"ok": True, "summary": "released 95 connections", "why": "finished"})
    j.append(GD, gev.NOTE, actor="alice", data={"text": f"pool limit too low {SCRIPT} & <b>fix</b>"})
    _pause()
    events = j.events(GD)
    metrics = [m.record().to_data() for m in measure(events, OBJECTIVES)]
    j.append(GD, gev.FINISHED, data={"status": "failed", "metrics": metrics})


@pytest.fixture(scope="module")
def game_day(tmp_path_factory: pytest.TempPathFactory) -> list[Event]:
    journal = Journal(tmp_path_factory.mktemp("journal") / "j.db")
    try:
        _started(journal)
        _inject_and_detect(journal)
        _respond_and_finish(journal)
        return journal.events(GD)
    finally:
        journal.close()


def test_json_has_every_part_of_the_game_day(game_day: list[Event]) -> None:
    doc = json.loads(render(game_day, "json"))
    assert (doc["id"], doc["scenario"], doc["status"]) == (GD, "checkout-db-exhaustion", "failed")
    assert doc["hypothesis"].startswith("On-call detects")
    assert doc["resolution_s"] == 1.0 and doc["resolution_source"] == "probe interval"
    assert doc["started_at"].endswith("Z") and doc["finished_at"] > doc["started_at"]
    metrics = {m["name"]: m for m in doc["metrics"]}
    assert metrics["time_to_detect"]["passed"] is True
    assert 0.1 < metrics["time_to_detect"]["seconds"] < 1.0
    assert metrics["time_to_mitigate"]["passed"] is False  # objective 50 ms, the runbook took longer
    assert metrics["time_to_recover"]["objective_s"] == 600.0
    assert doc["timeline_origin"] == "fault.injected"
    by_type = {e["type"]: e for e in doc["timeline"]}
    assert by_type["gameday.started"]["t"] < 0 < by_type["gameday.detected"]["t"]
    assert by_type["fault.injected"]["t"] == 0
    assert by_type["gameday.acknowledged"]["actor"] == "alice"
    assert doc["faults"] == [{"id": "exhaust", "action": "postgres.hold_connections", "injected": True,
                              "injected_t": 0.0, "reverted": True, "reverted_t": doc["faults"][0]["reverted_t"],
                              "ok": True, "why": "finished", "summary": "holding 95"}]
    assert doc["response_run_ids"] == [RESPONSE_RUN]
    assert [(s["id"], s["status"]) for s in doc["responses"][0]["steps"]] == [
        ("find-idle-connections", "succeeded"), ("terminate-idle", "succeeded"), ("page-dba", "skipped")]
    assert SCRIPT in doc["notes"][0]["text"]  # JSON keeps data as is; escaping is the viewer's job
    assert doc["warnings"] == []


def test_markdown_reads_like_a_report(game_day: list[Event]) -> None:
    md = render(game_day, "md")
    assert md.startswith("# Game day: Checkout survives primary connection exhaustion")
    assert "**Hypothesis:** On-call detects" in md
    assert "**Verdict:** FAILED" in md and "Time to mitigate" in md.split("**Verdict:**")[1].splitlines()[0]
    assert "| Metric | Measured | Objective | Result |" in md
    assert re.search(r"\| Time to detect \| \d+ms \| 2m00s \| pass \|", md)
    assert re.search(r"\| Time to mitigate \| \d+ms \| 50ms \| FAIL \|", md)
    assert "Measured at a resolution of 1s (probe interval)" in md
    assert re.search(r"- `T\+0` \d\d:\d\d:\d\d\.\d{3} Fault exhaust injected: holding 95", md)
    assert "Fault exhaust reverted (finished)" in md
    assert f"run id `{RESPONSE_RUN}`" in md
    assert SCRIPT not in md and "&lt;script&gt;alert(1)&lt;/script&gt;" in md


def test_html_is_self_contained_and_escaped(game_day: list[Event]) -> None:
    page = render(game_day, "html")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "<link" not in page.lower() and "@import" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;fix&lt;/b&gt;" in page
    svg = page[page.index('<svg id="timeline"'):page.index("</svg>")]
    for kind in ("fault", "detect", "ack", "mitigate", "recover", "revert", "step", "violated", "note", "finding"):
        assert f'class="marker {kind}' in svg, kind
    assert svg.count('class="marker step') == 3
    assert svg.count('class="marker step status-succeeded"') == 2 and 'class="marker step status-skipped"' in svg
    assert '<table id="metrics">' in page and '<span class="badge fail">FAIL</span>' in page
    assert "resolution of 1s (probe interval)" in page


def test_an_interrupted_game_day_that_never_detected(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db")
    _started(journal)
    journal.append(GD, gev.FAULT_INJECTING, step_id="exhaust", data={"action": "postgres.hold_connections"})
    _pause()
    journal.append(GD, gev.FAULT_INJECTED, step_id="exhaust", data={"action": "postgres.hold_connections"})
    _pause()
    events = journal.events(GD)
    journal.close()

    doc = json.loads(render(events, "json"))
    assert doc["status"] == "incomplete" and doc["complete"] is False and doc["finished_at"] is None
    assert all(m["seconds"] is None and m["passed"] is None for m in doc["metrics"])
    assert any("may still be in place" in w for w in doc["warnings"])
    md = render(events, "md")
    assert "| Time to detect | — | 2m00s | — |" in md and "INCOMPLETE" in md
    page = render(events, "html")
    assert 'class="marker fault' in page and 'class="marker detect' not in page


def test_not_a_game_day_and_unknown_format(game_day: list[Event]) -> None:
    with pytest.raises(UsageError, match="unknown report format"):
        render(game_day, "pdf")
    with pytest.raises(UsageError, match="not a game day"):
        render([e for e in game_day if e.type != gev.GAMEDAY_STARTED], "md")
    with pytest.raises(UsageError):
        render([], "json")


@pytest.mark.skipif(not CHROMIUM.exists() and shutil.which("chromium") is None, reason="chromium not installed")
def test_headless_chromium_renders_the_timeline(game_day: list[Event], tmp_path: Path) -> None:
    page = tmp_path / "gameday-report.html"
    page.write_text(render(game_day, "html"), encoding="utf-8")
    artifacts = REPO / ".artifacts"
    artifacts.mkdir(exist_ok=True)
    png = artifacts / "gameday-report.png"
    png.unlink(missing_ok=True)

    shot = chromium(tmp_path, f"--screenshot={png}", "--window-size=1200,900", page.as_uri())
    assert png.exists(), shot.stderr[-2000:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000

    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<svg id="timeline"' in dom.stdout
    svg = dom.stdout[dom.stdout.index('<svg id="timeline"'):dom.stdout.index("</svg>")]
    assert svg.count('class="marker') >= 12
    assert svg.count('class="marker step') == 3
    assert "<script>alert(1)</script>" not in dom.stdout


def test_a_probe_failing_during_the_fault_is_the_finding_not_a_failure(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db")
    _started(journal)
    journal.append(GD, gev.FAULT_INJECTED, step_id="exhaust", data={"action": "postgres.hold_connections"})
    _pause()
    journal.append(GD, gev.PROBE_FAILED, step_id="checkout-ok", data={"detail": "HTTP 503"})  # the finding
    journal.append(GD, gev.STEADY_STATE_VIOLATED)
    _pause()
    journal.append(GD, gev.PROBE_OK, step_id="checkout-ok")
    journal.append(GD, gev.STEADY_STATE_RESTORED)
    journal.append(GD, gev.FAULT_REVERTED, step_id="exhaust", data={"ok": True, "why": "finished"})
    _pause()
    journal.append(GD, gev.PROBE_FAILED, step_id="checkout-ok", data={"detail": "HTTP 500"})  # nothing explains it
    journal.append(GD, gev.STEADY_STATE_VIOLATED)
    journal.append(GD, gev.FINISHED, data={"status": "failed", "metrics": []})
    events = journal.events(GD)
    journal.close()

    page = render(events, "html")
    svg = page[page.index('<svg id="timeline"'):page.index("</svg>")]
    findings = re.findall(r'<line class="marker finding"[^>]*stroke="([^"]+)"[^>]*><title>([^<]*)</title>', svg)
    failures = re.findall(r'<line class="marker probe"[^>]*stroke="([^"]+)"[^>]*><title>([^<]*)</title>', svg)
    assert [(colour, "HTTP 503" in title) for colour, title in findings] == [("#6a1b9a", True)]  # not red
    assert [(colour, "HTTP 500" in title) for colour, title in failures] == [("#d32f2f", True)]
    bands = re.findall(r'<g class="marker violated (\w+)"><rect [^>]*fill="([^"]+)"', svg)
    assert bands == [("finding", "#6a1b9a"), ("violated", "#d32f2f")]  # the fault's impact, then a failure
    rows = re.findall(r"<tr( class=\"finding\")?><td[^>]*>[^<]*</td><td[^>]*>[^<]*</td><td><code>probe.failed", page)
    assert rows == [' class="finding"', ""]
    md = render(events, "md")
    assert "Finding: probe checkout-ok detects the fault, as expected: HTTP 503" in md
    assert "Probe checkout-ok failing: HTTP 500" in md
    assert "is the finding the game day looks for, not a failure" in md
    doc = json.loads(render(events, "json"))
    assert [e["finding"] for e in doc["timeline"] if e["type"] == "probe.failed"] == [True, False]


def _gameday_with_a_linked_run(tmp_path: Path, cli, runbook: str) -> tuple[str, Path]:
    """A game day in the journal of FIRELINE_HOME, and a runbook to respond to it with."""
    from runner.journal.store import open_journal

    journal = open_journal()
    _started(journal)
    journal.append(GD, gev.FAULT_INJECTED, step_id="exhaust", data={"action": "postgres.hold_connections"})
    journal.close()
    path = tmp_path / "response.yaml"
    path.write_text(runbook, encoding="utf-8")
    return GD, path


RESPONSE = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: response}
steps:
  - id: look
    action: shell.run
    read_only: true
    with: {argv: [sh, -c, "sleep 0.3"]}
  - id: fix
    action: shell.run
    with: {argv: ["true"]}
  - id: confirm
    action: shell.run
    with: {argv: [sh, -c, "sleep 0.3"]}
"""


def test_the_report_says_who_approved_each_response_step_and_how(tmp_path: Path, cli, fireline_home: Path) -> None:
    gd, path = _gameday_with_a_linked_run(tmp_path, cli, RESPONSE)
    ran = cli("run", str(path), "--gameday", gd, "--as", "alice", "--approve", "fix", "--reason", "INC-7: pool full",
              "--output", "plain")
    assert ran.code == 3, ran.out  # `confirm` waits for an approval: nobody at a terminal
    run_id = next(w for w in ran.out.split() if w.count("-") == 2 and w[:8].isdigit())
    assert cli("approve", run_id, "confirm", "--as", "bob", "--reason", "checked the pool").code == 0
    assert cli("resume", run_id, "--as", "bob", "--output", "plain").code == 0

    md = render(_events(fireline_home), "md")
    assert "`look` ok" in md and "— no approval needed" in md
    assert "`fix` ok" in md and "approved by alice with --approve: INC-7: pool full" in md
    assert "approved by bob with fireline approve: checked the pool" in md
    page = render(_events(fireline_home), "html")
    approvals = re.findall(r'<code>(\w+)</code> ok [^<]*<span class="approval">([^<]*)</span>', page)
    assert approvals == [("look", "no approval needed"), ("fix", "approved by alice with --approve: INC-7: pool full"),
                         ("confirm", "approved by bob with fireline approve: checked the pool")]


def test_every_event_carries_its_own_time(tmp_path: Path, cli, fireline_home: Path) -> None:
    # A linked run's steps are copied into the game day when the run stops: each must still be shown at the
    # time it ended, not all at the moment of the copy.
    gd, path = _gameday_with_a_linked_run(tmp_path, cli, RESPONSE)
    ran = cli("run", str(path), "--gameday", gd, "--approve-all", "--reason", "drill", "--output", "plain")
    assert ran.code == 0, ran.out
    doc = json.loads(render(_events(fireline_home), "json"))
    ends = {s["id"]: s["end_t"] for s in doc["responses"][0]["steps"]}
    shown = {e["label"].split()[2].rstrip(":"): e["t"] for e in doc["timeline"] if e["type"] == "response.step"}
    assert shown == pytest.approx(ends, abs=0.002)
    assert shown["confirm"] - shown["look"] >= 0.3  # `confirm` slept 0.3 s after `look` ended
    assert [e["t"] for e in doc["timeline"]] == sorted(e["t"] for e in doc["timeline"])
    page = render(_events(fireline_home), "html")
    times = re.findall(r'<tr><td class="num">[^<]*</td><td class="num">([^<]*)</td><td><code>response.step', page)
    assert len(times) == 3 and len(set(times)) == 3, times


def _events(home: Path) -> list[Event]:
    journal = Journal(home / "journal.db")
    try:
        return journal.events(GD)
    finally:
        journal.close()
