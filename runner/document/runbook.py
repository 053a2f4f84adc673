"""Loading a runbook: YAML → schema → semantic checks → typed model. Every problem is reported at once."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from runner.actions.registry import family_connection_types, has_action, traits
from runner.document import templatecache
from runner.document.actionnames import suggest_action
from runner.document.diagnostics import Diagnostic, DocumentInvalid
from runner.document.graph import check_graph, set_outputs
from runner.document.limits import check_long_durations, check_retries, document_schema
from runner.document.model import Approval, InputSpec, OnFailure, Retries, Runbook, Step, SubAction
from runner.document.results import result_field_problem
from runner.document.schemas import action_schema, did_you_mean, validate_params, validate_structure
from runner.document.shelltext import check_shell_text
from runner.document.yamlsource import Document, PathKey, load_document
from runner.durations import duration_problem, is_duration, parse_duration
from runner.patterns import pattern_problem
from runner.secrets import SecretRef
from runner.templating import TEMPLATE_FUNCTIONS, is_template, references

TEMPLATE_GLOBALS = {
    "range",
    "dict",
    "lipsum",
    "cycler",
    "joiner",
    "namespace",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
    *TEMPLATE_FUNCTIONS,
}


def load_runbook(path: Path, display_name: str | None = None) -> Runbook:
    doc = load_document(path, display_name)
    problems = check_runbook(doc)
    if problems:
        raise DocumentInvalid(problems)
    return build_runbook(doc, path)


def check_runbook(doc: Document) -> list[Diagnostic]:
    problems = validate_structure(doc, "runbook.schema.json")
    problems += check_long_durations(doc, document_schema("runbook.schema.json"), doc.data, ())
    data = doc.data if isinstance(doc.data, dict) else {}
    problems += check_inputs(doc, data.get("inputs"))
    problems += _check_steps(doc, data)
    problems += check_graph(doc, data)
    templatecache.save(doc.file, doc.digest)
    # One problem can surface twice (schema + semantic); show it once.
    return sorted(set(problems))


# --- inputs ---------------------------------------------------------------------------------------------

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "list": (list,),
    "duration": (str, int, float),
}


def check_inputs(doc: Document, inputs: Any) -> list[Diagnostic]:
    if not isinstance(inputs, dict):
        return []
    out = []
    for name, spec in inputs.items():
        regex_problem = _bad_regex(spec.get("pattern")) if isinstance(spec, dict) else None
        if regex_problem:
            out.append(doc.diagnostic(("inputs", name, "pattern"), f"not a regular expression: {regex_problem}"))
        if not isinstance(spec, dict) or "default" not in spec:
            continue
        default, kind, at = spec["default"], spec.get("type"), ("inputs", name, "default")
        if kind in _PY_TYPES and not _is_type(default, kind):
            out.append(
                doc.diagnostic(
                    at, f"default {default!r} is not of type {kind}", "make the default match the declared type"
                )
            )
        elif kind == "duration" and isinstance(default, str | int | float) and not is_duration(default):
            out.append(doc.diagnostic(at, f"default: {duration_problem(default)}", "use e.g. 30s, 5m, 1h"))
        elif "enum" in spec and isinstance(spec["enum"], list) and default not in spec["enum"]:
            out.append(doc.diagnostic(at, f"default {default!r} is not one of the allowed values {spec['enum']}"))
        elif _is_number(default):
            # A bound that is not a number is the schema's to report.
            if _is_number(spec.get("minimum")) and default < spec["minimum"]:
                out.append(doc.diagnostic(at, f"default {default} is below the minimum {spec['minimum']}"))
            if _is_number(spec.get("maximum")) and default > spec["maximum"]:
                out.append(doc.diagnostic(at, f"default {default} is above the maximum {spec['maximum']}"))
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bad_regex(pattern: Any) -> str | None:
    return pattern_problem(pattern) if isinstance(pattern, str) else None


def _is_type(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _PY_TYPES[kind])


# --- steps ----------------------------------------------------------------------------------------------


class Scope:
    """What templates may name at a given point in the document."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.inputs = _keys(data.get("inputs"))
        self.secrets = _keys(data.get("secrets"))
        self.connections = _keys(data.get("connections"))
        self.step_outputs: dict[str, set[str]] = {}
        self.all_steps: set[str] = set()
        # The action of each earlier step (whose declared result shape `steps.<id>.result` reads), and the
        # action of the step being checked (what `result` is in its outputs, retries.until, verify, ...).
        self.step_results: dict[str, str] = {}
        self.result = ""


