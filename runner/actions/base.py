"""The Action protocol: what every step type implements, and the records it exchanges with the engine."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol, overload

from runner.actions.declarations import TRAIT_NAMES, Untemplated, declared_traits
from runner.errors import ActionError, StepTimeout

Params = Mapping[str, Any]


class Verdict(StrEnum):
    """Dry-run verdicts: what a step would do, said plainly."""

    WOULD_CHANGE = "would-change"
    READ = "read"
    CANNOT_CHECK = "cannot-check"
    NO_CHANGE = "no-change"
    # The step uses what a change the plan only predicts would bring (its outputs, or its effect awaited):
    # a plan cannot say more without pretending.
    DEPENDS = "depends-on-change"


@dataclass(frozen=True)
class Plan:
    """A step's dry-run answer. `details` are the exact things a reviewer checks (SQL, EXPLAIN, argv)."""

    verdict: Verdict
    summary: str
    details: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What a step did. `result` is visible to templates as `result` and `steps[id].result`."""

    result: Mapping[str, Any] = field(default_factory=dict)
    summary: str = ""
    changed: bool = True
    # Set when the action found nothing to do (e.g. "already at revision 3"): reported as skipped.
    skipped_reason: str | None = None
    # Where the run goes next, for an action that decides it (it declares `step_targets`); None: as usual.
    goto: str | None = None
    # Values the action sets as the step's outputs (it declares `outputs_param`), beside `outputs:`.
    outputs: Mapping[str, Any] | None = None
    # In a plan, an action that decides where to go but could not (goto None): the steps it may go to.
    possible: tuple[str, ...] = ()


class Undecidable(Exception):
    """An expression a plan cannot evaluate without pretending: it uses what a change the plan only
    predicts would bring. Raised by `ActionContext.evaluate` in a plan only; the message says what."""


class Cancelled(ActionError):
    """The engine asked the action to stop (timeout or interrupt)."""


class ActionContext:
    """Everything an action may touch while it runs: connections, cancellation, output, the clock."""

    def __init__(
        self,
        step_id: str,
        connections: ConnectionSource,
        *,
        dry_run: bool = False,
        deadline: float | None = None,
        emit: Callable[[str], None] | None = None,
        redact: Callable[[str], str] | None = None,
        evaluate: Callable[[str], Any] | None = None,
    ) -> None:
        self.step_id = step_id
        self.dry_run = dry_run
        self.deadline = deadline
        self.cancelled = threading.Event()
        self._connections = connections
        self._emit = emit
        self._cancel_hooks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self.redact: Callable[[str], str] = redact or (lambda text: text)
        self._evaluate = evaluate

    def evaluate(self, expression: str) -> Any:
        """An expression (`{{ … }}`, as in a step's `when:`) evaluated against the run's template context
        now, for an action that decides in order and must not evaluate what it does not reach. In a plan it
        may raise Undecidable."""
        if self._evaluate is None:
            raise ActionError("this action needs a run to evaluate its expressions")
        return self._evaluate(expression)

    def connection(self, name: str, family: str) -> Mapping[str, Any]:
        """The rendered settings of a named connection, checked to be of the family the action needs."""
        return self._connections.settings(name, family)

    def resource(self, key: str, factory: Callable[[], Any], close: Callable[[Any], None] | None = None) -> Any:
        """A client cached for the whole run (a database connection, an API client), closed at the end."""
        return self._connections.resource(key, factory, close)

    @overload
    def budget(self, own_timeout: float, *, before: str = ...) -> float: ...
    @overload
    def budget(self, own_timeout: None, *, before: str = ...) -> float | None: ...
    def budget(self, own_timeout: float | None, *, before: str = "the next call") -> float | None:
        """Seconds one blocking call (a request, a query, a command, a wait) may take: its own timeout, cut
        short by what is left of the step's deadline. None only when there is neither (wait as long as it
        takes; the engine's cancel hooks still stop it).

        A deadline that has passed means the step has expired: StepTimeout (naming what was about to happen,
        `before`), never a wait of 0 s, which libraries read as "no timeout" (libpq, a falsy check) or as
        "don't block" (sockets). So a returned value is > 0, unless `own_timeout` itself is 0. Callers whose
        library refuses tiny values raise them to its minimum themselves. Ask again before every call: the
        deadline keeps running between calls."""
        if self.deadline is None:
            return own_timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise StepTimeout(f"step deadline reached before {before}")
        return left if own_timeout is None else min(own_timeout, left)

    def log(self, line: str) -> None:
        """Show a line of live output to the responder (secrets are redacted on the way)."""
        if self._emit is not None:
            self._emit(self.redact(line))

    def on_cancel(self, hook: Callable[[], None]) -> None:
        """Register how to interrupt blocking work (kill a process, cancel a query)."""
        with self._lock:
            self._cancel_hooks.append(hook)
            already = self.cancelled.is_set()
        if already:
            hook()

    def cancel(self) -> None:
        with self._lock:
            self.cancelled.set()
            hooks = list(self._cancel_hooks)
        for hook in hooks:
            with contextlib.suppress(Exception):
                hook()

    def check_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled("step was cancelled")

    def sleep(self, seconds: float) -> None:
        """Sleep that wakes up at once when the step is cancelled."""
        if self.cancelled.wait(seconds):
            raise Cancelled("step was cancelled")


class ConnectionSource(Protocol):
    def settings(self, name: str, family: str) -> Mapping[str, Any]: ...

    def resource(self, key: str, factory: Callable[[], Any], close: Callable[[Any], None] | None) -> Any: ...


class Action(Protocol):
    """One step type. Adding a step type = one class + one schema fragment (schemas/actions/) + tests."""

    name: ClassVar[str]
    # Whether the action changes the world. Mutating steps pass an approval gate and are fsynced first.
    mutates: ClassVar[bool]
    # Safe to run again after a crash left it started-but-unfinished (resume re-runs it without asking).
    idempotent: ClassVar[bool]
    # What the engine, the validator, the renderer and game days ask instead of knowing the action (the
    # meaning of each: ActionTraits in declarations.py). Built-ins declare them in their schema fragment.
    params_schema: ClassVar[Mapping[str, Any]]  # JSON Schema of `with:`; required of every plugin
    result_schema: ClassVar[Mapping[str, Any] | None]
    shell_text_params: ClassVar[tuple[str, ...]]
    waits_for_person: ClassVar[bool]
    accepts_read_only: ClassVar[bool]
    connection_types: ClassVar[tuple[str, ...]]
    deferred_params: ClassVar[tuple[str, ...]]
    untemplated_params: ClassVar[Mapping[str, Untemplated]]

    def is_mutating(self, params: Params) -> bool:
        """Per-step refinement of `mutates` (shell.run with read_only: true is not mutating)."""
        ...

    def is_idempotent(self, params: Params) -> bool:
        """Per-step refinement of `idempotent` (scale to an absolute count is; scale by +2 is not)."""
        ...

    def plan(self, params: Params, ctx: ActionContext) -> Plan:
        """Dry-run: say what would change without changing anything. Read-only actions are run by the
        engine instead of planned."""
        ...

    def run(self, params: Params, ctx: ActionContext) -> Outcome: ...


class BaseAction:
    """Defaults shared by the built-in actions."""

    name: ClassVar[str] = ""
    mutates: ClassVar[bool] = False
    idempotent: ClassVar[bool] = False
    # No default: an action that does not say what its parameters are is refused, never left unchecked.
    params_schema: ClassVar[Mapping[str, Any]]
    result_schema: ClassVar[Mapping[str, Any] | None] = None
    shell_text_params: ClassVar[tuple[str, ...]] = ()
    waits_for_person: ClassVar[bool] = False
    accepts_read_only: ClassVar[bool] = False
    connection_types: ClassVar[tuple[str, ...]] = ()
    deferred_params: ClassVar[tuple[str, ...]] = ()
    untemplated_params: ClassVar[Mapping[str, Untemplated]] = {}
    step_targets: ClassVar[tuple[str, ...]] = ()
    outputs_param: ClassVar[str | None] = None
    waits_for_change: ClassVar[bool | str] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # A built-in declares its traits beside its parameter schema (readable without importing it);
        # the class answers the same.
        super().__init_subclass__(**kwargs)
        declared = declared_traits(cls.name) if cls.name else None
        if declared is not None:
            for trait in TRAIT_NAMES:
                setattr(cls, trait, getattr(declared, trait))

    def is_mutating(self, params: Params) -> bool:
        return self.mutates

    def is_idempotent(self, params: Params) -> bool:
        # A step may vouch for itself (postgres.execute with `idempotent: true`).
        return self.idempotent or params.get("idempotent") is True

    def check_rendered(self, template: Params, rendered: Params) -> None:
        """Refuse (ActionError) rendered parameters that the template's own fixed text does not allow, e.g. a
        file path that leaves the directory the template names. Called by the engine after rendering."""

    def plan(self, params: Params, ctx: ActionContext) -> Plan:
        if not self.is_mutating(params):
            return Plan(Verdict.READ, f"{self.name} reads only")
        return Plan(Verdict.CANNOT_CHECK, f"{self.name} has no dry-run check")

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        raise NotImplementedError
