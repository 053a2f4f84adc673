"""`fireline incident report ID`: the incident response analysis in text, Markdown, HTML, JSON and PDF, from
a real journal — an incident declared, acknowledged, worked with a linked runbook run, noted, updated and
resolved. Each format shows the times the journal recorded and every section (an empty one says so in one
line); values people typed are escaped or wrapped; an unknown id is a usage error; an open incident is
reported as ongoing."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.incident import store
from runner.incident.lifecycle import Declaration, declare, resolve
from runner.incident.model import Milestone, Severity
from runner.incident.report_json import KEYS
from runner.incident.report_text import columns
from runner.journal.store import open_journal
from tests.command import FIRELINE
from tests.conftest import write
from tests.incident.documents import restart_runbook, sev2

REPO = Path(__file__).resolve().parents[2]
SECTIONS = ("INCIDENT:", "INCIDENT SUMMARY:", "SEVERITY CLASSIFICATION:", "TIMELINE RECONSTRUCTION:",
            "TECHNICAL INVESTIGATION:", "IMPACT ASSESSMENT:", "COMMUNICATION LOG:", "REMEDIATION ACTIONS:",
            "POST-MORTEM ANALYSIS:", "ACTION ITEMS:", "INCIDENT METRICS:")  # fmt: skip
HOSTILE = "Checkout <script>alert(1)</script> \x1b[31mred\x1b[0m a|b " + "x" * 150


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@pytest.fixture
def worked(tmp_path: Path, fireline_home: Path, cli: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """An incident run end to end through the CLI: declared (assessed) with its impact start 10 minutes ago,
    acknowledged, a root cause and an action noted, an update, a linked run that mitigates, resolved."""
    monkeypatch.chdir(tmp_path)
    started = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    declared = cli("incident", "declare", "--title", "Checkout returns 503", "--assess", "users_affected=200",
                   "workaround=no", "--systems", "checkout", "--impact", "Orders fail", "--started-at", started,
                   "--commander", "lead")  # fmt: skip
    assert declared.code == 0, declared.err
    incident_id: str = declared.out.strip()
    for args in (("ack", incident_id),
                 ("note", incident_id, "pool exhausted by a leak in the retry loop", "--kind", "root-cause"),
                 ("note", incident_id, "alert on pool saturation", "--kind", "action"),
                 ("update", incident_id, "--status", "identified", "--summary", "pool exhausted",
                  "--impact", "half of the checkouts fail")):  # fmt: skip
        done = cli("incident", *args)
        assert done.code == 0, done.err
    runbook = write(tmp_path / "restart.yaml", restart_runbook(tmp_path / "restarted"))
    ran = cli("run", str(runbook), "--incident", incident_id, "--approve-all", "--reason", "restart it",
              "--output", "plain")  # fmt: skip
    assert ran.code == 0, ran.err
    done = cli("incident", "update", incident_id, "--status", "resolved", "--summary", "restarted; pool healthy")
    assert done.code == 0, done.err
    return incident_id


def _milestones(incident_id: str) -> dict[Milestone, datetime]:
    incident = store.load(open_journal(), incident_id)
    return {name: reached.at for name, reached in incident.milestones.items()}


def test_text_shows_every_section_with_the_recorded_times(worked: str, cli: Any) -> None:
    shown = cli("incident", "report", worked)
    assert shown.code == 0, shown.err
    out = shown.out
    positions = [out.index(heading) for heading in SECTIONS]
    assert positions == sorted(positions)
    times = _milestones(worked)
    assert re.search(rf"Start time: +{_z(times[Milestone.STARTED])}", out)
    assert re.search(rf"Resolution time: +{_z(times[Milestone.RESOLVED])}", out)
    assert re.search(r"Duration: +10m0\ds", out)
    assert "SEV2 (high)" in out and "multiple customers are affected and there is no workaround" in out
    assert re.search(r"Response target: +15m \(acknowledged after 10m0\ds: met\)", out)
    assert "Root cause:" in out and "pool exhausted by a leak in the retry loop" in out
    assert "Resolution:       restarted; pool healthy" in out
    assert "restart: succeeded" in out  # the linked run's steps are on the timeline
    assert re.search(r"1\. restart \[shell\.run\] in run \S+ \(restart-checkout\):\s+succeeded", out)
    assert "look [shell.run]" not in out  # a read is not a remediation
    assert "status-page · recorded only" in out  # no channel is configured: the updates were recorded only
    assert "half of the checkouts fail" in out
    assert "alert on pool saturation" in out  # noted, not tracked
    assert "No post-mortem yet" in out and f"fireline postmortem draft {worked}" in out
    assert "No action items are tracked" in out
    assert re.search(r"TTR \(time to resolve\): +10m0\ds", out)
    assert "Severity distribution: SEV1: 0, SEV2: 1, SEV3: 0, SEV4: 0" in out
    assert "MTBF checkout:" in out
    assert "ONGOING" not in out
    assert max(columns(line) for line in out.splitlines()) <= 80


def test_markdown_json_html_and_pdf_agree_with_the_journal(worked: str, cli: Any, tmp_path: Path) -> None:
    times = _milestones(worked)
    md = cli("incident", "report", worked, "--format", "md").out
    for heading in ("## Incident summary", "## Timeline reconstruction", "## Communication log",
                    "## Remediation actions", "## Incident metrics"):  # fmt: skip
        assert heading in md
    assert f"- **Start time:** {_z(times[Milestone.STARTED])}" in md
    assert "| At (UTC) | Source | What happened |" in md

    doc = json.loads(cli("incident", "report", worked, "--format", "json").out)
    assert tuple(doc) == KEYS
    assert doc["started_at"] == store.iso(times[Milestone.STARTED])
    assert doc["resolved_at"] == store.iso(times[Milestone.RESOLVED])
    assert doc["ongoing"] is False
    assert [s["step_id"] for s in doc["remediation"]["immediate"]] == ["restart"]
    assert doc["remediation"]["immediate"][0]["approved_by"] == ["responder"]
    [first, last] = doc["communications"]
    assert (first["shape"], last["shape"]) == ("initial", "resolution")
    assert {c["channel"]: c["recorded_only"] for c in first["channels"]} == {"incidents": True, "status-page": True}
    assert 595 <= doc["metrics"]["incident"]["ttr"]["seconds"] <= 700
    assert doc["metrics"]["window"]["count"] == 1
    assert doc["severity"]["criteria"] == {"users_affected": "200", "workaround": "no"}

    page = tmp_path / "report.html"
    written = cli("incident", "report", worked, "--format", "html", "-o", str(page))
    assert written.code == 0 and f"written to {page}" in written.out
    html = page.read_text(encoding="utf-8")
    svg = html[html.index('<svg id="timeline"') : html.index("</svg>")]
    assert svg.count('class="marker milestone') == 5  # started, detected, acknowledged, mitigated, resolved
    assert svg.count('class="marker step') == 2 and svg.count('class="marker step change') == 1
    assert svg.count('class="marker update"') == 2
    for key in ("summary", "severity", "timeline", "communication", "remediation", "postmortem", "metrics"):
        assert f'<section id="{key}">' in html

    pdf = tmp_path / "report.pdf"
    assert cli("incident", "report", worked, "--format", "pdf", "-o", str(pdf)).code == 0
    assert pdf.read_bytes()[:5] == b"%PDF-"
    _pdf_page_one(pdf, tmp_path, _z(times[Milestone.STARTED]))


def _pdf_page_one(pdf: Path, tmp_path: Path, started: str) -> None:
    """Page 1 rendered by poppler: an image with ink on it, and the title in its text."""
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) not installed")
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True, timeout=60)  # fmt: skip
    [png] = tmp_path.glob("page*.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    if shutil.which("pdftotext") is not None:
        text = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True,
                              check=True, timeout=60).stdout  # fmt: skip
        assert "Incident Response Analysis" in text
        assert started in text  # the recorded start, on the first page


def test_an_unknown_incident_is_a_usage_error_with_a_hint(fireline_home: Path, cli: Any) -> None:
    shown = cli("incident", "report", "INC-2099-999")
    assert shown.code == 2
    assert "no incident 'INC-2099-999'" in shown.err and "fireline incident list" in shown.err
    assert "Traceback" not in shown.err


def test_an_open_incident_is_reported_as_ongoing(fireline_home: Path, cli: Any, tmp_path: Path) -> None:
    started = datetime.now(UTC) - timedelta(minutes=7)
    journal = open_journal()
    incident_id = declare(journal, Declaration("Search is slow", Severity.SEV3, systems=("search",),
                                               started_at=started), "lead")  # fmt: skip
    text = cli("incident", "report", incident_id).out
    assert "ONGOING" in text
    assert re.search(r"Duration: +7m\d\ds so far \(ongoing\)", text)
    assert "Resolution time: not resolved (ongoing; investigating)" in text
    assert re.search(r"TTR \(time to resolve\): +not reached \(7m\d\ds so far, ongoing\)", text)
    assert re.search(r"TTA \(time to acknowledge\): +not reached", text)
    doc = json.loads(cli("incident", "report", incident_id, "--format", "json").out)
    assert doc["ongoing"] is True and doc["resolved_at"] is None
    assert doc["duration_s"] >= 420
    assert doc["metrics"]["incident"]["ttr"] == {"seconds": None, "so_far_s": pytest.approx(doc["duration_s"])}
    html = cli("incident", "report", incident_id, "--format", "html").out
    assert '<p class="banner" id="ongoing">ONGOING' in html

    resolve(journal, store.load(journal, incident_id), "lead")
    text = cli("incident", "report", incident_id).out
    assert "ONGOING" not in text and "so far" not in text


def _hostile_incident(tmp_path: Path) -> str:
    """Values no CLI would let in, as another writer (an alert, an import) could record them."""
    journal = open_journal()
    incident_id = declare(journal, Declaration(HOSTILE, Severity.SEV1, systems=("pay|ments",),
                                               impact="<img src=x onerror=alert(2)> | * _ [x](y)"), "lead")  # fmt: skip
    from runner.incident.lifecycle import add_note
    from runner.incident.model import NoteKind

    add_note(journal, store.load(journal, incident_id), HOSTILE, NoteKind.ROOT_CAUSE, "bob")
    return incident_id


def test_hostile_values_are_escaped_and_wrapped(fireline_home: Path, cli: Any, tmp_path: Path) -> None:
    incident_id = _hostile_incident(tmp_path)
    text = cli("incident", "report", incident_id).out
    assert "\x1b" not in text
    assert max(columns(line) for line in text.splitlines()) <= 80
    assert "x" * 60 in text  # the long word is broken, not dropped

    md = cli("incident", "report", incident_id, "--format", "md").out
    assert "<script>" not in md and "<img" not in md and "\x1b" not in md
    for row in (line for line in md.splitlines() if line.startswith("| ")):
        cells = re.split(r"(?<!\\)\|", row)[1:-1]  # a pipe that is not escaped ends a cell
        assert len(cells) in (3, 4, 6), row
    assert "a\\|b" in md and "\\[x\\](y)" in md

    html = cli("incident", "report", incident_id, "--format", "html").out
    assert "<script>" not in html and "<img" not in html and "\x1b" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html

    doc = json.loads(cli("incident", "report", incident_id, "--format", "json").out)
    assert doc["title"] == HOSTILE  # JSON keeps the value as recorded; json escapes it


def test_a_wide_script_title_still_fits_80_columns(fireline_home: Path, cli: Any) -> None:
    incident_id = declare(open_journal(), Declaration("決済が失敗する" * 30, Severity.SEV2), "lead")
    text = cli("incident", "report", incident_id).out
    assert max(columns(line) for line in text.splitlines()) <= 80
    assert "決済が失敗する" in text


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium not installed")
def test_headless_chromium_renders_the_report(worked: str, cli: Any, tmp_path: Path) -> None:
    page = tmp_path / "incident-report.html"
    assert cli("incident", "report", worked, "--format", "html", "-o", str(page)).code == 0
    artifacts = REPO / ".artifacts"
    artifacts.mkdir(exist_ok=True)
    png = artifacts / "incident-report.png"
    png.unlink(missing_ok=True)
    flags = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync")  # fmt: skip

    def chromium(*args: str) -> subprocess.CompletedProcess[str]:
        profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
        profile.mkdir()
        return subprocess.run([str(CHROMIUM), *flags, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=60, check=False)  # fmt: skip

    shot = chromium(f"--screenshot={png}", "--window-size=1200,1600", page.as_uri())
    assert png.exists(), shot.stderr[-2000:]
    assert png.stat().st_size > 10_000
    dom = chromium("--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<svg id="timeline"' in dom.stdout
    svg = dom.stdout[dom.stdout.index('<svg id="timeline"') : dom.stdout.index("</svg>")]
    assert svg.count('class="marker milestone') == 5
    assert "<script" not in dom.stdout


def test_a_hostile_report_has_no_script_in_chromium(fireline_home: Path, cli: Any, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed")
    page = tmp_path / "hostile.html"
    assert cli("incident", "report", _hostile_incident(tmp_path), "--format", "html", "-o", str(page)).code == 0
    profile = tmp_path / "profile"
    profile.mkdir()
    dom = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={profile}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<script" not in dom.stdout and "<img" not in dom.stdout
    assert "alert(1)" in dom.stdout  # shown as text


def test_output_to_a_directory_is_refused(worked: str, cli: Any, tmp_path: Path) -> None:
    shown = cli("incident", "report", worked, "-o", str(tmp_path))
    assert shown.code == 2 and "Traceback" not in shown.err


def test_postmortem_action_items_and_deliveries_fill_their_sections(worked: str, cli: Any, tmp_path: Path) -> None:
    from runner.postmortem.document import write as write_postmortem

    journal = open_journal()
    first, _ = journal.events(worked, ("incident.update",))
    outcomes = (("incidents", "slack", True, 1, "HTTP 200"),
                ("status-page", "statuspage", False, 3, "HTTP 500: invalid_payload"))  # fmt: skip
    for channel, kind, ok, attempts, detail in outcomes:
        journal.append(worked, "incident.delivery", actor="responder", durable=True, data={
            "update_seq": first.seq, "channel": channel, "kind": kind, "ok": ok, "attempts": attempts,
            "detail": detail, "external_id": None})  # fmt: skip
    today = datetime.now(UTC).date()
    planned = (("Alert on pool saturation", "db-team", today - timedelta(days=1), "high"),
               ("Fix the retry loop's leak", "payments", today + timedelta(days=30), "medium"))  # fmt: skip
    for title, owner, due, priority in planned:
        added = cli("actions", "add", worked, title, "--owner", owner, "--due", due.isoformat(), "--priority", priority)
        assert added.code == 0, added.err
    later = (today + timedelta(days=60)).isoformat()
    added = cli("actions", "add", worked, "Pool size review", "--owner", "sre", "--due", later, "--priority", "low")
    assert added.code == 0, added.err
    assert cli("actions", "update", f"{worked}-A2", "--status", "done").code == 0
    write_postmortem(tmp_path / "postmortems" / f"{worked}.yaml", {
        "apiVersion": "fireline/v1", "kind": "PostMortem", "incident": worked, "title": "Checkout returns 503",
        "status": "in-review", "root_cause": "The retry loop leaked pool connections",
        "contributing_factors": ["No alert on pool saturation", "Retries without backoff"],
        "five_whys": [{"why": "Why did checkout fail?", "because": "The pool was exhausted"},
                      {"why": "Why was the pool exhausted", "because": "Retries leaked connections"}],
        "went_well": ["Fast detection: 0s, target 5m"], "went_wrong": ["Status page delivery failed"],
        "lessons": ["Retries need backoff and a budget"],
        "impact": {"users_affected": 1200, "tickets": 34, "revenue": None},
    })  # fmt: skip

    rendered = cli("postmortem", "render", f"postmortems/{worked}.yaml", "--format", "md")
    assert rendered.code == 0, rendered.err

    text = cli("incident", "report", worked).out
    assert max(columns(line) for line in text.splitlines()) <= 80
    assert re.search(rf"Rendered: +md postmortems/{worked}\.md at 20", text)
    assert "Primary cause: The retry loop leaked pool connections" in text
    assert "1. No alert on pool saturation" in text
    assert "1. Why did checkout fail? The pool was exhausted" in text
    assert "2. Why was the pool exhausted? Retries leaked connections" in text
    assert "pool exhausted by a leak in the retry loop" in text  # the note stays, under root-cause notes
    assert "Users affected:   1200" in text and "Support tickets:  34" in text
    assert "What went well:\n• Fast detection: 0s, target 5m" in text
    assert "What could be improved:\n• Status page delivery failed" in text
    assert "Lessons learned:\n1. Retries need backoff and a budget" in text
    sent = _z(datetime.fromisoformat(first.ts_wall.replace("Z", "+00:00")))
    flat = " ".join(text.split())  # as read, whatever the wrapping
    assert f"{sent} · initial, identified: pool exhausted (by responder) · incidents · delivered" in flat
    assert "status-page · FAILED" in flat and "3 attempts): HTTP 500: invalid_payload" in flat
    assert "No delivery to a channel was recorded" not in text

    doc = json.loads(cli("incident", "report", worked, "--format", "json").out)
    channels = {c["channel"]: c for c in doc["communications"][0]["channels"]}
    assert channels["incidents"]["delivered"] is True and channels["incidents"]["detail"] == "HTTP 200"
    assert channels["status-page"]["delivered"] is False and channels["status-page"]["attempts"] == 3
    assert all(c["recorded_only"] for c in doc["communications"][1]["channels"])  # nothing recorded for it
    items = {i["id"]: i for i in doc["action_items"]}
    assert items[f"{worked}-A1"]["overdue"] is True and items[f"{worked}-A2"]["status"] == "done"
    assert [i["id"] for i in doc["remediation"]["short_term"]] == [f"{worked}-A1"]
    assert [i["id"] for i in doc["remediation"]["long_term"]] == [f"{worked}-A2", f"{worked}-A3"]
    assert doc["postmortem"]["status"] == "in-review" and doc["investigation"]["five_whys"][0]["because"]
    assert [(x["format"], x["path"]) for x in doc["postmortem"]["renderings"]] == [("md", f"postmortems/{worked}.md")]

    md = cli("incident", "report", worked, "--format", "md").out
    assert f"| {worked}-A1 | HIGH | Alert on pool saturation | db-team |" in md and "not-started, OVERDUE |" in md


def test_the_postmortem_the_journal_recorded_is_read_and_a_broken_one_is_named(
    worked: str, cli: Any, tmp_path: Path
) -> None:
    elsewhere = write(tmp_path / "docs" / "pm.yaml", f"apiVersion: fireline/v1\nkind: PostMortem\nincident: {worked}\n"
                      "title: Checkout\nlessons: [Budget the retries]\n")  # fmt: skip
    recorded = {"action": "drafted", "path": "docs/pm.yaml", "format": "yaml", "digest": "sha256:0"}
    open_journal().append(worked, "incident.postmortem", actor="lead", durable=True, data=recorded)
    text = " ".join(cli("incident", "report", worked).out.split())
    assert "Lessons learned: 1. Budget the retries" in text
    doc = json.loads(cli("incident", "report", worked, "--format", "json").out)
    assert (doc["postmortem"]["path"], doc["postmortem"]["status"]) == (str(elsewhere), "draft")

    elsewhere.write_text(f"apiVersion: fireline/v1\nkind: PostMortem\nincident: {worked}\ntitle: Checkout\n"
                         "five_whys: nope\n", encoding="utf-8")  # fmt: skip
    shown = cli("incident", "report", worked, "--format", "md")
    assert shown.code == 0  # the rest of the report is still worth having
    assert "could not be used:" in shown.out and "pm.yaml:5:" in shown.out.replace("\\", "")
    assert "## Incident metrics" in shown.out


SLACK_TOKEN = "hooktokenQ3vN8kT2"
CHANNELS = """\
apiVersion: fireline/v1
kind: IncidentPolicy
secrets:
  SLACK_URL: {{from: env, name: TEST_SLACK_URL}}
