"""The methods dataclasses compiles come from the user's cache at the next start, and the classes behave
exactly as without it; a damaged, foreign or unsafe cache file is never used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
RUNBOOK = REPO / "runbooks" / "db-connection-exhaustion.yaml"

# Defines a class the way fireline's modules do, in a module the cache takes for one of fireline's own;
# reports how the class behaves and which modules had anything compiled.
_CLASS = (
    "from __future__ import annotations\nimport dataclasses\n\n"
    "@dataclasses.dataclass(frozen=True)\nclass Probe:\n    name: str\n    tags: tuple[str, ...] = ()\n"
    "    extra: dict = dataclasses.field(default_factory=dict, compare=False)\n"
)
_PROBE = """
import dataclasses, json, pathlib, sys, types
import runner.cli
from runner.document.documents import check_document

probe = sys.modules["runner.probe"] = types.ModuleType("runner.probe")
exec(sys.argv[2], probe.__dict__)
Probe = probe.Probe
a, b = Probe("x", ("t",)), Probe("x", ("t",), {"k": 1})
try:
    a.name = "y"
    frozen = False
except dataclasses.FrozenInstanceError:
    frozen = True
check_document(pathlib.Path(sys.argv[1]))
hook = vars(dataclasses).get("exec")
print(json.dumps({
    "equal": a == b, "hash": hash(a) == hash(b), "repr": repr(a), "frozen": frozen,
    "default": Probe("z").extra, "replaced": dataclasses.replace(a, name="w").name,
    "hooked": hook is not None,
    "compiled": sorted(name for name, known in getattr(hook, "modules", {}).items() if known.added),
}))
"""


def _probe(cache: Path, **env: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", _PROBE, str(RUNBOOK), _CLASS], capture_output=True, text=True,
                          env={**os.environ, "XDG_CACHE_HOME": str(cache), **env}, timeout=120, check=True)
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def _files(cache: Path) -> list[Path]:
    return sorted((cache / "fireline").glob("classes-*/runner.probe.code"))


BEHAVIOUR = {"equal": True, "hash": True, "repr": "Probe(name='x', tags=('t',), extra={})", "frozen": True,
             "default": {}, "replaced": "w"}


def _behaviour(result: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in result.items() if k in BEHAVIOUR}


def test_the_second_start_compiles_no_class_method_and_the_classes_behave_the_same(tmp_path: Path) -> None:
    first = _probe(tmp_path)
    assert first["hooked"] and {"runner.probe", "runner.document.model"} <= set(first["compiled"])
    [written] = _files(tmp_path)
    assert written.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "fireline").stat().st_mode & 0o777 == 0o700
    second = _probe(tmp_path)
    assert second["compiled"] == []
    assert _behaviour(first) == _behaviour(second) == BEHAVIOUR


@pytest.mark.parametrize("damage", ["truncated", "flipped", "foreign", "empty"])
def test_a_damaged_cache_file_is_compiled_anew_and_rewritten(tmp_path: Path, damage: str) -> None:
    _probe(tmp_path)
    [path] = _files(tmp_path)
    data = path.read_bytes()
    damaged = {
        "truncated": data[: len(data) // 2],
        "flipped": data[:-100] + bytes([data[-100] ^ 0xFF]) + data[-99:],
        "foreign": b"\x00" * 12 + data[12:],
        "empty": b"",
    }[damage]
    path.write_bytes(damaged)
    result = _probe(tmp_path)
    assert result["compiled"] == ["runner.probe"]  # that file was not trusted
    assert _behaviour(result) == BEHAVIOUR
    assert path.read_bytes() == data  # and it was written whole again
    assert _probe(tmp_path)["compiled"] == []


def test_a_cache_file_others_can_write_is_never_used(tmp_path: Path) -> None:
    _probe(tmp_path)
    [path] = _files(tmp_path)
    path.chmod(0o666)
    assert _probe(tmp_path)["compiled"] == ["runner.probe"]


def test_no_cache_leaves_dataclasses_alone_and_writes_nothing(tmp_path: Path) -> None:
    result = _probe(tmp_path, FIRELINE_NO_CACHE="1")
    assert not result["hooked"]
    assert _behaviour(result) == BEHAVIOUR
    assert not (tmp_path / "fireline").exists()


def test_a_cache_that_cannot_be_written_only_costs_time(tmp_path: Path) -> None:
    (tmp_path / "fireline").write_text("not a directory")
    assert _behaviour(_probe(tmp_path)) == BEHAVIOUR
    done = subprocess.run([sys.executable, "-m", "runner", "validate", str(RUNBOOK)], capture_output=True,
                          text=True, env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
