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

import dataclasses
import threading
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

if TYPE_CHECKING:
    from runner.journal.events import Event

P = TypeVar("P", bound="Payload")


class RunStatus(StrEnum):
    """How a run ended (run.finished) or stands (runs list)."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PAUSED = "paused"
    CANCELLED = "cancelled"  # ended by `fireline runs cancel` while paused or interrupted
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

Reader = Callable[[Mapping[str, Any], str], Any]


class Payload:
    """Base of every payload class: a frozen dataclass with a `TYPE`, whose fields are the stored keys in the
    stored order. Encoding is the instance's `__dict__` (no per-field work, no deep copy: the engine appends
    several events per step); keys in `OMIT` are left out while they hold None or False, as earlier versions
    wrote them only when set. Decoding reads each field by its annotation, tolerantly; `MISSING` gives the
    value of a required field an old or damaged event lacks. A class whose keys do not map one to one onto
    its fields overrides `to_data`/`from_data`."""

    TYPE: ClassVar[str]
    OMIT: ClassVar[frozenset[str]] = frozenset()
    MISSING: ClassVar[Mapping[str, Any]] = {}
    _readers: ClassVar[tuple[tuple[str, Reader], ...]] = ()

    def to_data(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        for key in self.OMIT:
            if data[key] is None or data[key] is False:
                del data[key]
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Self:
        return cls(**cls.fields_from(data))

    @classmethod
    def fields_from(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        """Every field read from stored data by its annotation (for a `from_data` that adds to it)."""
        if cls in _PENDING:
            _complete(cls)
        return {name: read(data, name) for name, read in cls._readers}

    @classmethod
    def of(cls: type[P], event: Event) -> P:
        """The payload of `event`, which must be of this class's type."""
        if event.type != cls.TYPE:
            raise ValueError(f"event {event.seq} of run {event.run_id} is {event.type}, not {cls.TYPE}")
        return cls.from_data(event.data)


_REGISTRY: dict[str, type[Payload]] = {}


def register(cls: type[P]) -> type[P]:
    """Class decorator: events of `cls.TYPE` decode to `cls`. Reading every field is decided here, once."""
    _claim(cls)
    _set_readers(cls)
    return cls


def _claim(cls: type[Payload]) -> None:
    existing = _REGISTRY.get(cls.TYPE)
    if existing is not None and existing is not cls:
        raise ValueError(f"two payload classes for {cls.TYPE}: {existing.__name__} and {cls.__name__}")
    _REGISTRY[cls.TYPE] = cls


def _set_readers(cls: type[Payload]) -> None:
    if dataclasses.is_dataclass(cls):
        custom = "from_data" in vars(cls)  # its own reading: the generic readers are only a help
        hints = typing.get_type_hints(cls)
        readers = ((f.name, _reader(cls, f, hints[f.name], custom)) for f in dataclasses.fields(cls))
        cls._readers = tuple((name, read) for name, read in readers if read is not None)


# Making a dataclass (its generated methods, its type hints for the readers) costs about half a millisecond
# per class, and a command that starts a run imports some twenty payload classes but builds four or five. So
# `event_payload` registers the class at once and makes it a dataclass when it is first built or decoded.
_PENDING: set[type[Payload]] = set()
_COMPLETING = threading.Lock()


@typing.dataclass_transform(frozen_default=True, field_specifiers=(field,))
def event_payload(cls: type[P]) -> type[P]:
    """Class decorator: `cls` as a frozen dataclass, and events of `cls.TYPE` decode to it."""
    _claim(cls)
    _PENDING.add(cls)
    cls.__init__ = _first_init  # type: ignore[misc,assignment]  # replaced by the dataclass's own on first use
    return cls


def _first_init(self: Payload, *args: Any, **kwargs: Any) -> None:
    _complete(type(self))
    type(self).__init__(self, *args, **kwargs)


def _complete(cls: type[Payload]) -> None:
    """Make `cls` and its pending payload bases dataclasses, bases first (a subclass inherits their fields)."""
    with _COMPLETING:
        for klass in reversed(cls.__mro__):
            if klass in _PENDING:
                del klass.__init__  # type: ignore[misc]
                dataclass(frozen=True)(klass)
                _set_readers(klass)
                _PENDING.discard(klass)


def _reader(cls: type[Payload], f: dataclasses.Field[Any], hint: Any, custom: bool) -> Reader | None:
    """How a field is read from stored data: a missing or mistyped value becomes the field's default."""
    default = cls.MISSING.get(f.name, f.default if f.default is not dataclasses.MISSING else None)
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        fallback = hint(default) if default is not None else hint("unknown")
        return lambda data, key: enum_of(hint, data.get(key), fallback)
    simple: dict[Any, Reader] = {
        str: lambda data, key: text(data, key, default or ""),
        str | None: opt_text,
        bool: lambda data, key: flag(data, key, bool(default)),
        int: lambda data, key: int(number(data, key) or 0),
        float | None: number,
        tuple[str, ...]: texts,
        Mapping[str, Any]: mapping,
        Mapping[str, Any] | None: lambda data, key: data.get(key) if isinstance(data.get(key), Mapping) else None,
        Any: raw,
    }
    if hint in simple:
        return simple[hint]
    if custom:
        return None
    raise TypeError(f"{cls.__name__}.{f.name}: no reader for {hint}; override from_data")


@event_payload
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
