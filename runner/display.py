"""How a value a runbook computed is written for a person: the same in `run`, `plan` and every view of a run."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from runner.secrets import Redactor

OUTPUT_LIMIT = 200  # characters of one value; the journal keeps it whole


def show_value(value: Any) -> str:
    """Text as itself; anything else as JSON (`true`, `null`, `[1, 2]`), the way the runbook's YAML writes it
    (Python's `True`/`None`/`'quoted'` would read differently in a plan and in the run it previews)."""
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)


def output_lines(outputs: Mapping[str, Any], redactor: Redactor, limit: int = OUTPUT_LIMIT) -> list[str]:
    """One `name = value` line per output, masked, then cut to `limit` characters."""
    return [f"{name} = {redactor.shorten(show_value(value), limit)}" for name, value in outputs.items()]
