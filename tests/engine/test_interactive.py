"""The approval prompt on a real terminal (a pseudo-terminal): what the responder sees and types, and whom
the journal credits."""

from __future__ import annotations

import os
from pathlib import Path

from runner.journal import events as ev
from runner.journal.store import open_journal
from tests.conftest import write
from tests.terminal import drain, read_until, terminal


def _runbook(tmp_path: Path, marker: Path, extra: str) -> Path:
    return write(tmp_path / "rb.yaml", f"""\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: prompt}}
steps:
  - id: change
    action: shell.run
    {extra}
    with: {{argv: [touch, "{marker}"]}}
""")


def _events(home: Path, screen: str, type_: str) -> list[ev.Event]:
    run_id = next(w for w in screen.split() if w.count("-") == 2 and w[:8].isdigit())
    os.environ["FIRELINE_HOME"] = str(home)
    return open_journal().events(run_id, (type_,))


def test_prompt_shows_the_change_and_typing_the_step_id_approves(tmp_path: Path, fireline_home: Path) -> None:
    marker = tmp_path / "changed"
    path = _runbook(tmp_path, marker, "notes: Creates the marker file.")
    with terminal(["run", str(path), "--as", "alice"], fireline_home) as (proc, master):
        screen = read_until(master, "Type 'change' to approve as alice")
        assert "what will change: would run: touch" in screen  # before the question
        assert "Creates the marker file." in screen
        assert not marker.exists()
        os.write(master, b"change\n")
        screen += read_until(master, "Reason")
        assert not marker.exists()  # nothing runs before the reason is given
        os.write(master, b"INC-7 disk full on db-1\n")
        screen += drain(master, proc)
        assert proc.wait(timeout=20) == 0, screen
    assert marker.exists()
    approved = _events(fireline_home, screen, ev.STEP_APPROVED)
    assert [(e.actor, ev.StepApproved.of(e).via, ev.StepApproved.of(e).reason) for e in approved] == [
        ("alice", "prompt", "INC-7 disk full on db-1")
    ]


def test_a_mistyped_answer_can_be_typed_again(tmp_path: Path, fireline_home: Path) -> None:
    marker = tmp_path / "changed"
    path = _runbook(tmp_path, marker, "")
    with terminal(["run", str(path), "--output", "plain"], fireline_home) as (proc, master):
        read_until(master, "Type 'change'")
        os.write(master, b"chnage\n")
        screen = read_until(master, "2 tries left")
        assert "'chnage' is not 'change'" in screen
        os.write(master, b"change\n")
        read_until(master, "Reason")
        os.write(master, b"\n")  # an empty reason is asked again
        read_until(master, "A reason is needed")
        os.write(master, b"INC-8\n")
        screen += drain(master, proc)
        assert proc.wait(timeout=20) == 0, screen
    assert marker.exists()


def test_wrong_answers_a_refusal_or_a_timeout_fail_closed(tmp_path: Path, fireline_home: Path) -> None:
    marker = tmp_path / "changed"
    for answers, decision in (([b"yes\n", b"ok\n", b"y\n"], "refused"), ([b"no\n"], "refused"), ([], "timeout")):
        # Only the unanswered prompt has a time limit: answering takes round trips on a loaded machine.
        path = _runbook(tmp_path, marker, "approval: {timeout: 2s}" if not answers else "")
        with terminal(["run", str(path), "--output", "plain", "--as", "bob"], fireline_home) as (proc, master):
            screen = read_until(master, "Type 'change'")
            for answer in answers:
                os.write(master, answer)
                if answer != answers[-1]:
                    screen += read_until(master, "left)")
            screen += drain(master, proc)
            assert proc.wait(timeout=20) == 3, screen
            assert "fireline approve" in screen
        assert not marker.exists()
        decisions = _events(fireline_home, screen, ev.STEP_DECISION)
        assert [(e.actor, ev.StepDecision.of(e).decision) for e in decisions] == [("bob", decision)], answers
        assert not _events(fireline_home, screen, ev.STEP_APPROVED)


def test_after_resume_as_someone_else_the_prompt_credits_them(tmp_path: Path, cli, fireline_home: Path) -> None:
    marker = tmp_path / "changed"
    path = _runbook(tmp_path, marker, "")
    started = cli("run", str(path), "--output", "plain", "--as", "starter")  # no terminal: pauses for approval
    assert started.code == 3, started.out
    run_id = next(w for w in started.out.split() if w.count("-") == 2 and w[:8].isdigit())
    with terminal(["resume", run_id, "--output", "plain", "--as", "carol"], fireline_home) as (proc, master):
        screen = read_until(master, "Type 'change' to approve as carol")
        os.write(master, b"change\n")
        read_until(master, "Reason")
        os.write(master, b"took over from starter, INC-9\n")
        screen += drain(master, proc)
        assert proc.wait(timeout=20) == 0, screen
    assert marker.exists()
    approved = open_journal().events(run_id, (ev.STEP_APPROVED,))
    assert [(e.actor, ev.StepApproved.of(e).via) for e in approved] == [("carol", "prompt")]
    assert ev.StepApproved.of(approved[0]).reason == "took over from starter, INC-9"
