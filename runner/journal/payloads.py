"""Typed payloads of journal events: one frozen dataclass per event type, and the one way to encode and
decode them.

Encoding (`to_data`) is written by hand and builds exactly the keys earlier versions wrote, in the same order,
so stored journals need no migration and the engine's hot path pays for one small dict, nothing more.
Decoding (`from_data`) happens only when reading; it is tolerant: a key an older version did not write gets a
default, a key a newer version added is ignored, a value of the wrong type is treated as missing.

Packages with their own events (game days) define their payloads the same way and `register` them; `decode`
then reads any event without knowing who wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from runner.journal.events import Event

P = TypeVar("P", bound="Payload")


class RunStatus(StrEnum):
    """How a run ended (run.finished) or stands (runs list)."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PAUSED = "paused"
    PLANNED = "planned"  # a dry run: a plan, not a run
    RUNNING = "running"  # no run.finished yet (or the process died)
    UNKNOWN = "unknown"  # a status this version does not know


class StepStatus(StrEnum):
    """Where a step stands in a run (and in a game day's response timeline)."""

    PENDING = "pending"
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"
    ROLLED_BACK = "rolled-back"
    AWAITING_APPROVAL = "awaiting-approval"
    PLANNED = "planned"  # a dry run looked at it
    UNKNOWN = "unknown"


E = TypeVar("E", bound=StrEnum)


def enum_of(kind: type[E], value: object, default: E) -> E:
    """`value` as a member of `kind`; `default` for anything else (a newer version's value, a damaged row)."""
    if not isinstance(value, str):
        return default
    try:
        return kind(value)
    except ValueError:
        return default


# -- tolerant field readers: a missing or mistyped value becomes the default ----------------------------------


def text(data: Mapping[str, Any], key: str, default: str = "") -> str:
    value = data.get(key)
    return default if value is None or isinstance(value, Mapping | list) else str(value)


def opt_text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None or value == "" or isinstance(value, Mapping | list) else str(value)


def flag(data: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = data.get(key, default)
    return value if isinstance(value, bool) else default


def number(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def texts(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key)
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()


def raw(data: Mapping[str, Any], key: str) -> Any:
    """A free-form value (an action's result, a signal's detail) exactly as stored."""
    return data.get(key)


# -- the protocol and the registry ----------------------------------------------------------------------------


class Payload:
    """Base of every payload class. Subclasses are frozen dataclasses with a `TYPE` and both directions."""

    TYPE: ClassVar[str]

    def to_data(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_data(cls: type[P], data: Mapping[str, Any]) -> P:
        raise NotImplementedError

    @classmethod
    def of(cls: type[P], event: Event) -> P:
        """The payload of `event`, which must be of this class's type."""
        if event.type != cls.TYPE:
            raise ValueError(f"event {event.seq} of run {event.run_id} is {event.type}, not {cls.TYPE}")
        return cls.from_data(event.data)


_REGISTRY: dict[str, type[Payload]] = {}


def register(cls: type[P]) -> type[P]:
    """Class decorator: events of `cls.TYPE` decode to `cls`."""
    existing = _REGISTRY.get(cls.TYPE)
    if existing is not None and existing is not cls:
        raise ValueError(f"two payload classes for {cls.TYPE}: {existing.__name__} and {cls.__name__}")
    _REGISTRY[cls.TYPE] = cls
    return cls


@register
@dataclass(frozen=True)
class Unknown(Payload):
    """An event type this version does not know (a newer version wrote it): its data, untouched."""

    TYPE: ClassVar[str] = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        return dict(self.data)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Unknown:
        return cls(dict(data))


def payload_class(type_: str) -> type[Payload]:
    return _REGISTRY.get(type_, Unknown)


def decode(event: Event) -> Payload:
    """The typed payload of any event; `Unknown` when no class is registered for its type."""
    return payload_class(event.type).from_data(event.data)


def known_types() -> tuple[str, ...]:
    return tuple(t for t in _REGISTRY if t)
