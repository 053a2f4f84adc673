"""Layers point one way: `cli` → domain (`engine`, `gameday`, `report`) → `journal`, `actions`, `document`.

Every module under runner/ is parsed with `ast` (nothing is imported), and its imports are checked:

- the domain and lower packages never import `runner.cli` — not even inside a function;
- actions never import the engine (an action is told what it needs through its context);
- the journal imports nothing of runner but itself, `runner.errors` and `runner.digest`: it is the bottom
  layer;
- there is no import cycle among runner's modules, counting what runs at import time (module-level
  imports, not those inside functions or under `if TYPE_CHECKING:`).

The checks themselves are tested on small made-up trees, so a check that silently finds nothing fails too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parents[1] / "runner"

NEVER_IMPORT_CLI = ("runner.engine", "runner.gameday", "runner.journal", "runner.report", "runner.document",
                    "runner.actions")
# The journal is the bottom layer: besides itself, only the error classes, the version string (`runner`'s
# own `__version__`, which the store records and checks) and SHA-256 (`runner.digest`, which imports nothing).
JOURNAL_MAY_IMPORT = ("runner.journal", "runner.errors", "runner.digest")


@dataclass(frozen=True)
class Import:
    importer: str  # the module that imports
    target: str  # the module imported (`from a.b import c` is a.b.c when c is a module, else a.b)
    line: int
    when: str  # "load": runs when the importer is imported; "call": inside a function; "typing": TYPE_CHECKING

    @property
    def top_level(self) -> bool:
        return self.when == "load"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def scan(root: Path) -> tuple[set[str], list[Import]]:
    """Every module of the package at `root` and every import of a module of that package."""
    paths = sorted(root.rglob("*.py"))
    modules = {module_name(root, p) for p in paths}
    found: list[Import] = []
    for path in paths:
        name = module_name(root, path)
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, when in _imports(tree.body, "load"):
            for target in _targets(node, name, is_package, modules):
                if target.split(".")[0] == root.name:
                    found.append(Import(name, target, node.lineno, when))
    return modules, found


def _imports(body: Sequence[ast.AST], when: str) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Import statements anywhere in `body`, each with when it runs (see `Import.when`)."""
    for stmt in body:
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            yield stmt, when
        elif isinstance(stmt, ast.If) and _is_type_checking(stmt.test):
            yield from _imports(stmt.body, "typing")
            yield from _imports(stmt.orelse, when)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _imports(stmt.body, "call" if when == "load" else when)
        else:  # class bodies, if/try/with/for/while blocks, except handlers: they run when the module does
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(stmt, field, None)
                if isinstance(inner, list):
                    yield from _imports(inner, when)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool, modules: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: resolved against the importer's package
        package = importer.split(".") if is_package else importer.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, *([base] if base else [])])
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


# -- the rules -----------------------------------------------------------------------------------------------
def cli_imports(imports: list[Import]) -> list[str]:
    return [f"{i.importer}:{i.line} imports {i.target}" for i in imports
            if any(within(i.importer, p) for p in NEVER_IMPORT_CLI) and within(i.target, "runner.cli")]


def engine_imports_in_actions(imports: list[Import]) -> list[str]:
    return [f"{i.importer}:{i.line} imports {i.target}" for i in imports
            if within(i.importer, "runner.actions") and within(i.target, "runner.engine")]


def journal_imports(imports: list[Import]) -> list[str]:
    return [f"{i.importer}:{i.line} imports {i.target}" for i in imports
            if within(i.importer, "runner.journal") and i.target != "runner"
            and not any(within(i.target, p) for p in JOURNAL_MAY_IMPORT)]


def graph(modules: set[str], imports: list[Import], top_level_only: bool = True) -> dict[str, set[str]]:
    """Module → modules it causes to be imported. Importing a.b.c runs a/__init__ and a/b/__init__ first."""
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for i in imports:
        if top_level_only and not i.top_level:
            continue
        parts = i.target.split(".")
        for n in range(1, len(parts) + 1):
            target = ".".join(parts[:n])
            if target in modules and target != i.importer and not within(i.importer, target):
                edges[i.importer].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def lazy_cycle_dodges(modules: set[str], imports: list[Import]) -> list[Import]:
    """Function-level imports that are part of a cycle once function-level imports count too: the laziness is
    all that keeps those modules apart (a lazy import made to keep a heavy library off the start-up path
    closes no cycle and is not listed)."""
    runtime = graph(modules, [i for i in imports if i.when != "typing"], top_level_only=False)
    return [i for i in imports if i.when == "call" and i.target in modules and not within(i.importer, i.target)
            and _reaches(runtime, i.target, i.importer)]


