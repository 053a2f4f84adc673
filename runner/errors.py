"""The user-error hierarchy. Anything raised outside it is a bug and is reported as one."""

from __future__ import annotations


class FirelineError(Exception):
    """A problem the user can fix: shown as one clear message, never as a traceback."""

    exit_code = 1
    hint: str | None = None

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class UsageError(FirelineError):
    """Bad command-line arguments, inputs or files."""

    exit_code = 2


class RunbookInvalid(FirelineError):
    """The document failed validation; the diagnostics carry every problem found."""

    exit_code = 1


class ActionError(FirelineError):
    """An action failed in a way the step's on_failure policy handles."""


class StepTimeout(ActionError):
    """The step ran past its timeout and was stopped."""


class JournalError(FirelineError):
    """The journal store cannot be read or written."""
