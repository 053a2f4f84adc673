"""The step graph of a runbook: where each step can send the run — on in the file, `next:`, an action that
chooses (a branch's choices and default), `on_failure: goto:` — checked before anything runs. Every target
is a step; every step can be reached from the first one; a loop has a way out other than failing (a loop
without one is only a warning: the engine's visit limit still ends it)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from runner.actions.registry import traits
from runner.document.diagnostics import Diagnostic
from runner.document.schemas import did_you_mean
from runner.document.yamlsource import Document, PathKey


class Via(StrEnum):
    """How one step leads to another."""

    ORDER = "order"  # it finished: the next one in the file
    NEXT = "next"  # it finished: its `next:`
    CHOICE = "choice"  # its action chose (a branch's choice or default)
    FAILURE = "failure"  # it failed: its `on_failure: goto:`


@dataclass(frozen=True)
class Edge:
    """A way out of a step: the step it leads to, and why the run goes there."""

    to: int  # the index of the step it leads to
    via: Via


@dataclass(frozen=True)
class Node:
    """A step in the graph of a runbook: its edges to the steps a run may go to next."""

    index: int
    id: str
    edges: tuple[Edge, ...]
    stop: str  # why the run never goes on in the file from here ("" when it does), as a message says it


@dataclass(frozen=True)
class Target:
    """A step id named somewhere in a step, and where it is written."""

    at: PathKey
    step_id: str
    via: Via


def set_outputs(step: Mapping[str, Any]) -> set[str]:
    """The outputs a step's action sets from its parameters (control.set's `values`), beside `outputs:`."""
    action = step.get("action")
    param = traits(action).outputs_param if isinstance(action, str) else None
    params = step.get("with")
    values = params.get(param) if param and isinstance(params, dict) else None
    return {k for k in values if isinstance(k, str)} if isinstance(values, dict) else set()


def check_graph(doc: Document, data: Mapping[str, Any]) -> list[Diagnostic]:
    """Errors: a target that is not a step, a step that says contradictory things about where to go, a step
    that can never run."""
    steps = _steps(data)
    if not steps:
        return []
    ids = _first_index(steps)
    out = [problem for index, step in steps for problem in _step_problems(doc, index, step, ids)]
    if len(steps) != len(data["steps"]) or any(
        t.step_id not in ids for index, step in steps for t in targets(index, step)
    ):
        # A step without an id, or a target that is not a step: what they reach is unknown, and so is what
        # can never run.
        return out
    nodes = _nodes(steps, ids)
    reached = _reachable(nodes)
    for node in nodes:
        if node.index not in reached:
            why = _unreachable_why(node, nodes, reached)
            hint = "reach it with next:, a branch's goto or on_failure: goto:, or remove it"
            out.append(doc.diagnostic(("steps", node.index), f"step {node.id!r} can never run: {why}", hint))
    return out


def graph_warnings(doc: Document, data: Mapping[str, Any]) -> list[Diagnostic]:
    """Loops that only a failure can leave: every step in them goes on unconditionally to the next one."""
    steps = _steps(data)
    if not steps:
        return []
    nodes = _nodes(steps, _first_index(steps))
    out = []
    for component in _loops(nodes):
        if _has_way_out(component, nodes):
            continue
        first = min(component)
        cycle = " -> ".join(nodes[i].id for i in _cycle_from(first, component, nodes))
        out.append(
            doc.diagnostic(
                ("steps", first),
                f"steps {cycle} form a loop that only a failure can leave (no branch in it leads out)",
                "add a branch step that leads out of the loop; otherwise the run fails at the visit limit",
            )
        )
    return out


# --- the graph --------------------------------------------------------------------------------------------


def _steps(data: Mapping[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    steps = data.get("steps")
    if not isinstance(steps, list):
        return []
    # Steps without an id are reported by the schema; the graph is of the rest, at their own index.
    return [(i, s) for i, s in enumerate(steps) if isinstance(s, dict) and isinstance(s.get("id"), str)]


def _first_index(steps: list[tuple[int, dict[str, Any]]]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for index, step in steps:
        ids.setdefault(step["id"], index)  # a duplicate id is reported elsewhere; gotos go to the first
    return ids


def targets(index: int, step: Mapping[str, Any]) -> Iterator[Target]:
    """Every step id a step names as a place to go: next:, its action's step targets, on_failure: goto:."""
    at: PathKey = ("steps", index)
    if isinstance(step.get("next"), str):
        yield Target((*at, "next"), step["next"], Via.NEXT)
    for path, value in _chosen_targets(step):
        yield Target((*at, "with", *path), value, Via.CHOICE)
    policy = step.get("on_failure")
    if isinstance(policy, str) and policy.startswith("goto:"):
        yield Target((*at, "on_failure"), policy.removeprefix("goto:"), Via.FAILURE)


def _chooses(step: Mapping[str, Any]) -> bool:
    action = step.get("action")
    return isinstance(action, str) and bool(traits(action).step_targets)


def _chosen_targets(step: Mapping[str, Any]) -> Iterator[tuple[PathKey, str]]:
    action = step.get("action")
    if not isinstance(action, str) or not isinstance(step.get("with"), dict):
        return
    for dotted in traits(action).step_targets:
        yield from _walk(step["with"], tuple(dotted.split(".")), ())