def _keys(value: Any) -> set[str]:
    return set(value) if isinstance(value, dict) else set()


def _check_steps(doc: Document, data: dict[str, Any]) -> list[Diagnostic]:
    steps = data.get("steps")
    if not isinstance(steps, list):
        return []
    scope = Scope(data)
    scope.all_steps = {s["id"] for s in steps if isinstance(s, dict) and isinstance(s.get("id"), str)}
    declared = data.get("connections")
    connections: dict[str, Any] = declared if isinstance(declared, dict) else {}
    out: list[Diagnostic] = []
    seen: dict[str, int] = {}
    groups: Mapping[str, tuple[str, ...]] | None = None  # the policy's approver groups, read at the first need
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        at: PathKey = ("steps", index)
        step_id = step.get("id")
        if isinstance(step_id, str):
            if step_id in seen:
                out.append(
                    doc.diagnostic(
                        (*at, "id"),
                        f"duplicate step id {step_id!r} (first used at line {doc.mark(('steps', seen[step_id])).line})",
                        "step ids must be unique",
                    )
                )
            seen.setdefault(step_id, index)
        out += _check_action(doc, step, at, connections)
        out += check_retries(doc, step.get("retries"), (*at, "retries"))
        for sub in ("verify", "rollback"):
            if isinstance(step.get(sub), dict):
                out += _check_action(doc, step[sub], (*at, sub), connections)
                out += check_retries(doc, step[sub].get("retries"), (*at, sub, "retries"))
        out += _check_on_failure(doc, step, at, scope)
        out += _check_read_only(doc, step, at)
        approval = step.get("approval")
        if isinstance(approval, dict) and isinstance(approval.get("approvers"), list):
            from runner.policy import approver_count, approver_groups  # a group counts by its members

            if groups is None:
                groups = approver_groups()
            needed, allowed = approval.get("min_approvers", 1), approver_count(approval["approvers"], groups)
            if isinstance(needed, int) and needed > allowed:
                out.append(
                    doc.diagnostic(
                        (*at, "approval", "min_approvers"),
                        f"needs {needed} approvers but only {allowed} are allowed",
                    )
                )
        action = step.get("action")
        scope.result = action if isinstance(action, str) else ""
        out += _check_templates(doc, step, at, scope)
        if isinstance(step_id, str) and step_id not in scope.step_outputs:
            # A duplicate id is reported once; templates keep resolving against the first definition.
            scope.step_outputs[step_id] = _keys(step.get("outputs")) | set_outputs(step)
            scope.step_results[step_id] = scope.result
    return out


def _check_read_only(doc: Document, step: dict[str, Any], at: PathKey) -> list[Diagnostic]:
    action = step.get("action")
    if not step.get("read_only") or not isinstance(action, str) or traits(action).accepts_read_only:
        return []
    return [
        doc.diagnostic(
            (*at, "read_only"),
            f"read_only does not apply to {action}",
            "it declares itself whether it changes anything; read_only is for actions that run arbitrary commands",
        )
    ]