channels:
  incidents: {{type: slack, url: {{secret: SLACK_URL}}, retries: 1, backoff: 10ms}}
  audit: {{type: webhook, url: "{hook}", retries: 1, backoff: 10ms}}
severities:
""" + sev2(["incidents", "audit"])


def test_deliveries_to_real_channels_are_the_communication_log(
    fireline_home: Path, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.servers.channel_receiver import ChannelReceiver, Scripted

    with ChannelReceiver(SLACK_TOKEN, "unused-key") as rx:
        policy = write(tmp_path / "incident-policy.yaml", CHANNELS.format(hook=rx.webhook_url))
        monkeypatch.setenv("FIRELINE_POLICY", str(policy))
        monkeypatch.setenv("TEST_SLACK_URL", rx.slack_url)
        rx.script("webhook", Scripted(500, "down"), times=2)  # both attempts (retries: 1) fail
        declared = cli("incident", "declare", "--title", "Checkout errors", "--sev", "SEV2")
        incident_id = declared.out.strip()
        posted = cli("incident", "update", incident_id, "--status", "investigating", "--summary", "looking")
        assert posted.code == 0, posted.err
        assert len(rx.received("slack")) == 1 and len(rx.received("webhook")) == 2

    text = cli("incident", "report", incident_id).out
    flat = " ".join(text.split())
    assert re.search(r"investigating: looking \(by responder\) · incidents · delivered \S+ \S+Z \(slack, 1 attempt\)",
                     flat), flat  # fmt: skip
    assert re.search(r"audit · FAILED \S+ \S+Z \(webhook, 2 attempts\): HTTP 500", flat), flat
    assert SLACK_TOKEN not in text
    doc = json.loads(cli("incident", "report", incident_id, "--format", "json").out)
    [update] = doc["communications"]
    assert [(c["channel"], c["delivered"], c["attempts"]) for c in update["channels"]] == [
        ("incidents", True, 1), ("audit", False, 2)]  # fmt: skip
    assert SLACK_TOKEN not in json.dumps(doc)


def test_a_drill_is_reported_and_left_out_of_the_windows_numbers(fireline_home: Path, cli: Any) -> None:
    from runner.incident.model import IncidentType

    journal = open_journal()
    real = declare(journal, Declaration("Checkout down", Severity.SEV2, systems=("checkout",)), "lead")
    drill = declare(journal, Declaration("Drill: checkout down", Severity.SEV2, IncidentType.DRILL,
                                         drill_of="gd-20261204-101500-ab12"), "lead")  # fmt: skip
    text = " ".join(cli("incident", "report", drill).out.split())
    assert "Type: drill (a drill of game day gd-20261204-101500-ab12)" in text
    assert "Drills (game days) are left out, this one included." in text
    doc = json.loads(cli("incident", "report", drill, "--format", "json").out)
    assert doc["metrics"]["window"]["count"] == 1  # the real incident only
    assert doc["metrics"]["window"]["severity"]["SEV2"] == 1
    assert json.loads(cli("incident", "report", real, "--format", "json").out)["drill_of"] is None


def test_a_pdf_is_not_sent_to_a_terminal_but_goes_down_a_pipe(fireline_home: Path) -> None:
    from tests.terminal import drain, plain_lines, terminal

    incident_id = declare(open_journal(), Declaration("Checkout down", Severity.SEV2), "lead")
    with terminal(["incident", "report", incident_id, "--format", "pdf"], fireline_home) as (proc, master):
        screen = drain(master, proc)
        assert proc.wait(timeout=60) == 2
    assert "error: a PDF is not for a terminal" in plain_lines(screen)
    assert "%PDF" not in screen
    piped = subprocess.run([*FIRELINE, "incident", "report", incident_id, "--format", "pdf"], capture_output=True,
                           timeout=120, env={**os.environ, "FIRELINE_HOME": str(fireline_home)})  # fmt: skip
    assert piped.returncode == 0 and piped.stdout[:5] == b"%PDF-", piped.stderr
