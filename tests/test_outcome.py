"""What ends a command: its exit code, and what is said on the way out."""

from __future__ import annotations

import pytest

from runner.errors import UsageError
from runner.outcome import guarded


def _raising(exc: BaseException) -> int:
    raise exc


@pytest.mark.parametrize(("exc", "code", "said"), [
    (UsageError("no such file", hint="look again"), 2, ["error: no such file", "  hint: look again"]),
    (KeyboardInterrupt(), 130, ["\ninterrupted"]),
    (BrokenPipeError(), 0, []),
    (ValueError("boom"), 4, ["internal error (this is a bug in fireline): ValueError: boom\n"
                             "  set FIRELINE_DEBUG=1 to see the traceback"]),
])  # fmt: skip
def test_what_ends_a_command_is_its_exit_code_and_a_message(
    exc: BaseException, code: int, said: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FIRELINE_DEBUG", raising=False)
    lines: list[str] = []

    def say(text: str, err: bool = False) -> None:
        assert err
        lines.append(text)

    assert guarded(lambda: _raising(exc), lambda: "interrupted", say) == code
    assert lines == said
