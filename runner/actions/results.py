"""Whether an action's actual result has the shape it declares (`x-fireline.result` in its schema fragment,
`result_schema` on a plugin class).

The validator trusts the declared shape: `{{ result.previus }}` is refused before a run because the shape
says there is no such field. That is only sound if every result really has that shape. With the
environment variable FIRELINE_CHECK_RESULTS=1 the engine checks each result against its declaration and
stops with an internal error on a mismatch; the test suite runs with it on, so every action test is also a
conformance test. Plugin authors can run their own tests the same way. Off (the default) it costs nothing:
the switch is read once, and jsonschema is never imported.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cache
from typing import Any

from runner.actions.registry import traits

ENV_SWITCH = "FIRELINE_CHECK_RESULTS"
CHECK_RESULTS = os.environ.get(ENV_SWITCH, "") not in ("", "0")


class ResultShapeError(AssertionError):
    """An action returned a result its own declaration does not allow: a bug in the action (or in its
    declaration), never the user's mistake, so deliberately not a FirelineError."""


def check_result(action: str, result: Mapping[str, Any]) -> None:
    """Raise ResultShapeError unless `result` conforms to what `action` declares (no declaration: nothing
    to check)."""
    validator = _validator(action)
    if validator is None:
        return
    problems = [
        f"{'.'.join(map(str, e.absolute_path)) or 'result'}: {e.message}"
        for e in validator.iter_errors(_plain(result))
    ]
    if problems:
        raise ResultShapeError(f"the result of {action} does not match its declared shape: " + "; ".join(problems))


@cache
def _validator(action: str) -> Any:
    schema = traits(action).result_schema
    if schema is None:
        return None
    from jsonschema import Draft202012Validator

    return Draft202012Validator(dict(schema))


def _plain(result: Mapping[str, Any]) -> Any:
    # As journaled and seen by templates: JSON data (tuples become lists, and so on).
    return json.loads(json.dumps(result, default=str))