def _check_action(doc: Document, node: dict[str, Any], at: PathKey, connections: dict[str, Any]) -> list[Diagnostic]:
    action = node.get("action")
    if not isinstance(action, str):
        return []
    if not has_action(action):
        return [doc.diagnostic((*at, "action"), f"unknown action {action!r}", suggest_action(action))]
    params = node.get("with", {})
    if not isinstance(params, dict):
        return []
    out = validate_params(doc, action, params, (*at, "with"))
    out += check_shell_text(doc, action, params, (*at, "with"))
    out += check_long_durations(doc, action_schema(action), params, (*at, "with"))
    for field, literal in traits(action).untemplated_params.items():
        if is_template(params.get(field)):
            out.append(
                doc.diagnostic(
                    (*at, "with", field), f"templates are not allowed in {literal.what}", literal.hint or None
                )
            )
    out += check_connection(doc, action, params.get("connection"), (*at, "with", "connection"), connections)
    return out


def check_connection(
    doc: Document, action: str, conn: Any, at: PathKey, connections: dict[str, Any]
) -> list[Diagnostic]:
    """A `connection:` names a declared connection of a type the action can use (a game-day fault that is not
    an action: a type its family's actions can use)."""
    if not isinstance(conn, str) or is_template(conn):
        return []
    if conn not in connections:
        return [
            doc.diagnostic(
                at, f"unknown connection {conn!r}", did_you_mean(conn, connections) or "declare it under connections:"
            )
        ]
    kind = connections[conn].get("type") if isinstance(connections[conn], dict) else None
    allowed = traits(action).connection_types or family_connection_types(action.partition(".")[0])
    if allowed and kind not in allowed:
        return [doc.diagnostic(at, f"connection {conn!r} is of type {kind}, {action} needs {' or '.join(allowed)}")]
    return []


def _check_on_failure(doc: Document, step: dict[str, Any], at: PathKey, scope: Scope) -> list[Diagnostic]:
    policy = step.get("on_failure")
    if isinstance(policy, str) and policy.startswith("goto:"):
        target = policy.removeprefix("goto:")
        if target not in scope.all_steps:
            return [
                doc.diagnostic(
                    (*at, "on_failure"),
                    f"goto target {target!r} is not a step id",
                    did_you_mean(target, scope.all_steps),
                )
            ]
    if policy == "rollback" and not isinstance(step.get("rollback"), dict):
        return []  # rolling back earlier steps is still meaningful
    return []


# Whose result a template may read: False for none, True for the step's own action, else an action's name
# (a verify's or rollback's own `retries.until` reads that action's result, not the step's).
ResultIn = bool | str
TemplateSite = tuple[PathKey, str, ResultIn]


def template_strings(value: Any, path: PathKey, with_result: ResultIn = False) -> Iterator[TemplateSite]:
    """(path, text, whose result it may use) for every template string inside a JSON-like value."""
    if isinstance(value, str) and is_template(value):
        yield path, value, with_result
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from template_strings(v, (*path, k), with_result)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from template_strings(v, (*path, i), with_result)


def _template_sites(step: dict[str, Any], at: PathKey) -> Iterator[TemplateSite]:
    """(path, text, whose result it may use) for every template string in a step."""
    yield from _with_sites(step, at, outside=False)
    if isinstance(step.get("when"), str):
        yield (*at, "when"), step["when"], False
    yield from template_strings(step.get("outputs"), (*at, "outputs"), True)
    yield from _until_site(step, at, True)
    for sub in ("verify", "rollback"):
        node = step.get(sub)
        if isinstance(node, dict):
            # Its parameters read the step's result; its own retries.until reads its own action's.
            yield from _with_sites(node, (*at, sub), outside=True)
            action = node.get("action")
            yield from _until_site(node, (*at, sub), action if isinstance(action, str) else "")


def _with_sites(node: dict[str, Any], at: PathKey, outside: ResultIn) -> Iterator[TemplateSite]:
    """The templates of `with:`. What the action judges itself against what it read (e.g. `expect.that`)
    may use `value` and that action's own `result`; the rest may use `outside`."""
    action = node.get("action")
    declared = traits(action) if isinstance(action, str) else None
    for path, text, _ in template_strings(node.get("with"), (*at, "with")):
        own = declared is not None and declared.deferred(path[len(at) + 1 :])
        yield path, text, (action if isinstance(action, str) else True) if own else outside


