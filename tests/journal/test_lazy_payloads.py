"""Payload classes become dataclasses when first built or decoded, not at import (a run builds four or five of
some twenty): each check runs in a new process, where no class has been used yet."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _fresh(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_importing_the_journal_builds_no_payload_dataclass() -> None:
    out = _fresh("""
        from runner.journal import events as ev
        from runner.journal.payloads import _REGISTRY
        print(sorted(t for t, cls in _REGISTRY.items() if "__dataclass_fields__" in vars(cls)))
    """)
    assert out.strip() == "[]"


def test_a_subclass_decoded_first_has_its_bases_fields_and_behaves_as_a_frozen_dataclass() -> None:
    out = _fresh("""
        import dataclasses
        from runner.journal import events as ev
        plan = ev.PlanStarted.from_data({"runbook": "/r.yaml", "name": "n", "gameday": "g1", "steps": ["a"]})
        print(plan.runbook, plan.parent, plan.steps, plan.to_data()["name"])
        run = ev.RunStarted("/r.yaml", "n", "t", "d")
        moved = ev.StepTransition("b", "continue")
        print(run == ev.RunStarted("/r.yaml", "n", "t", "d"), hash(moved) == hash(ev.StepTransition("b", "continue")))
        try:
            run.name = "x"
        except dataclasses.FrozenInstanceError:
            print("frozen")
        print(repr(ev.StepTransition("b", "continue")))
        print(ev.decode(ev.Event("r", 1, "", 0.0, ev.STEP_FAILED, data={"error": "boom", "duration_s": 2})))
    """)
    lines = out.splitlines()
    assert lines[0] == "/r.yaml g1 ('a',) n"
    assert lines[1] == "True True"
    assert lines[2] == "frozen"
    assert lines[3] == "StepTransition(to='b', why='continue')"
    assert lines[4].startswith("StepFailed(error='boom', hint=None, duration_s=2.0")


def test_threads_building_a_payload_first_at_the_same_time_all_succeed() -> None:
    out = _fresh("""
        import threading
        from runner.journal import events as ev
        start, built = threading.Barrier(8), []
        def build():
            start.wait()
            built.append(ev.StepSucceeded(summary="ok").to_data()["summary"])
        threads = [threading.Thread(target=build) for _ in range(8)]
        for t in threads: t.start()
        for t in threads: t.join()
        print(built.count("ok"))
    """)
    assert out.strip() == "8"
