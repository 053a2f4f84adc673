"""A response run that pauses at an approval gate, is approved and resumed, still counts for its game day: the
resumed run keeps its link (run.started's parent), its end is the mitigation, and the report shows it.

Cheap real game days (a flagd file, a shell probe, `python -m runner gameday run` in its own session); the
responder's commands run in-process. The probe passes again only once the test says so (a marker file),
after the resumed run has returned, so the order of mitigation and recovery does not depend on timing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import Cli
from tests.gameday.conftest import CliRunner, Ev, GameDayProcess, journal_events, types_of, wait_for
from tests.gameday.flagfile import ON_LINE, flags_text, gameday, scenario_text

RUNBOOK = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: switch-checkout-back-on, title: Switch new-checkout back on}}
steps:
  - id: look
    action: shell.run
    read_only: true
    with: {{argv: ["true"]}}
  - id: switch-on
    action: shell.run
    with: {{argv: [touch, "{mitigated}"]}}
    approval: {{required: true}}
"""


def setup(tmp_path: Path, response: str) -> tuple[Path, Path, Path, Path]:
    """(scenario, flags file, runbook, healed marker): the probe is healthy while the flag is on or once the
    marker exists."""
    flags, healed = tmp_path / "flags.json", tmp_path / "healed"
    flags.write_text(flags_text(), encoding="utf-8")
    runbook = tmp_path / "switch-on.yaml"
    runbook.write_text(RUNBOOK.format(mitigated=tmp_path / "mitigated"), encoding="utf-8")
    probe = ["sh", "-c", 'test -e "$1" || grep -qF "$2" "$3"', "probe", str(healed), ON_LINE,
             "{{ inputs.flag_file }}"]
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        scenario_text(duration="10m", settle="300ms", probe_argv=probe, response=response.format(runbook=runbook),
                      extra="objectives:\n  time_to_mitigate: 2m\n"),
        encoding="utf-8",
    )
    return scenario, flags, runbook, healed


def run_id_of(result: Cli) -> str:
    match = re.search(r"\bid (\S+)", result.out)
    assert match, result.out + result.err
    return match.group(1)


def approve_and_resume(cli: CliRunner, run_id: str, tmp_path: Path) -> None:
    approved = cli("approve", run_id, "switch-on", "--as", "bob", "--reason", "drill")
    assert approved.code == 0, approved.out + approved.err
    resumed = cli("resume", run_id, "--output", "plain")
    assert resumed.code == 0, resumed.out + resumed.err
    assert f"run {run_id} succeeded" in resumed.out
    assert (tmp_path / "mitigated").exists()


def finish(gd: GameDayProcess, healed: Path) -> str:
    healed.touch()  # the system is healthy again: the game day recovers, reverts and ends
    code = gd.wait(60)
    output = gd.output
    assert code == 0, output
    assert "PASSED" in output
    return output


def check_mitigation(home: Path, gameday_id: str, run_id: str, cli: CliRunner) -> None:
    events = journal_events(home, gameday_id)
    finished = [e for e in events if e.type == "response.finished"]
    assert [(e.data["run_id"], e.data["status"]) for e in finished] == [(run_id, "paused"), (run_id, "succeeded")]
    steps = [(e.step_id, e.data["status"]) for e in events if e.type == "response.step"]
    assert steps == [("look", "ok"), ("switch-on", "ok")]  # each step once: the resume adds only what it did
    injected = one(events, "fault.injected")
    metrics = {m["name"]: m for m in one(events, "gameday.finished").data["metrics"]}
    # Mitigated when the resumed run finished, measured from the injection.
    assert metrics["time_to_mitigate"]["seconds"] == finished[1].ts_mono - injected.ts_mono
    assert metrics["time_to_mitigate"]["passed"] is True
    assert one(events, "gameday.finished").data["status"] == "passed"
    order = [e.seq for e in (one(events, "response.started"), *finished, one(events, "gameday.recovered"))]
    assert order == sorted(order), types_of(events)
    # The resumed run still names its game day.
    started = [e for e in journal_events(home, run_id) if e.type == "run.started"]
    assert [e.data["parent"] for e in started] == [gameday_id]

    report = cli("gameday", "report", gameday_id, "--format", "json")
    assert report.code == 0, report.err
    doc = json.loads(report.out)
    assert doc["status"] == "passed"
    assert [(r["run_id"], r["status"]) for r in doc["responses"]] == [(run_id, "succeeded")]
    mitigate = next(m for m in doc["metrics"] if m["name"] == "time_to_mitigate")
    assert mitigate["seconds"] is not None and mitigate["seconds"] > 0