def judged_sites(action: str, value: Any, at: PathKey, within: PathKey = ()) -> Iterator[TemplateSite]:
    """The templates of `value` (at `at`, which is `within` inside `with:`), those the action judges itself
    against what it read (expect.that) reading its result: a game-day probe's parameters and expect."""
    declared = traits(action)
    for path, text, _ in template_strings(value, at):
        yield path, text, action if declared.deferred((*within, *path[len(at) :])) else False


def _until_site(node: dict[str, Any], at: PathKey, result: ResultIn) -> Iterator[TemplateSite]:
    retries = node.get("retries")
    if isinstance(retries, dict) and isinstance(retries.get("until"), str):
        yield (*at, "retries", "until"), retries["until"], result


def _check_templates(doc: Document, step: dict[str, Any], at: PathKey, scope: Scope) -> list[Diagnostic]:
    return check_template_sites(doc, _template_sites(step, at), scope)


def check_template_sites(
    doc: Document, sites: Iterable[TemplateSite], scope: Scope, extra_roots: tuple[str, ...] = ()
) -> list[Diagnostic]:
    out = []
    for path, text, with_result in sites:
        refs = _references(doc, text)
        if isinstance(refs, templatecache.SyntaxProblem):
            message, hint = f"template syntax error: {refs.message}", "templates look like {{ inputs.name }}"
            out.append(doc.diagnostic(path, message, hint, needle="", line=refs.lineno))
            continue
        for ref in refs:
            if ref.root in extra_roots:
                continue
            problem = _check_reference(ref.root, ref.chain, scope, with_result)
            if problem:
                needle = _offending_name(problem[0], ref.root, ref.chain)
                out.append(doc.diagnostic(path, problem[0], problem[1], needle=needle, line=ref.lineno))
    return out


def _references(doc: Document, text: str) -> templatecache.Entry:
    """What `text` names (or its syntax error), from the document's template cache when it is known there."""
    known = templatecache.lookup(doc.file, doc.digest, text)
    if known is not None:
        return known
    entry: templatecache.Entry
    try:
        entry = references(text)
    except Exception as exc:
        # Only a template Jinja parsed can fail here, so Jinja is loaded by now.
        from jinja2 import TemplateSyntaxError

        if not isinstance(exc, TemplateSyntaxError):
            raise
        entry = templatecache.SyntaxProblem(str(exc.message), exc.lineno)
    templatecache.remember(doc.file, doc.digest, text, entry)
    return entry


def _offending_name(message: str, root: str, chain: tuple[str | int, ...]) -> str:
    """The name a reference problem is about (the last one the message mentions), to point at in the file."""
    return next((str(name) for name in reversed((root, *chain)) if str(name) in message), root)


def _check_reference(
    root: str, chain: tuple[str | int, ...], scope: Scope, with_result: ResultIn
) -> tuple[str, str | None] | None:
    namespaces = {"inputs": scope.inputs, "secrets": scope.secrets, "connections": scope.connections}
    if root in namespaces:
        if chain and str(chain[0]) not in namespaces[root]:
            name = str(chain[0])
            return f"{root}.{name} is not declared", did_you_mean(name, namespaces[root]) or f"declare it under {root}:"
        return None
    if root == "steps":
        if not chain:
            return None
        target = str(chain[0])
        if target not in scope.step_outputs:
            if target in scope.all_steps:
                return (
                    f"steps.{target} refers to a later step (or this one)",
                    "a template can only use steps that ran before it",
                )
            return f"steps.{target} is not a step id", did_you_mean(target, scope.all_steps)
        if len(chain) >= 3 and chain[1] == "outputs" and str(chain[2]) not in scope.step_outputs[target]:
            declared = scope.step_outputs[target]
            return (
                f"step {target!r} has no output {chain[2]!r}",
                did_you_mean(str(chain[2]), declared) or f"declare it under outputs: of step {target!r}",
            )
        if len(chain) >= 2 and chain[1] not in ("outputs", "result", "status", "changed"):
            return f"steps.{target}.{chain[1]} is not available", "use outputs, result or status"
        if len(chain) >= 3 and chain[1] == "result":
            return _result_problem(scope.step_results.get(target, ""), chain[2:])
        return None
    if root == "value" and with_result is not False:
        return None
    if root == "result":
        if with_result is False:
            return "result is only available in outputs, retries.until, verify and rollback", None
        return _result_problem(scope.result if with_result is True else with_result, chain)
    if root in ("run", "gameday") or root in TEMPLATE_GLOBALS:
        return None
    return f"unknown variable {root!r}", did_you_mean(
        root, ["inputs", "secrets", "connections", "steps", "result", "run"]
    )