def _walk(value: Any, parts: tuple[str, ...], at: PathKey) -> Iterator[tuple[PathKey, str]]:
    """The strings at a dotted path; lists on the way (not at its end) are walked item by item."""
    if not parts:
        if isinstance(value, str):
            yield at, value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, parts, (*at, i))
    elif isinstance(value, dict) and parts[0] in value:
        yield from _walk(value[parts[0]], parts[1:], (*at, parts[0]))


def _nodes(steps: list[tuple[int, dict[str, Any]]], ids: dict[str, int]) -> list[Node]:
    """One node per step of the document, in file order (a step without an id leads nowhere)."""
    by_index = dict(steps)
    count = max(by_index) + 1
    nodes = []
    for index in range(count):
        step = by_index.get(index)
        if step is None:
            nodes.append(Node(index, f"steps[{index}]", (), ""))
            continue
        stop = _stop(step)
        edges = [
            Edge(ids[t.step_id], t.via)
            for t in targets(index, step)
            if t.step_id in ids and (stop != "end" or t.via == Via.FAILURE)  # after end: only a failure leads on
        ]
        if not stop and index + 1 < count:
            edges.append(Edge(index + 1, Via.ORDER))
        nodes.append(Node(index, step["id"], tuple(edges), stop))
    return nodes


def _stop(step: Mapping[str, Any]) -> str:
    if step.get("end") is True:
        return "end"
    if isinstance(step.get("next"), str):
        return "next"
    if _chooses(step):
        return "choice"
    return ""


def _reachable(nodes: list[Node]) -> set[int]:
    seen, todo = {0}, [0]
    while todo:
        for edge in nodes[todo.pop()].edges:
            if edge.to not in seen:
                seen.add(edge.to)
                todo.append(edge.to)
    return seen


def _unreachable_why(node: Node, nodes: list[Node], reached: set[int]) -> str:
    before = nodes[node.index - 1]
    if before.index not in reached:
        how = f"step {before.id!r} before it can never run either"
    elif before.stop == "end":
        how = f"it comes after `end: true` in step {before.id!r}"
    elif before.stop == "next":
        target = next(nodes[e.to].id for e in before.edges if e.via == Via.NEXT)
        how = f"step {before.id!r} before it goes on to {target!r} (next:)"
    else:
        how = f"step {before.id!r} before it always chooses where the run goes (its choices and default)"
    sources = sorted({n.id for n in nodes for e in n.edges if e.to == node.index and e.via != Via.ORDER})
    if sources:
        return f"{how}, and only steps that can never run go to it ({', '.join(sources)})"
    return f"{how}, and no step goes to it"


def _step_problems(doc: Document, index: int, step: Mapping[str, Any], ids: Mapping[str, int]) -> list[Diagnostic]:
    at: PathKey = ("steps", index)
    out = []
    for target in targets(index, step):
        if target.via != Via.FAILURE and target.step_id not in ids:  # on_failure is checked with the step
            hint = did_you_mean(target.step_id, ids) or "it must be the id of a step of this runbook"
            out.append(doc.diagnostic(target.at, f"{target.step_id!r} is not a step id", hint))
    if step.get("end") is True and "next" in step:
        out.append(doc.diagnostic((*at, "end"), "a step cannot say both next: and end: true", "keep one of them"))
    if _chooses(step):
        # A skipped or redirected chooser would go where its choices never said: the choices say it all.
        for field, hint in (
            ("next", "put the step to go to in its choices or default"),
            ("end", "go to a step that says end: true"),
            ("when", "put the condition in its choices; the default is where the run goes otherwise"),
        ):
            if field in step:
                out.append(
                    doc.diagnostic(
                        (*at, field),
                        f"{field}: does not apply to {step.get('action')}: it chooses where the run goes",
                        hint,
                    )
                )
    return out


# --- loops ------------------------------------------------------------------------------------------------


def _loops(nodes: list[Node]) -> list[set[int]]:
    """Strongly connected sets of steps (over what a step does when it succeeds) that form a loop."""
    succ = [[e.to for e in n.edges if e.via != Via.FAILURE] for n in nodes]
    index_of: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    found: list[set[int]] = []
    counter = 0
    for root in range(len(nodes)):
        if root in index_of:
            continue
        work = [(root, 0)]
        while work:  # Tarjan's algorithm, without recursion (a runbook may have thousands of steps)
            node, child = work.pop()
            if child == 0:
                index_of[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            if child < len(succ[node]):
                work.append((node, child + 1))
                nxt = succ[node][child]
                if nxt not in index_of:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index_of[nxt])
                continue
            if low[node] == index_of[node]:
                component: set[int] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1 or node in succ[node]:
                    found.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def _has_way_out(component: set[int], nodes: list[Node]) -> bool:
    """A choice in the loop that leads out of it: a condition can end the loop."""
    return any(e.via == Via.CHOICE and e.to not in component for i in component for e in nodes[i].edges)


def _cycle_from(first: int, component: set[int], nodes: list[Node]) -> list[int]:
    path, at = [first], first
    while True:
        at = next(e.to for e in nodes[at].edges if e.via != Via.FAILURE and e.to in component)
        path.append(at)
        if at == first or at in path[:-1]:
            return path
