"""Jinja2 templates in a sandbox with StrictUndefined, plus static analysis of what a template names.

A value that is exactly one expression (`"{{ inputs.replicas }}"`) renders to the native value (an int stays
an int); anything else renders to a string. For shell command lines every expression's value is shell-quoted,
and a value the shell would not read as one plain word (inside the author's quotes, a substitution, a comment
or a here-document) is refused (runner.shellsyntax), so an input can never inject a command.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from runner.actions.registry import traits
from runner.errors import FirelineError
from runner.shellsyntax import (
    Hole,
    Item,
    Misplaced,
    describe,
    hint,
    is_one_quoted_word,
    misplaced_holes,
    template_items,
)
from runner.templatetime import FUNCTIONS, plain

if TYPE_CHECKING:
    from jinja2 import nodes

    from runner.sandbox import BudgetedSandbox

# Jinja (and the sandbox built on it) is loaded on first use: literals and plain references
# (`{{ true }}`, `{{ inputs.service }}`) are resolved and analysed without it, so a run or a validation
# whose templates are all of that kind never imports it.

_SINGLE_EXPR = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}).)*)\}\}\s*$", re.DOTALL)


class TemplateError(FirelineError):
    """A template failed to render (unknown name, type error, sandbox refusal)."""


def is_template(value: object) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def strings_in(value: Any) -> Iterator[str]:
    """Every string nested in `value` (itself, the values of mappings, the items of lists and tuples), in order."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_in(item)


def templates_in(value: Any) -> Iterator[str]:
    """The templates among the strings nested in `value`."""
    return (text for text in strings_in(value) if is_template(text))


# In shell text each value is quoted and fenced with NUL: after rendering, the fences show the checker
# (runner.shellsyntax) exactly which characters the author wrote and which came from values. NUL can fence
# because neither can contain it: argv cannot carry it, so it is refused on both sides.
_FENCE = "\x00"


class _NulInValue(Exception):
    pass


