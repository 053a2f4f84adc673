"""The step graph (runner/document/graph.py): targets exist, every step can be reached, a loop that only a
failure can leave is a warning — reported by `fireline validate` with file:line:col."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import write

HEADER = "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: g}\nsteps:\n"


def _step(step_id: str, extra: str = "") -> str:
    return f"  - id: {step_id}\n    action: control.sleep\n    with: {{duration: 1ms}}\n{extra}"


def _line(out: str, start: str) -> str:
    """The one reported line that starts with `start` (file:line:col)."""
    found = [line for line in out.splitlines() if line.startswith(start)]
    assert len(found) == 1, out
    return found[0]


def _validate(cli, tmp_path: Path, steps: str) -> tuple[int, str, str]:
    path = write(tmp_path / "rb.yaml", HEADER + steps)
    result = cli("validate", str(path))
    return result.code, result.out, str(path)


def test_unknown_targets_are_errors_with_a_suggestion(tmp_path: Path, cli) -> None:
    code, out, path = _validate(
        cli,
        tmp_path,
        _step("check", "    next: rollbak\n")
        + "  - id: decide\n    action: control.branch\n    with:\n      choices:\n"
        + '        - {when: "{{ true }}", goto: rolback}\n      default: nowhere\n'
        + _step("rollback"),
    )
    assert code == 1
    assert _line(out, f"{path}:8:11: ").endswith(".next: 'rollbak' is not a step id (hint: did you mean 'rollback'?)")
    assert ".goto: 'rolback' is not a step id (hint: did you mean 'rollback'?)" in _line(out, f"{path}:13:38: ")
    assert ".default: 'nowhere' is not a step id" in _line(out, f"{path}:14:16: ")
    # A missing target leaves what is reachable unknown: no "can never run" on top.
    assert "can never run" not in out


def test_a_step_after_end_that_nothing_goes_to_is_an_error(tmp_path: Path, cli) -> None:
    code, out, path = _validate(cli, tmp_path, _step("a", "    end: true\n") + _step("orphan") + _step("after"))
    assert code == 1
    assert (": step 'orphan' can never run: it comes after `end: true` in step 'a', and no step goes to it") in _line(
        out, f"{path}:9:5: "
    )
    assert "step 'after' can never run: step 'orphan' before it can never run either, and no step goes to it" in out


def test_a_step_skipped_by_next_or_a_branch_is_unreachable_unless_something_goes_to_it(tmp_path: Path, cli) -> None:
    code, out, _ = _validate(
        cli,
        tmp_path,
        _step("a", "    next: c\n")
        + _step("b")
        + "  - id: c\n    action: control.branch\n    with:\n      choices:\n"
        + '        - {when: "{{ true }}", goto: e}\n      default: e\n'
        + _step("d")
        + _step("e"),
    )
    assert code == 1
    assert "step 'b' can never run: step 'a' before it goes on to 'c' (next:), and no step goes to it" in out
    assert "step 'd' can never run: step 'c' before it always chooses where the run goes" in out
    # Reached only through on_failure: goto: reachable.
    code, out, _ = _validate(cli, tmp_path, _step("a", "    on_failure: goto:fix\n    end: true\n") + _step("fix"))
    assert code == 0, out


def test_contradictions_on_one_step_are_errors(tmp_path: Path, cli) -> None:
    code, out, _ = _validate(
        cli,
        tmp_path,
        _step("a", "    next: b\n    end: true\n")
        + '  - id: b\n    action: control.branch\n    when: "{{ true }}"\n    next: a\n    with:\n'
        + '      choices:\n        - {when: "{{ true }}", goto: a}\n      default: a\n',
    )
    assert code == 1
    assert ".end: a step cannot say both next: and end: true" in out
    assert ".when: when: does not apply to control.branch: it chooses where the run goes" in out
    assert ".next: next: does not apply to control.branch" in out
    assert "warning" not in out  # errors first: doubts about a graph that is wrong anyway are noise


def test_a_loop_only_a_failure_can_leave_is_a_warning(tmp_path: Path, cli) -> None:
    code, out, path = _validate(cli, tmp_path, _step("first") + _step("poll") + _step("again", "    next: poll\n"))
    assert code == 0
    warning = _line(out, f"{path}:8:5: ")
    assert ": warning: steps poll -> again -> poll form a loop that only a failure can leave" in warning
    assert out.strip().endswith("1 file(s) checked: all valid")
    # A branch in the loop that can lead out of it bounds the loop: no warning.
    code, out, _ = _validate(
        cli,
        tmp_path,
        _step("poll")
        + "  - id: again\n    action: control.branch\n    with:\n      choices:\n"
        + "        - {when: \"{{ steps.poll.status == 'ok' }}\", goto: done}\n      default: poll\n"
        + _step("done"),
    )
    assert code == 0 and "warning" not in out, out


def test_shipped_runbooks_have_no_graph_problems(cli) -> None:
    result = cli("validate", "runbooks/")
    assert result.code == 0 and "warning" not in result.out + result.err, result.out


def test_a_step_without_an_id_is_reported_once(tmp_path: Path, cli) -> None:
    steps = "  - {action: control.sleep, with: {duration: 1ms}}\n" + _step("b")
    code, out, _ = _validate(cli, tmp_path, steps)
    assert code == 1
    assert "missing required field 'id'" in out and "can never run" not in out