def _reaches(edges: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = {start}, [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        for nxt in edges.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


# -- runner/ itself ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def runner_imports() -> tuple[set[str], list[Import]]:
    modules, imports = scan(RUNNER)
    assert len(modules) > 50 and len(imports) > 100, "the scan found too little to be checking anything"
    return modules, imports


def test_domain_packages_never_import_the_cli(runner_imports: tuple[set[str], list[Import]]) -> None:
    assert cli_imports(runner_imports[1]) == []


def test_actions_never_import_the_engine(runner_imports: tuple[set[str], list[Import]]) -> None:
    assert engine_imports_in_actions(runner_imports[1]) == []


def test_the_journal_imports_only_itself_and_errors(runner_imports: tuple[set[str], list[Import]]) -> None:
    assert journal_imports(runner_imports[1]) == []


def test_no_import_cycle_at_import_time(runner_imports: tuple[set[str], list[Import]]) -> None:
    modules, imports = runner_imports
    assert cycles(graph(modules, imports)) == []


# Function-level imports that only keep two modules from importing each other. Known ones, to be untangled;
# a new one fails the test below: move the shared part into a module both can import instead.
KNOWN_LAZY_CYCLES = {
    ("runner.document.limits", "runner.document.schemas"),  # document_schema() ↔ check_params_now()
    ("runner.document.schemas", "runner.document.limits"),
}


def test_no_new_function_level_import_that_only_dodges_a_cycle(
    runner_imports: tuple[set[str], list[Import]],
) -> None:
    modules, imports = runner_imports
    new = [f"{i.importer}:{i.line} imports {i.target}" for i in lazy_cycle_dodges(modules, imports)
           if (i.importer, i.target) not in KNOWN_LAZY_CYCLES]
    assert new == []


# -- the checks find what they should (a made-up package, written to a temporary directory) --------------------
def make_tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "runner"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for directory in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        (directory / "__init__.py").touch()
    return root


def test_a_cli_import_in_a_function_of_the_engine_is_found(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {
        "cli/render.py": "X = 1\n",
        "engine/session.py": "def f():\n    from runner.cli.render import X\n    return X\n",
        "gameday/output.py": "from ..cli import render\n",
        "report/html.py": "import runner.cli\n",
    })
    _, imports = scan(root)
    assert cli_imports(imports) == ["runner.engine.session:2 imports runner.cli.render",
                                    "runner.gameday.output:1 imports runner.cli.render",
                                    "runner.report.html:1 imports runner.cli"]


def test_an_engine_import_in_an_action_and_a_foreign_import_in_the_journal_are_found(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {
        "engine/context.py": "",
        "errors.py": "",
        "templating.py": "",
        "actions/shell.py": "if True:\n    from runner.engine.context import X\n",
        "journal/store.py": "from runner.errors import E\nfrom runner.journal import events\n"
                            "from runner import templating\n",
        "journal/events.py": "",
    })
    _, imports = scan(root)
    assert engine_imports_in_actions(imports) == ["runner.actions.shell:2 imports runner.engine.context"]
    assert journal_imports(imports) == ["runner.journal.store:3 imports runner.templating"]


def test_a_cycle_is_found_and_a_lazy_or_type_only_import_does_not_make_one(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {
        "journal/store.py": "from runner.journal.postgres import P\n",
        "journal/postgres.py": "try:\n    from runner.journal.store import S\nexcept ImportError:\n    pass\n",
        "engine/a.py": "from runner.engine import b\n",
        "engine/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from runner.engine import a\n"
                       "def f():\n    from runner.engine.a import X\n",
    })
    modules, imports = scan(root)
    assert cycles(graph(modules, imports)) == [["runner.journal.postgres", "runner.journal.store"]]
    assert [(i.importer, i.line, i.target) for i in lazy_cycle_dodges(modules, imports)] == [
        ("runner.engine.b", 5, "runner.engine.a")]
