"""A harness for driving actions outside a runbook: tests, benchmarks, and the tests of action plugins.

`StaticConnections` is the engine's connection source without templates: fixed settings per connection
name, clients cached and closed at the end, the connection type checked against the action family.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from runner.engine.context import declared_connection


class StaticConnections:
    def __init__(self, settings: Mapping[str, Mapping[str, Any]]) -> None:
        self._settings = dict(settings)
        self._resources: dict[str, tuple[Any, Callable[[Any], None] | None]] = {}

    def settings(self, name: str, family: str) -> Mapping[str, Any]:
        return declared_connection(self._settings, name, family)

    def resource(self, key: str, factory: Callable[[], Any], close: Callable[[Any], None] | None) -> Any:
        if key not in self._resources:
            self._resources[key] = (factory(), close)
        return self._resources[key][0]

    def close(self) -> None:
        resources, self._resources = self._resources, {}
        for value, close in resources.values():
            if close is not None:
                close(value)
