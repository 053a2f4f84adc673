"""The wheel carries every package and the schemas (pyproject lists packages explicitly)."""

from __future__ import annotations

import tomllib

from tests.conftest import REPO


def test_every_runner_package_is_listed() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "runner").rglob("__init__.py")}
    assert on_disk <= listed, f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"
    assert {"runner.schemas", "runner.schemas.actions"} <= listed
