"""Fuzzing the loaders: hypothesis-generated YAML — random structures dumped by PyYAML, and the shipped
runbooks and scenarios mutated (bytes deleted and inserted, tags, anchors and aliases, odd unicode, very long
lines, huge durations and counts) — fed to the runbook loader, the game-day loader and the inputs-file loader,
and through `fireline validate`. The only acceptable failures are the documented user errors (FirelineError
and its subclasses, DocumentInvalid among them); each case has a time budget, so a hang fails the test.

Reproducible (derandomized): a failure found here is found again on every run."""

from __future__ import annotations

import contextlib
import io
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.document.gameday import load_gameday
from runner.document.model import InputSpec
from runner.document.runbook import build_input, load_runbook
from runner.engine.inputs import read_inputs_file, resolve_inputs
from runner.errors import FirelineError
from tests.conftest import REPO

CASE_BUDGET_SECONDS = 2.0
SHIPPED = sorted((REPO / "runbooks").glob("*.yaml")) + sorted((REPO / "scenarios").glob("*.yaml"))
FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)


# --- what is fed -------------------------------------------------------------------------------------------

# Pieces of YAML and of fireline that have broken loaders before, or could.
HAZARDS = [
    "!!python/object/apply:os.system ['true']",
    "!!python/name:os.system",
    "!!binary aGVsbG8=",
    "!!set {a, b}",
    "!!omap [a: 1]",
    "!custom x",
    "!!int abc",
    "!!float x",
    "!!bool maybe",
    "!!timestamp 2024-13-45",
    "2024-02-30",
    "&a [1, 2]",
    "*a",
    "<<: *a",
    "&b [*b]",
    "{{ range(10**9)|list|length }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "99999999999h",
    "1e999",
    "9" * 5000,
    "-0x1",
    "\x00",
    "\u202e",
    "\ufeff",
    "\U0001f525",
    "\t",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "? [a, b]\n: c",
    "x" * 100_000,
    "[" * 200,
    "retries: {count: 1000000000, backoff: 10, delay: 1s}",
    "timeout: 99999999999h",
    'pattern: "("',
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(HAZARDS),
)
keys = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["apiVersion", "kind", "metadata", "steps", "inputs", "id", "action", "with", "timeout"]),
)
structures = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(keys, children, max_size=6),
    max_leaves=40,
)


@st.composite
def structured_yaml(draw: st.DrawFn) -> bytes:
    """A random structure, alone or inside a runbook or scenario skeleton, dumped by PyYAML."""
    body = draw(structures)
    shape = draw(st.sampled_from(["bare", "runbook", "gameday"]))
    if shape == "runbook":
        body = {
            "apiVersion": "fireline/v1",
            "kind": "Runbook",
            "metadata": {"name": "fuzz"},
            "inputs": draw(st.dictionaries(keys, structures, max_size=3)),
            "steps": [{"id": "a", "action": draw(st.sampled_from(["control.sleep", "shell.run"])), "with": body}],
        }
    elif shape == "gameday":
        body = {"apiVersion": "fireline/v1", "kind": "GameDay", "metadata": {"name": "fuzz"}, "faults": body}
    flow = draw(st.sampled_from([None, True, False]))
    return yaml.safe_dump(body, default_flow_style=flow, allow_unicode=draw(st.booleans())).encode("utf-8")


def mutate(draw: st.DrawFn, original: bytes) -> bytes:
    """A few random edits of a file: bytes deleted and inserted, hazards, a value replaced by a hazard."""
    data = bytearray(original)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(data)))
        edit = draw(st.sampled_from(["delete", "insert", "hazard", "value", "bytes"]))
        if edit == "delete":
            del data[at : at + draw(st.integers(min_value=1, max_value=40))]
        elif edit == "insert":
            data[at:at] = draw(st.text(max_size=20)).encode("utf-8")
        elif edit == "hazard":
            data[at:at] = draw(st.sampled_from(HAZARDS)).encode("utf-8")
        elif edit == "bytes":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:  # replace the value after a colon on some line with a hazard
            lines = bytes(data).split(b"\n")
            index = at % max(len(lines), 1)
            key, colon, _ = lines[index].partition(b":")
            if colon:
                lines[index] = key + b": " + draw(st.sampled_from(HAZARDS)).encode("utf-8")
            data = bytearray(b"\n".join(lines))
    return bytes(data)


@st.composite
def mutated_shipped(draw: st.DrawFn) -> tuple[str, bytes]:
    """A shipped runbook or scenario with a few random edits."""
    source = draw(st.sampled_from(SHIPPED))
    return source.parent.name, mutate(draw, source.read_bytes())


# --- how it is judged ----------------------------------------------------------------------------------------


class CaseTooSlow(Exception):
    pass


@dataclass
class Figures:
    cases: int = 0
    slowest: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)

    def line(self, what: str) -> str:
        return f"{what}: {self.cases} cases, slowest {self.slowest * 1000:.0f} ms, outcomes {self.outcomes}"