def _result_problem(action: str, chain: tuple[str | int, ...]) -> tuple[str, str | None] | None:
    """A field the shape `action` declares for its result does not have (see runner/document/results.py)."""
    if not action or not chain:
        return None
    return result_field_problem(action, traits(action).result_schema, chain)


# --- the model ------------------------------------------------------------------------------------------


def build_runbook(doc: Document, path: Path) -> Runbook:
    data = doc.data
    meta = data["metadata"]
    return Runbook(
        path=str(path),
        digest=doc.digest,
        name=meta["name"],
        title=meta.get("title", meta["name"]),
        metadata=meta,
        inputs={name: build_input(name, spec) for name, spec in (data.get("inputs") or {}).items()},
        secrets={
            name: SecretRef(name, s["from"], s.get("name") or s.get("path"), s.get("optional", False))
            for name, s in (data.get("secrets") or {}).items()
        },
        connections=data.get("connections") or {},
        steps=tuple(_step(i, s) for i, s in enumerate(data["steps"])),
    )


def build_input(name: str, spec: Mapping[str, Any]) -> InputSpec:
    return InputSpec(
        name=name,
        type=spec["type"],
        required=bool(spec.get("required", False)),
        default=spec.get("default"),
        has_default="default" in spec,
        description=spec.get("description", ""),
        enum=tuple(spec.get("enum", ())),
        minimum=spec.get("minimum"),
        maximum=spec.get("maximum"),
        pattern=spec.get("pattern"),
    )


def seconds_or_none(value: Any) -> float | None:
    return None if value is None else parse_duration(value)


def _retries(spec: Mapping[str, Any] | None) -> Retries | None:
    if not spec:
        return None
    return Retries(
        count=spec["count"],
        delay=seconds_or_none(spec.get("delay")) or 1.0,
        backoff=float(spec.get("backoff", 1.0)),
        until=spec.get("until"),
    )


def _sub(spec: Mapping[str, Any] | None) -> SubAction | None:
    if not spec:
        return None
    return SubAction(
        spec["action"], spec.get("with", {}), seconds_or_none(spec.get("timeout")), _retries(spec.get("retries"))
    )


def _step(index: int, spec: Mapping[str, Any]) -> Step:
    approval = spec.get("approval")
    return Step(
        id=spec["id"],
        index=index,
        action=spec["action"],
        params=spec.get("with", {}),
        name=spec.get("name", ""),
        when=spec.get("when"),
        outputs=spec.get("outputs", {}),
        approval=Approval(
            approval.get("required"),
            approval.get("min_approvers", 1),
            tuple(approval.get("approvers", ())),
            seconds_or_none(approval.get("timeout")),
            approval.get("allow_self", True),
        )
        if approval is not None
        else None,
        timeout=seconds_or_none(spec.get("timeout")),
        retries=_retries(spec.get("retries")),
        on_failure=OnFailure.parse(spec.get("on_failure")),
        verify=_sub(spec.get("verify")),
        rollback=_sub(spec.get("rollback")),
        read_only=bool(spec.get("read_only", False)),
        notes=spec.get("notes", ""),
        critical=bool(spec.get("critical", True)),
        next=spec.get("next"),
        end=bool(spec.get("end", False)),
    )