def _shell_quote(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if _FENCE in text:
        raise _NulInValue
    return _FENCE + shlex.quote(text) + _FENCE


def _render_shell_text(text: str, context: Mapping[str, Any]) -> str:
    if _FENCE in text:
        raise TemplateError(f"command {_brief(text)} contains a NUL byte, which no command line can carry")
    try:
        rendered = _compiled_template(text, True).render(**context)
    except _NulInValue:
        raise TemplateError(
            f"command {_brief(text)}: a templated value contains a NUL byte, which no command line can carry"
        ) from None
    return _checked_shell_text(rendered, text)


def _checked_shell_text(rendered: str, template: str) -> str:
    """The rendered command without fences, once every value is known to be a plain word of it."""
    parts = rendered.split(_FENCE)
    items: list[Item] = []
    for index, part in enumerate(parts):
        if index % 2 == 0:
            items.extend(part)
        elif is_one_quoted_word(part):
            items.append(Hole(index // 2))
        else:
            raise TemplateError(
                f"command {_brief(template)}: a templated value was changed after it was quoted",
                "apply the filter inside {{ }} instead of a {% filter %} block, e.g. {{ x | replace('a', 'b') }}",
            )
    misplaced = misplaced_holes(items)
    if misplaced:
        first = misplaced[0]
        # Name the template as written when the outputs line up one-to-one with the `{{ }}` in the text.
        written = template_items(template)[1]
        advice = hint(first)
        if len(written) == len(parts) // 2:
            at = written[first.hole.index]
            first = Misplaced(Hole(first.hole.index, at.source), first.regions)
            advice = hint(first, template, at.offset)
        # The fix goes in the message too: a step failure is shown as its message alone.
        raise TemplateError(f"command {_brief(template)}: {describe(first)} ({advice})", advice)
    return "".join(parts)


@cache
def _environment(shell: bool) -> BudgetedSandbox:
    from jinja2 import StrictUndefined

    from runner.sandbox import BudgetedSandbox

    env = BudgetedSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True,
                          finalize=_shell_quote if shell else None)
    env.globals.update(FUNCTIONS)
    return env


# now(), duration(), parse_time(): names every template may call (runner/templatetime.py).
TEMPLATE_FUNCTIONS = frozenset(FUNCTIONS)


@lru_cache(maxsize=4096)
def _compiled_expression(expr: str) -> Callable[..., Any]:
    return _environment(False).compile_expression(expr, undefined_to_none=False)


@lru_cache(maxsize=4096)
def _compiled_template(text: str, shell: bool) -> Any:
    return _environment(shell).from_string(text)


def render_params(action: str, params: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """An action's parameters rendered as the action declares (runner/actions/declarations.py): its shell
    text quoted and checked, what it judges itself against what it reads (`expect.that`) left as written."""
    declared = traits(action)
    shell_text = declared.shell_text_params
    deferred = [tuple(path.split(".")) for path in declared.deferred_params]
    return {
        k: _render_except(v, context, k in shell_text, [d[1:] for d in deferred if d[0] == k])
        for k, v in params.items()
    }


def _render_except(value: Any, context: Mapping[str, Any], shell: bool, deferred: list[tuple[str, ...]]) -> Any:
    """`value` rendered, except at the (relative) paths in `deferred`."""
    if not deferred:
        return render_value(value, context, shell=shell)
    if () in deferred or not isinstance(value, Mapping):
        return value if () in deferred else render_value(value, context, shell=shell)
    return {k: _render_except(v, context, shell, [d[1:] for d in deferred if d[0] == k]) for k, v in value.items()}


def render_value(value: Any, context: Mapping[str, Any], *, shell: bool = False) -> Any:
    """Render strings inside any JSON-like value. Non-template values pass through untouched."""
    if isinstance(value, str):
        return render_string(value, context, shell=shell) if is_template(value) else value
    if isinstance(value, Mapping):
        return {k: render_value(v, context, shell=shell) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, context, shell=shell) for v in value]
    return value


# --- a fast path for the commonest expressions ---------------------------------------------------------
# Most templates are a literal or a plain reference (`{{ inputs.deployment }}`, `{{ steps.count.outputs.n }}`).
# Resolving those directly, with Jinja's lookup rules (attribute then item for `.x`, item then attribute for
# `[x]`), costs a tenth of a Jinja call. Anything else, any miss and any error go through Jinja, so results
# and error messages stay Jinja's own. Names starting with "_" never take the fast path (the sandbox rule).
_LITERALS: dict[str, Any] = {"true": True, "false": False, "none": None, "True": True, "False": False, "None": None}
_NAME = r"[A-Za-z][A-Za-z0-9_]*"
_PATH = re.compile(rf"^\s*({_NAME})((?:\.{_NAME}|\[(?:\d+|'[^'_][^']*'|\"[^\"_][^\"]*\")\])*)\s*$")
_PART = re.compile(rf"\.({_NAME})|\[(\d+|'[^']*'|\"[^\"]*\")\]")
_MISS = object()


@lru_cache(maxsize=4096)
def _fast_plan(expr: str) -> tuple[str, tuple[tuple[str, str | int], ...]] | None:
    """("literal", ((value),)) or (root, ((kind, key), ...)) for expressions the fast path can take."""
    word = expr.strip()
    if word in _LITERALS:
        return ("", (("literal", word),))
    match = _PATH.match(expr)
    if match is None:
        return None
    steps: list[tuple[str, str | int]] = []
    for attr, item in _PART.findall(match.group(2)):
        if attr:
            steps.append(("attr", attr))
        elif item.isdigit():
            steps.append(("item", int(item)))
        else:
            steps.append(("item", item[1:-1]))
    return (match.group(1), tuple(steps))


def _fast_evaluate(expr: str, context: Mapping[str, Any]) -> Any:
    plan = _fast_plan(expr)
    if plan is None:
        return _MISS
    root, steps = plan
    if not root:
        return _LITERALS[str(steps[0][1])]
    value = context.get(root, _MISS)
    for kind, key in steps:
        if value is _MISS:
            return _MISS
        value = _lookup(value, kind, key)
    return value


def _lookup(value: Any, kind: str, key: str | int) -> Any:
    first, second = (_get_attr, _get_item) if kind == "attr" else (_get_item, _get_attr)
    found = first(value, key)
    return second(value, key) if found is _MISS else found


def _get_attr(value: Any, key: str | int) -> Any:
    if not isinstance(key, str):
        return _MISS
    return getattr(value, key, _MISS)


def _get_item(value: Any, key: str | int) -> Any:
    try:
        return value[key]
    except (TypeError, LookupError, AttributeError):
        return _MISS


def render_string(text: str, context: Mapping[str, Any], *, shell: bool = False) -> Any:
    try:
        match = _SINGLE_EXPR.match(text)
        if match and not shell:
            fast = _fast_evaluate(match.group("expr"), context)
            if fast is not _MISS and not callable(fast):
                return fast
            value = _compiled_expression(match.group("expr"))(**context)
            from jinja2 import Undefined  # loaded by the line above

            if isinstance(value, Undefined):
                # A bare expression hands back StrictUndefined instead of raising: make it raise now, not
                # later in whatever receives it.
                value._fail_with_undefined_error()
            # A time leaves as ISO 8601 text, a duration as seconds: outputs journal and resume as plain JSON.
            return plain(value)
        if not shell:
            return _compiled_template(text, shell).render(**context)
        return _render_shell_text(text, context)
    except Exception as exc:
        error = _render_error(text, exc)
        if error is None:
            raise
        raise error from None


def _render_error(text: str, exc: Exception) -> TemplateError | None:
    """The TemplateError for what rendering raised, or None for what is not a template's fault."""
    if isinstance(exc, TemplateError):
        return None
    if isinstance(exc, (RecursionError, MemoryError)):
        return TemplateError(f"template {_brief(text)}: too much work ({type(exc).__name__})")
    # Anything else Jinja raised means Jinja is loaded: naming its errors costs nothing.
    from jinja2 import TemplateSyntaxError, UndefinedError
    from jinja2.exceptions import SecurityError

    if isinstance(exc, UndefinedError):
        message = (exc.message or "undefined").replace("'runner.engine.context._VisibleSteps object'", "steps")
        return TemplateError(f"template {_brief(text)}: {message}")
    if isinstance(exc, SecurityError):
        return TemplateError(f"template {_brief(text)} was refused by the sandbox: {exc}")
    if isinstance(exc, TemplateSyntaxError):
        return TemplateError(f"template {_brief(text)}: syntax error: {exc.message}")
    if isinstance(exc, (TypeError, ValueError, ZeroDivisionError, AttributeError, KeyError, IndexError, OverflowError)):
        # OverflowError: the sandbox's range() past MAX_RANGE, a float too large.
        return TemplateError(f"template {_brief(text)}: {exc}")
    return None


def _brief(text: str, limit: int = 80) -> str:
    """The template as quoted in an error: long prose templates are cut, the message is what matters."""
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    """Evaluate `{{ expr }}` (or a bare expression) to a native value."""
    match = _SINGLE_EXPR.match(expression)
    return render_string(expression if match else "{{ " + expression + " }}", context)


# --- static analysis ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """A name a template reads: root plus the constant attribute/item chain after it."""

    root: str
    chain: tuple[str | int, ...]
    lineno: int


def parse_template(text: str) -> nodes.Template:
    """Parse only (no render); raises TemplateSyntaxError."""
    return _environment(False).parse(text)


@lru_cache(maxsize=8192)
def references(text: str) -> tuple[Reference, ...]:
    """Every variable a template reads, with the constant part of its access chain.

    `steps['count'].outputs.active` → Reference("steps", ("count", "outputs", "active")). Names bound inside
    the template (for loops, set) are not references.
    """
    simple = _simple_references(text)
    return simple if simple is not None else _references_by_parse(text)


def _references_by_parse(text: str) -> tuple[Reference, ...]:
    from jinja2 import nodes

    tree = parse_template(text)
    bound = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    found: list[Reference] = []
    for node in _outermost_accesses(tree):
        chain: list[str | int] = []
        cursor: nodes.Node = node
        while isinstance(cursor, nodes.Getattr | nodes.Getitem):
            if isinstance(cursor, nodes.Getattr):
                chain.append(cursor.attr)
            elif isinstance(cursor.arg, nodes.Const) and isinstance(cursor.arg.value, str | int):
                chain.append(cursor.arg.value)
            else:
                chain.clear()  # dynamic index: only what precedes it is checkable
            cursor = cursor.node
        if isinstance(cursor, nodes.Name) and cursor.ctx == "load" and cursor.name not in bound:
            found.append(Reference(cursor.name, tuple(reversed(chain)), cursor.lineno))
    return tuple(found)


_OPERATORS = frozenset({"not", "and", "or", "in", "is", "if", "else"})


def _simple_references(text: str) -> tuple[Reference, ...] | None:
    """What Jinja's parse would say of a template that is one literal or one plain reference, read without
    Jinja (the expressions `_fast_plan` takes, quoted keys without escapes); None for anything else."""
    match = _SINGLE_EXPR.match(text)
    if match is None or "{%" in text or "{#" in text or "\\" in text:
        return None
    expr = match.group("expr")
    plan = _fast_plan(expr) if "{{" not in expr else None
    if plan is None:
        return None
    root, steps = plan
    if not root:
        return ()
    if root in _LITERALS or root in _OPERATORS:  # `none.x`, `not x`: Jinja reads no name there
        return None
    # Jinja numbers lines from the template's start: newlines before the name count.
    name_at = match.start("expr") + len(expr) - len(expr.lstrip())
    return (Reference(root, tuple(key for _, key in steps), 1 + text[:name_at].count("\n")),)


def _outermost_accesses(tree: nodes.Node) -> Iterator[nodes.Node]:
    """Names and attribute/item chains, outermost only (so a.b.c yields once, not three times)."""
    from jinja2 import nodes

    def walk(node: nodes.Node, inside_chain: bool) -> Iterator[nodes.Node]:
        is_access = isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Name)
        if is_access and not inside_chain:
            yield node
        for child in node.iter_child_nodes():
            child_in_chain = (
                is_access
                and isinstance(child, nodes.Getattr | nodes.Getitem | nodes.Name)
                and (child is getattr(node, "node", None))
            )
            yield from walk(child, child_in_chain)

    yield from walk(tree, False)
