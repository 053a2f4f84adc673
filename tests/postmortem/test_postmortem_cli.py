"""`fireline postmortem draft|render|validate` on an incident run end to end through the CLI: declared, a runbook
run linked with --incident (a step that needed a retry, an approval the run waited for), status updates
posted, notes taken, resolved. The draft carries the real timeline and the measured times; Markdown has the
classic template's shape; the HTML shows the timeline picture in a real browser; the PDF renders."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.journal.store import open_journal
from runner.postmortem import record
from tests.conftest import write
from tests.incident.documents import restart_runbook
from tests.report.browser import CHROMIUM, chromium
from tests.report.test_pdf import ink_of_page_one, pdf_text

FLAKY_PROBE = """\
  - id: flaky-probe
    action: shell.run
    read_only: true
    retries: {count: 1, delay: 10ms}
    on_failure: continue
    with: {argv: ["false"]}
"""
TITLE = "Checkout returns 503 <script>alert(1)</script> | pipe"


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _incident(tmp_path: Path, cli: Any) -> str:
    now = datetime.now(UTC).replace(microsecond=0)
    started, detected = now - timedelta(minutes=20), now - timedelta(minutes=17)
    declared = cli("incident", "declare", "--title", TITLE, "--sev", "SEV2", "--systems", "checkout",
                   "--impact", "Orders fail for all users", "--started-at", _stamp(started),
                   "--detected-at", _stamp(detected), "--commander", "alice", "--as", "alice")  # fmt: skip
    assert declared.code == 0, declared.err
    incident_id = declared.out.strip().splitlines()[-1]
    assert cli("incident", "ack", incident_id, "--as", "bob").code == 0
    assert cli("incident", "assign", incident_id, "participant", "carol").code == 0
    assert cli("incident", "update", incident_id, "--status", "investigating", "--summary",
               "Checkout fails with 503", "--as", "dave").code == 0  # fmt: skip
    assert cli("incident", "note", incident_id, "Connection pool exhausted by a leak in v1.3.0", "--kind",
               "root-cause").code == 0  # fmt: skip
    assert cli("incident", "note", incident_id, "Add connection pool monitoring", "--kind", "action").code == 0
    assert cli("incident", "note", incident_id, "Restart rather than roll back", "--kind", "decision").code == 0

    runbook = write(tmp_path / "restart.yaml", restart_runbook(tmp_path / "restarted", FLAKY_PROBE))
    paused = cli("run", str(runbook), "--incident", incident_id, "--output", "plain")
    assert paused.code == 3, paused.out + paused.err  # waits for the approval of the restart
    run_id = re.search(r"\d{8}-\d{6}-[0-9a-f]{6}", paused.out + paused.err).group(0)  # type: ignore[union-attr]
    assert cli("approve", run_id, "restart", "--reason", "restart it", "--as", "erin").code == 0
    resumed = cli("resume", run_id, "--output", "plain")
    # The restart mitigated; the run counts as failed for the probe that failed (on_failure: continue).
    assert resumed.code == 1 and "restart ok" in resumed.out, resumed.out + resumed.err
    monitoring = cli("incident", "update", incident_id, "--status", "monitoring", "--summary", "Restarted, watching")
    assert monitoring.code == 0
    resolved = cli("incident", "resolve", incident_id, "--hold", "0s")
    assert resolved.code == 0, resolved.out + resolved.err
    return incident_id


@pytest.fixture
def incident(tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    return _incident(tmp_path, cli)


def _yaml(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def test_the_draft_holds_the_real_timeline_and_the_measured_times(incident: str, cli: Any, tmp_path: Path) -> None:
    drafted = cli("postmortem", "draft", incident.lower())
    assert drafted.code == 0, drafted.err
    path = tmp_path / "postmortems" / f"{incident}.yaml"
    assert f"drafted postmortems/{incident}.yaml" in drafted.out
    data = _yaml(path)
    assert (data["kind"], data["incident"], data["title"], data["status"]) == ("PostMortem", incident, TITLE, "draft")

    summary = data["summary"]
    assert re.fullmatch(r"On \d\d \w{3} 20\d\d, checkout had a SEV2 availability incident lasting 2\d minutes: "
                        + re.escape(TITLE), summary["what"])  # fmt: skip
    assert summary["severity"] == "SEV2"
    assert summary["impact"] == "Orders fail for all users"
    assert re.fullmatch(r"2\dm\d\ds", summary["duration"])  # resolved about 20 minutes after the impact started
    journal = open_journal()
    milestones = {e.data["name"]: e.data["at"] for e in journal.events(incident, ("incident.milestone",))}
    assert summary["started"] == milestones["started"][:19] + "Z"
    assert summary["resolved"] == milestones["resolved"][:19] + "Z"

    texts = [row["text"] for row in data["timeline"]]
    kinds = {row["kind"] for row in data["timeline"]}
    assert {"milestone", "update", "note", "decision", "step", "approval", "verification"} <= kinds
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["at"]) for row in data["timeline"])
    assert [row["at"] for row in data["timeline"]] == sorted(row["at"] for row in data["timeline"])
    assert texts[:2] == ["Impact started", "Detected by alice"]
    assert "Acknowledged by bob" in texts
    assert any(t.startswith("Status update (investigating) by dave") and "Checkout fails with 503" in t for t in texts)
    assert any("restart: approved by erin" in t for t in texts)
    assert any("flaky-probe: attempt 1 failed" in t for t in texts)
    assert any(t.startswith("Runbook restart-checkout: restart: succeeded") for t in texts)
    assert not any("look: succeeded" in t for t in texts)  # a read changed nothing

    assert data["root_cause"] == "Connection pool exhausted by a leak in v1.3.0"
    assert data["five_whys"][0]["because"] == data["root_cause"] and len(data["five_whys"]) == 5
    assert data["impact"]["systems"] == ["checkout"]
    assert data["impact"]["users_affected"] is None and data["impact"]["tickets"] is None
    assert "Fast detection: 3 minutes, target 5 minutes" in data["went_well"]
    assert any(re.match(r"Slow acknowledgement: 2\d minutes, target 15 minutes", w) for w in data["went_wrong"])
    assert any(w.startswith("Approvals answered within") for w in data["went_well"])
    assert "Status updates kept the 30m cadence: 2 sent, none late" in data["went_well"]
    assert any(w.startswith("Runbook step flaky-probe failed") for w in data["went_wrong"])
    assert [i["title"] for i in data["action_items"]] == ["Add connection pool monitoring"]

    [drafted_event] = record.records(journal, incident)
    assert (drafted_event.action, drafted_event.format, drafted_event.path) == ("drafted", "yaml", str(Path(
        "postmortems") / f"{incident}.yaml"))  # fmt: skip
    assert drafted_event.digest.startswith("sha256:")
    assert "post-mortem drafted" in cli("incident", "timeline", incident).out

    valid = cli("postmortem", "validate", str(path))
    assert valid.code == 0, valid.out
    assert "all valid, 0 blameless-language warning(s)" in valid.out


def test_markdown_has_the_template_with_the_real_timeline(incident: str, cli: Any, tmp_path: Path) -> None:
    assert cli("postmortem", "draft", incident).code == 0
    path = tmp_path / "postmortems" / f"{incident}.yaml"
    rendered = cli("postmortem", "render", str(path), "--format", "md")
    assert rendered.code == 0, rendered.err
    md = path.with_suffix(".md").read_text(encoding="utf-8")
    headings = [line for line in md.splitlines() if line.startswith("## ")]
    assert headings[:8] == ["## Summary", "## Timeline (UTC)", "## Root Cause", "## Impact", "## What Went Well",
                            "## What Went Wrong", "## Action Items", "## Lessons Learned"]  # fmt: skip
    assert md.startswith("# Post-Mortem: Checkout returns 503 \\<script\\>alert(1)\\</script\\> \\| pipe (")
    data = _yaml(path)
    rows = [line for line in md.splitlines() if line.startswith("| 20")]
    assert len(rows) == len(data["timeline"])  # no value split a row or added one
    assert all(line.count(" | ") == 1 for line in rows)  # two cells: the `|` in the title stays inside its cell
    first = data["timeline"][0]["at"].replace("T", " ")
    assert rows[0] == f"| {first} | Impact started |"
    assert "- ✅ Fast detection: 3 minutes, target 5 minutes" in md
    assert "- [ ] Add connection pool monitoring (owner to be named, no due date)" in md
    journal = open_journal()
    recorded = [(r.action, r.format) for r in record.records(journal, incident)]
    assert recorded == [("drafted", "yaml"), ("rendered", "md")]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium not installed")
def test_the_html_shows_the_timeline_picture_in_a_browser(incident: str, cli: Any, tmp_path: Path) -> None:
    assert cli("postmortem", "draft", incident).code == 0
    path = tmp_path / "postmortems" / f"{incident}.yaml"
    out = tmp_path / "report.html"
    assert cli("postmortem", "render", str(path), "--format", "html", "-o", str(out)).code == 0
    page = out.read_text(encoding="utf-8")
    assert "<script" not in page.lower() and "<link" not in page.lower()  # self-contained, and escaped

    png = tmp_path / "shot.png"
    shot = chromium(tmp_path, f"--screenshot={png}", "--window-size=1200,1000", out.as_uri())
    assert png.exists(), shot.stderr[-2000:]
    assert png.stat().st_size > 10_000
    dom = chromium(tmp_path, "--dump-dom", out.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    svg = dom.stdout[dom.stdout.index('<svg id="timeline"'):dom.stdout.index("</svg>")]
    assert svg.count('class="marker milestone') == 5  # started, detected, acknowledged, mitigated, resolved
    assert svg.count('class="marker step') >= 3 and svg.count('class="marker update') == 2
    assert 'class="marker approval' in svg
    assert "Detected T+3m00s" in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom.stdout and "<script>alert(1)" not in dom.stdout


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_the_pdf_renders_with_the_title_and_the_timeline(incident: str, cli: Any, tmp_path: Path) -> None:
    assert cli("postmortem", "draft", incident).code == 0
    path = tmp_path / "postmortems" / f"{incident}.yaml"
    rendered = cli("postmortem", "render", str(path), "--format", "pdf")
    assert rendered.code == 0, rendered.err
    pdf = path.with_suffix(".pdf").read_bytes()
    text = pdf_text(pdf, tmp_path)
    assert f"Post-Mortem: {TITLE}" in " ".join(text.split())
    assert "Impact started" in text and "Fast detection: 3 minutes, target 5 minutes" in " ".join(text.split())
    assert ink_of_page_one(pdf, tmp_path) > 0.01
    assert cli("postmortem", "render", str(path), "--format", "pdf", "-o", "-").code == 2


def test_a_participant_named_as_the_cause_gets_the_blameless_warning(incident: str, cli: Any, tmp_path: Path) -> None:
    assert cli("postmortem", "draft", incident).code == 0
    path = tmp_path / "postmortems" / f"{incident}.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "root_cause: Connection pool exhausted by a leak in v1.3.0",
        "root_cause: |-\n  Connection pool exhausted.\n  Carol deployed broken code on Friday.",
    )
    path.write_text(text, encoding="utf-8")
    line = text.splitlines().index("  Carol deployed broken code on Friday.") + 1

    checked = cli("postmortem", "validate", str(path))
    assert checked.code == 0, checked.out  # a warning, not an error
    [warning] = [w for w in checked.out.splitlines() if ": warning: " in w]
    assert warning.startswith(f"{path}:{line}:3: warning: root_cause: blame: names a person as the cause ('Carol'")
    assert "The deployment process didn't catch broken code on Friday" in warning
    assert "1 blameless-language warning(s)" in checked.out
    assert cli("postmortem", "validate", str(path), "--strict").code == 1


def test_an_edited_draft_is_kept_and_force_keeps_peoples_fields(incident: str, cli: Any, tmp_path: Path) -> None:
    assert cli("postmortem", "draft", incident).code == 0
    path = tmp_path / "postmortems" / f"{incident}.yaml"
    data = _yaml(path)
    data["root_cause"] = "Connection leak in the new auth flow (found in review)"
    data["impact"]["users_affected"] = 10000
    data["went_well"].append("Team coordination across time zones")
    removed = data["went_well"].pop(0)  # people deleted one of fireline's sentences
    data["authors"] = ["erin"]
    data["status"] = "in-review"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    edited = path.read_bytes()

    again = cli("postmortem", "draft", incident)
    assert again.code == 1
    assert "has been edited since it was drafted" in again.err and "--force" in again.err
    assert "root_cause" in again.err
    assert path.read_bytes() == edited  # not touched

    assert cli("incident", "note", incident, "Alert on pool saturation", "--kind", "action").code == 0
    forced = cli("postmortem", "draft", incident, "--force")
    assert forced.code == 0, forced.err
    assert "kept what people wrote in:" in forced.out and "root_cause" in forced.out
    after = _yaml(path)
    assert after["root_cause"] == "Connection leak in the new auth flow (found in review)"
    assert after["impact"]["users_affected"] == 10000
    assert after["authors"] == ["erin"] and after["status"] == "in-review"
    assert "Team coordination across time zones" in after["went_well"]
    assert removed not in after["went_well"]  # what people deleted stays deleted
    assert [i["title"] for i in after["action_items"]] == ["Add connection pool monitoring", "Alert on pool saturation"]
    assert after["timeline"] == sorted(after["timeline"], key=lambda row: row["at"])
    assert any(row["text"].endswith("Alert on pool saturation") for row in after["timeline"])
    # Still people's work: a plain draft refuses again; the file validates.
    assert cli("postmortem", "draft", incident).code == 1
    assert cli("postmortem", "validate", str(path)).code == 0


def test_a_delivery_that_failed_is_on_the_timeline_and_in_what_went_wrong(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real webhook receiver on loopback answers 500: the update is recorded, its failed delivery drafted."""
    import http.server
    import threading

    class Failing(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b'{"error": "invalid_payload"}'
            self.send_response(500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.chdir(tmp_path)
        write(tmp_path / "incident-policy.yaml", f"""\
apiVersion: fireline/v1
kind: IncidentPolicy
channels:
  audit: {{type: webhook, url: "http://127.0.0.1:{server.server_address[1]}/hook", retries: 1, backoff: 10ms}}
severities:
  SEV3: {{title: medium, definition: Minor, response_target: 1h, update_cadence: 2h, roles: [], channels: [audit],
         criteria: []}}
""")  # fmt: skip
        declared = cli("incident", "declare", "--title", "Search is slow", "--sev", "SEV3")
        incident_id = declared.out.strip().splitlines()[-1]
        cli("incident", "update", incident_id, "--status", "investigating", "--summary", "Looking at the index")
        assert cli("postmortem", "draft", incident_id).code == 0
    finally:
        server.shutdown()
        server.server_close()
    data = _yaml(tmp_path / "postmortems" / f"{incident_id}.yaml")
    deliveries = [row for row in data["timeline"] if row["kind"] == "delivery"]
    assert deliveries and "audit" in deliveries[-1]["text"] and "500" in deliveries[-1]["text"]
    assert any(w.startswith("Status update not delivered to audit: HTTP 500") and "(after 2 attempt(s))" in w
               for w in data["went_wrong"]), data["went_wrong"]  # fmt: skip
