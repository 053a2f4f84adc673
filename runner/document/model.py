"""The typed model of a runbook. Built only from documents that passed validation."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.secrets import SecretRef


@dataclass(frozen=True)
class InputSpec:
    """A runbook input: its name, type, and whether and how it has a value when none is given."""

    name: str
    type: str  # string | integer | number | boolean | duration | list
    required: bool = False
    default: Any = None
    has_default: bool = False
    description: str = ""
    enum: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None


@dataclass(frozen=True)
class Approval:
    """A step's `approval:`: whether it needs one, from whom, how many, for how long."""

    required: bool | None = None  # None: decided by whether the step mutates
    min_approvers: int = 1
    approvers: tuple[str, ...] = ()
    timeout: float | None = None  # how long the prompt waits; also how long a signed approval holds (default 1 h)
    allow_self: bool = True  # False: the person who started the run may not approve, even alone


@dataclass(frozen=True)
class Retries:
    """A step's `retries:`: how many more attempts, how long between them, and until what holds."""

    count: int
    delay: float = 1.0
    backoff: float = 1.0
    until: str | None = None


@dataclass(frozen=True)
class SubAction:
    """A verify post-condition or a rollback compensation."""

    action: str
    params: Mapping[str, Any]
    timeout: float | None = None
    retries: Retries | None = None


@dataclass(frozen=True)
class OnFailure:
    """What a step's failure does to the run: abort, continue, roll back, or go to a step."""

    policy: str  # abort | continue | rollback | goto
    target: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> OnFailure:
        if not text:
            return cls("abort")
        if text.startswith("goto:"):
            return cls("goto", text.removeprefix("goto:"))
        return cls(text)


@dataclass(frozen=True)
class Step:
    """One step of a runbook, as written (its templates not yet rendered)."""

    id: str
    index: int
    action: str
    params: Mapping[str, Any]
    name: str = ""
    when: str | None = None
    outputs: Mapping[str, str] = field(default_factory=dict)
    approval: Approval | None = None
    timeout: float | None = None
    retries: Retries | None = None
    on_failure: OnFailure = OnFailure("abort")
    verify: SubAction | None = None
    rollback: SubAction | None = None
    read_only: bool = False
    notes: str = ""
    # A failed critical step fails the run, whatever on_failure says; on_failure only decides what runs next.
    critical: bool = True
    next: str | None = None  # where the run goes after this step succeeded (or was skipped); None: in order
    end: bool = False  # the run finishes (successfully) after this step succeeded or was skipped

    @property
    def title(self) -> str:
        return self.name or self.id


@dataclass(frozen=True)
class Runbook:
    """A checked runbook: what its file says, ready to plan or run."""

    path: str
    digest: str  # sha256 of the file: resume refuses when it changed
    name: str
    title: str
    metadata: Mapping[str, Any]
    inputs: Mapping[str, InputSpec]
    secrets: Mapping[str, SecretRef]
    connections: Mapping[str, Mapping[str, Any]]
    steps: tuple[Step, ...]

    @functools.cached_property
    def _by_id(self) -> dict[str, Step]:
        # Every transition looks its target up by id: a scan would make a run quadratic in its length.
        return {step.id: step for step in self.steps}

    def step(self, step_id: str) -> Step:
        return self._by_id[step_id]

    @property
    def mitigates(self) -> bool:
        """`metadata.mitigates: true`: run for an incident, its first change that succeeds mitigates it."""
        return self.metadata.get("mitigates") is True

    def index_of(self, step_id: str) -> int:
        return self.step(step_id).index
