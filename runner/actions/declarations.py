"""What an action says about itself, apart from running: the traits the engine, the validator, the renderer
and game days ask for instead of knowing particular actions.

A plugin action declares them as class attributes (see `Action` in base.py). A built-in action declares them
as data beside its parameter schema, in its family's schema fragment (schemas/actions/<family>.json): an
`x-fireline` object at the top of the fragment holds what every action of the family shares, one inside an
action's definition (`$defs.<action>`) holds what is its own. Reading them is a JSON load, so `fireline
validate` learns about a postgres step without importing psycopg; `BaseAction` copies the same data onto the
built-in classes, so the loaded action answers the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any

TRAITS_KEY = "x-fireline"


@dataclass(frozen=True)
class Untemplated:
    """A parameter that must be written out literally: a template there is refused when validating."""

    what: str  # how the message names it, e.g. "SQL text"
    hint: str = ""


@dataclass(frozen=True)
class ActionTraits:
    """What an action's schema declares about it under `x-fireline`: how the engine and the checks treat it."""

    # Parameters that are shell text: every templated value is shell-quoted and its place checked.
    shell_text_params: tuple[str, ...] = ()
    # A person does the work: the step always waits for their confirmation, whatever `approval:` says.
    waits_for_person: bool = False
    # The step may say `read_only: true` (it runs arbitrary commands, so only the author knows).
    accepts_read_only: bool = False
    # What it does when mutating changes production, so it waits for approval unless the runbook says
    # otherwise. False: an outside effect that is not a production change (a status update): a plan never
    # does it, but it runs without approval unless the runbook asks for one (`approval: {required: true}`).
    production_change: bool = True
    # The connection types its `connection:` may name; () when it takes no connection.
    connection_types: tuple[str, ...] = ()
    # Dotted parameter paths the action judges itself against what it reads (`expect.that`): they are not
    # rendered up front, and their templates may use `result` and `value`.
    deferred_params: tuple[str, ...] = ()
    # Parameters where templates are not allowed at all.
    untemplated_params: Mapping[str, Untemplated] = field(default_factory=dict)
    # JSON Schema of `with:` (None only for a plugin that declares none: it is refused when loaded).
    params_schema: Mapping[str, Any] | None = None
    # JSON Schema of the result (`result.…`, `steps.<id>.result.…`); None when the action does not say.
    result_schema: Mapping[str, Any] | None = None
    # Dotted parameter paths (lists are walked) that name steps the action sends the run to: a step with
    # such an action never falls through to the next one in the file. Its outcome's `goto` is where it went.
    step_targets: tuple[str, ...] = ()
    # A parameter (a mapping) whose keys the action sets as the step's outputs, beside `outputs:`.
    outputs_param: str | None = None
    # The action waits for a change to show (a rollout to finish, a metric to move): True always, or the
    # name of a step field that makes it wait ("retries"). A plan never waits on a change it only predicts.
    waits_for_change: bool | str = False

    @classmethod
    def of(cls, action: object) -> ActionTraits:
        """The traits an action class (or instance) declares as attributes."""
        untemplated = getattr(action, "untemplated_params", None) or {}
        return cls(
            shell_text_params=tuple(getattr(action, "shell_text_params", ())),
            waits_for_person=bool(getattr(action, "waits_for_person", False)),
            accepts_read_only=bool(getattr(action, "accepts_read_only", False)),
            production_change=bool(getattr(action, "production_change", True)),
            connection_types=tuple(getattr(action, "connection_types", ())),
            deferred_params=tuple(getattr(action, "deferred_params", ())),
            untemplated_params={
                k: v if isinstance(v, Untemplated) else Untemplated(str(v)) for k, v in untemplated.items()
            },
            params_schema=_mapping_or_none(getattr(action, "params_schema", None)),
            result_schema=_mapping_or_none(getattr(action, "result_schema", None)),
            step_targets=tuple(getattr(action, "step_targets", ())),
            outputs_param=getattr(action, "outputs_param", None),
            waits_for_change=getattr(action, "waits_for_change", False),
        )

    def deferred(self, path: tuple[str | int, ...]) -> bool:
        """Whether the parameter at `path` (inside `with:`) is judged by the action itself."""
        dotted = ".".join(map(str, path))
        return any(dotted == d or dotted.startswith(d + ".") for d in self.deferred_params)


NO_TRAITS = ActionTraits()
TRAIT_NAMES = tuple(f.name for f in fields(ActionTraits))


def _mapping_or_none(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def schema_dir() -> Path:
    # Installed wheels carry the schemas inside the package; a source checkout uses the top-level folder.
    packaged = Path(__file__).resolve().parent.parent / "schemas"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent.parent / "schemas"


@cache
def _fragment(family: str) -> dict[str, Any] | None:
    path = schema_dir() / "actions" / f"{family}.json"
    if not family.isidentifier() or not path.is_file():
        return None
    with path.open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


@cache
def declared_traits(name: str) -> ActionTraits | None:
    """A built-in action's traits, from its schema fragment; None when the fragment does not define it."""
    family, _, short = name.partition(".")
    fragment = _fragment(family)
    defs = fragment.get("$defs", {}) if fragment else {}
    if not short or not isinstance(defs.get(short), dict):
        return None
    definition = defs[short]
    declared = {**fragment.get(TRAITS_KEY, {}), **definition.get(TRAITS_KEY, {})}  # type: ignore[union-attr]
    untemplated = declared.get("untemplated_params", {})
    return ActionTraits(
        shell_text_params=tuple(declared.get("shell_text_params", ())),
        waits_for_person=bool(declared.get("waits_for_person", False)),
        accepts_read_only=bool(declared.get("accepts_read_only", False)),
        production_change=bool(declared.get("production_change", True)),
        connection_types=tuple(declared.get("connection_types", ())),
        deferred_params=tuple(declared.get("deferred_params", ())),
        untemplated_params={k: Untemplated(v["what"], v.get("hint", "")) for k, v in untemplated.items()},
        # Self-contained: the fragment's own `#/$defs/…` references resolve inside it.
        params_schema={"$defs": defs, **{k: v for k, v in definition.items() if k != TRAITS_KEY}},
        step_targets=tuple(declared.get("step_targets", ())),
        outputs_param=declared.get("outputs_param"),
        waits_for_change=declared.get("waits_for_change", False),
        result_schema=_result_schema(definition, defs),
    )


def _result_schema(definition: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The shape of an action's result: `x-fireline.result` in its own definition (never the family's:
    each action answers differently), self-contained like the parameter schema."""
    result = (definition.get(TRAITS_KEY) or {}).get("result")
    return {"$defs": defs, **result} if isinstance(result, Mapping) else None
