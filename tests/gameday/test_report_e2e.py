"""Reports of real game days: the HTML report rendered by a real browser (headless Chromium), its SVG
timeline, a screenshot for people to look at, and the history of two runs of one scenario."""

from __future__ import annotations

import html.parser
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from runner.gameday.session import run_gameday
from runner.journal.store import Journal
from runner.lab.environment import LabEndpoints
from tests.gameday.conftest import REPO, SCENARIOS, CliRunner, Lab, assert_pristine

DB_EXHAUSTION = SCENARIOS / "checkout-db-exhaustion.yaml"
SCREENSHOT = REPO / ".artifacts" / "gameday-demo-report.png"
RUNBOOK_STEPS = ("connection-usage", "top-holders", "status-identified", "terminate-idle", "connection-usage-after",
                 "usage-below-threshold", "status-mitigated")


def chromium() -> str:
    found = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else shutil.which("chromium")
    assert found, "chromium is not installed: apt-get install -y --no-install-recommends chromium"
    return found


def browser(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


class SvgMarkers(html.parser.HTMLParser):
    """Class lists of the elements inside <svg id="timeline"> (as the browser's DOM has them), and the text of
    each marker's <title> (its tooltip)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.classes: list[list[str]] = []
        self.titles: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg" and dict(attrs).get("id") == "timeline":
            self.depth = 1
            return
        if self.depth:
            self.depth += 1
            self.classes.append((dict(attrs).get("class") or "").split())
            self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.titles.append(data)

    def markers(self, kind: str) -> int:
        return sum(1 for c in self.classes if "marker" in c and kind in c)


@pytest.fixture(scope="module")
def reports_home(lab_endpoints: LabEndpoints, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """Two real game days of one scenario, run once for this module's tests, in their own journal."""
    home = tmp_path_factory.mktemp("reports-home")
    ids = []
    with pytest.MonkeyPatch.context() as mp:
        for name, value in lab_endpoints.environment().items():
            mp.setenv(name, value)
        for _ in range(2):
            result = run_gameday(DB_EXHAUSTION, {"service_url": lab_endpoints.service_url}, "tester",
                                 Journal(home / "journal.db"), io.StringIO())
            assert result.status == "passed", result
            ids.append(result.gameday_id)
    assert_pristine(lab_endpoints, "after the two game days")
    return home, ids[0], ids[1]


@pytest.fixture
def two_game_days(lab: Lab, reports_home: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """The ids of the two game days (older, newer), with FIRELINE_HOME pointing at their journal."""
    home, older, newer = reports_home
    monkeypatch.setenv("FIRELINE_HOME", str(home))
    return older, newer


def test_html_report_in_a_real_browser(lab: Lab, cli: CliRunner, two_game_days: tuple[str, str],
                                       tmp_path: Path) -> None:
    gameday_id = two_game_days[1]
    page = tmp_path / "report.html"
    written = cli("gameday", "report", gameday_id, "--format", "html", "-o", str(page))
    assert written.code == 0, written.err
    assert "<script" not in page.read_text(encoding="utf-8")  # self-contained and inert

    dom = browser(tmp_path / "profile-dom", "--dump-dom", page.as_uri()).stdout
    assert 'id="verdict"' in dom and "PASSED" in dom.upper()
    svg = SvgMarkers()
    svg.feed(dom)
    assert svg.classes, "the browser's DOM has no timeline SVG"
    for kind in ("fault", "detect", "ack", "mitigate", "recover", "revert"):
        assert svg.markers(kind) == 1, (kind, svg.classes)
    assert svg.markers("step") == len(RUNBOOK_STEPS)
    assert svg.markers("status-ok") == len(RUNBOOK_STEPS)
    tooltips = " | ".join(svg.titles)
    for step in RUNBOOK_STEPS:
        assert re.search(rf"\b{re.escape(step)}: ok, T\+", tooltips), step
    assert "Fault leaking-pool injected at T+0" in tooltips
    assert "Fault leaking-pool: reverted at T+" in tooltips
    for metric in ("Time to detect", "Time to acknowledge", "Time to mitigate", "Time to recover"):
        assert metric in dom

    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    browser(tmp_path / "profile-shot", f"--screenshot={SCREENSHOT}", "--window-size=1280,1700",
            "--hide-scrollbars", page.as_uri())
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert SCREENSHOT.stat().st_size > 20_000  # a rendered page, not a blank one


def test_history_shows_both_runs_with_trends(lab: Lab, cli: CliRunner, two_game_days: tuple[str, str]) -> None:
    older, newer = two_game_days
    result = cli("gameday", "history", "--scenario", "checkout-db-exhaustion")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "Game days of checkout-db-exhaustion"
    assert lines[1].split() == ["ID", "STATUS", "DETECT", "ACK", "MITIGATE", "RECOVER"]
    rows = [line for line in lines[2:] if " passed " in line]
    assert len(rows) == 2, result.out
    newest, oldest = rows  # newest first
    # The newer run is compared with the older: every metric carries ↑ (faster), ↓ (slower) or = (same tick).
    cells = newest.split("passed", 1)[1]
    assert len(re.findall(r"[↑↓=]", cells)) == 4, newest
    assert not re.search(r"[↑↓=]", oldest), oldest  # nothing before it to compare with
    assert all(len(line) <= 100 for line in lines)
    del older, newer


def test_history_ids_identify_each_game_day(lab: Lab, cli: CliRunner, two_game_days: tuple[str, str]) -> None:
    out = cli("gameday", "history", "--scenario", "checkout-db-exhaustion").out
    rows = [line for line in out.splitlines() if " passed " in line]
    shown = [row.split()[0] for row in rows]
    assert shown == list(reversed(two_game_days))  # whole ids, newest first
    for full in shown:
        assert cli("gameday", "report", full, "--format", "json").code == 0


def test_the_report_tells_the_finding_from_failures_and_who_approved(lab: Lab, cli: CliRunner,
                                                                    two_game_days: tuple[str, str]) -> None:
    gameday_id = two_game_days[1]
    md = cli("gameday", "report", gameday_id, "--format", "md").out
    # The health probe failing while the pool is held is what the game day set out to see.
    assert "Finding: probe checkout-health detects the fault, as expected" in md
    assert "Probe checkout-health failing" not in md
    steps = {line.split("`")[1]: line for line in md.splitlines() if line.startswith("  - `")}
    assert set(steps) == set(RUNBOOK_STEPS)
    assert f"approved by fireline-gameday with --approve-all: game day {gameday_id}" in steps["terminate-idle"]
    for read_or_update in ("connection-usage", "status-identified", "status-mitigated"):
        assert steps[read_or_update].endswith("— no approval needed"), steps[read_or_update]
    page = cli("gameday", "report", gameday_id, "--format", "html").out
    svg = SvgMarkers()
    svg.feed(page)
    assert svg.markers("finding") >= 1 and svg.markers("probe") == 0
    times = re.findall(r'<td class="num">(\d\d:\d\d:\d\d\.\d{3})</td><td><code>response\.step', page)
    # Each step at its own end (copied into the game day together when the run stopped, they used to share
    # the copy's time); fast steps may end within the same millisecond.
    assert len(times) == len(RUNBOOK_STEPS) and times == sorted(times) and len(set(times)) >= 3, times