@contextlib.contextmanager
def budget(figures: Figures) -> Iterator[None]:
    """At most CASE_BUDGET_SECONDS per case, enforced by SIGALRM (a hang raises instead of blocking)."""

    def expired(signum: int, frame: Any) -> None:
        raise CaseTooSlow(f"a case took longer than {CASE_BUDGET_SECONDS}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, CASE_BUDGET_SECONDS)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        figures.cases += 1
        figures.slowest = max(figures.slowest, time.monotonic() - started)


def outcome(figures: Figures, load: Callable[[], object]) -> None:
    """Loading either succeeds or raises a user error; anything else (a bug) propagates and fails the test."""
    try:
        load()
        kind = "loaded"
    except FirelineError as exc:
        kind = type(exc).__name__
    figures.outcomes[kind] = figures.outcomes.get(kind, 0) + 1


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """runbooks/ and scenarios/ side by side, so a scenario's `../runbooks/…` still resolves."""
    root = tmp_path_factory.mktemp("fuzz")
    for folder in ("runbooks", "scenarios"):
        shutil.copytree(REPO / folder, root / folder)
    return root


INPUT_SPECS: dict[str, InputSpec] = {
    name: build_input(name, spec)
    for name, spec in {
        "name": {"type": "string", "default": "x", "pattern": "^[a-z]+$"},
        "count": {"type": "integer", "default": 1, "minimum": 0, "maximum": 100},
        "ratio": {"type": "number", "default": 0.5},
        "flag": {"type": "boolean", "default": False},
        "wait": {"type": "duration", "default": "1s"},
        "hosts": {"type": "list", "default": []},
        "mode": {"type": "string", "default": "a", "enum": ["a", "b"]},
    }.items()
}


def load_all(workdir: Path, folder: str, data: bytes, figures: Figures) -> None:
    path = workdir / folder / "fuzzed.yaml"
    path.write_bytes(data)
    with budget(figures):
        outcome(figures, lambda: load_runbook(path))
        outcome(figures, lambda: load_gameday(path))
        outcome(figures, lambda: resolve_inputs(INPUT_SPECS, read_inputs_file(path)))


def test_the_loaders_only_ever_raise_user_errors(workdir: Path) -> None:
    structured, mutated = Figures(), Figures()

    @settings(FUZZ, max_examples=1500)
    @given(structured_yaml())
    def fuzz_structured(data: bytes) -> None:
        load_all(workdir, "runbooks", data, structured)

    @settings(FUZZ, max_examples=1500)
    @given(mutated_shipped())
    def fuzz_mutated(case: tuple[str, bytes]) -> None:
        load_all(workdir, *case, mutated)

    fuzz_structured()
    fuzz_mutated()
    print("\n" + structured.line("structured YAML") + "\n" + mutated.line("mutated shipped files"))
    assert structured.slowest < CASE_BUDGET_SECONDS and mutated.slowest < CASE_BUDGET_SECONDS


@st.composite
def inputs_files(draw: st.DrawFn) -> bytes:
    """Mostly the inputs the loader knows, with random values (NUL, dates, huge numbers, durations...)."""
    names = st.sampled_from(sorted(INPUT_SPECS)) | st.text(max_size=8)
    values = draw(st.dictionaries(names, structures, max_size=5))
    return yaml.safe_dump(values, default_flow_style=draw(st.sampled_from([None, True, False]))).encode("utf-8")


def test_the_inputs_file_loader_only_ever_raises_user_errors(workdir: Path) -> None:
    figures = Figures()

    @settings(FUZZ, max_examples=400)
    @given(inputs_files())
    def fuzz_inputs(data: bytes) -> None:
        path = workdir / "inputs.yaml"
        path.write_bytes(data)
        with budget(figures):
            outcome(figures, lambda: resolve_inputs(INPUT_SPECS, read_inputs_file(path)))

    fuzz_inputs()
    print("\n" + figures.line("inputs files"))
    assert figures.slowest < CASE_BUDGET_SECONDS


def validate_case(path: Path, figures: Figures) -> None:
    """`fireline validate PATH` in-process: exit 0, 1 or 2 and never a traceback, within the case's budget."""
    from runner.cli import main

    out, err = io.StringIO(), io.StringIO()
    with budget(figures), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["validate", str(path)])
    shown = out.getvalue() + err.getvalue()
    assert code in (0, 1, 2), shown
    assert "Traceback" not in shown and "internal error" not in shown, shown
    figures.outcomes[str(code)] = figures.outcomes.get(str(code), 0) + 1


def test_validate_exits_0_1_or_2_and_never_prints_a_traceback(workdir: Path) -> None:
    figures = Figures()

    @settings(FUZZ, max_examples=400)
    @given(st.one_of(mutated_shipped(), structured_yaml().map(lambda data: ("runbooks", data))))
    def fuzz_validate(case: tuple[str, bytes]) -> None:
        folder, data = case
        path = workdir / folder / "fuzzed-cli.yaml"
        path.write_bytes(data)
        validate_case(path, figures)

    fuzz_validate()
    print("\n" + figures.line("fireline validate"))
    assert figures.slowest < CASE_BUDGET_SECONDS