def one(events: list[Ev], type_: str) -> Ev:
    found = [e for e in events if e.type == type_]
    assert len(found) == 1, f"{type_}: {len(found)} in {types_of(events)}"
    return found[0]


def test_a_manual_response_run_resumed_after_approval_is_the_mitigation(
    tmp_path: Path, fireline_home: Path, cli: CliRunner
) -> None:
    scenario, flags, runbook, healed = setup(tmp_path, "{{mode: manual, timeout: 2m}}")
    with gameday(fireline_home, scenario, flags) as gd:
        gd.wait_event("gameday.detected")
        gameday_id = gd.gameday_id()
        paused = cli("run", str(runbook), "--gameday", gameday_id[:12], "--output", "plain")
        assert paused.code == 3, paused.out + paused.err  # the gate fails closed without a terminal
        run_id = run_id_of(paused)
        approve_and_resume(cli, run_id, tmp_path)
        output = finish(gd, healed)

    assert "response.finished: paused" in output and "response.finished: succeeded" in output
    events = journal_events(fireline_home, gameday_id)
    assert one(events, "gameday.acknowledged").data == {"via": "runbook", "run_id": run_id}
    check_mitigation(fireline_home, gameday_id, run_id, cli)


def test_an_automated_response_run_resumed_after_approval_is_the_mitigation(
    tmp_path: Path, fireline_home: Path, cli: CliRunner
) -> None:
    scenario, flags, _, healed = setup(tmp_path, '{{mode: runbook, runbook: "{runbook}", approve: false, timeout: 2m}}')
    with gameday(fireline_home, scenario, flags) as gd:
        paused = gd.wait_event("response.finished", timeout=30)
        gameday_id = gd.gameday_id()
        assert paused.data["status"] == "paused"  # nobody there to approve: the response run waits
        run_id = str(paused.data["run_id"])
        wait_for(lambda: "switch-on needs approval" in gd.output, "the game day to show the gate")
        approve_and_resume(cli, run_id, tmp_path)
        finish(gd, healed)

    check_mitigation(fireline_home, gameday_id, run_id, cli)


def test_run_gameday_names_an_unknown_game_day(tmp_path: Path, fireline_home: Path, cli: CliRunner) -> None:
    _, _, runbook, _ = setup(tmp_path, "{{mode: manual, timeout: 2m}}")
    result = cli("run", str(runbook), "--gameday", "gd-nope", "--output", "plain")
    assert result.code == 2, result.out + result.err
    assert "no game day 'gd-nope'" in result.err and "Traceback" not in result.err
    assert not (tmp_path / "mitigated").exists()


def test_a_run_recorded_before_the_link_was_neutral_keeps_its_game_day() -> None:
    from runner.journal.events import RunStarted

    old = {"runbook": "/rb.yaml", "name": "rb", "title": "", "digest": "d", "gameday": "gd-1"}
    assert RunStarted.from_data(old).parent == "gd-1"
    assert RunStarted.from_data({**old, "gameday": None}).parent is None
    assert RunStarted(runbook="/rb.yaml", name="rb", title="", digest="d", parent="gd-2").to_data()["parent"] == "gd-2"
