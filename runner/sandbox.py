"""The template sandbox, with a time budget and a size budget.

Jinja's SandboxedEnvironment stops templates from reaching Python internals and caps `range()`, but a
template that validates can still run for minutes (`{% for i in range(100000) %}{% for j in range(100000)
%}…`) or build a value of gigabytes (`'x' * 10**10`, `'%0999999999d' % 1`). Here every evaluation gets a
deadline, checked wherever a template can spend time — each loop iteration, call, filter, attribute or
item access and intercepted operator — and the places that multiply a value's size (repetition, `+`, `~`,
printf and str.format widths, padding, replace, join, lipsum) are checked before they allocate. Output is
joined chunk by chunk against the same size limit. Exceeding either budget raises BudgetExceeded, a
SecurityError, which callers turn into a TemplateError that names the template.

Plain references (`{{ inputs.x }}`) never get here: the template module resolves them directly.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from jinja2 import nodes
from jinja2.environment import Template
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum
from jinja2.visitor import NodeTransformer

TIME_BUDGET_SECONDS = 2.0
# Characters of a string or items of a list/dict a template may build, and characters it may output.
SIZE_BUDGET = 1_000_000
# Digits of an integer a template may build (10**3000 is plenty; 10**10**9 would take minutes).
INT_BITS_BUDGET = 10_000

_ITER_FILTER = "fireline_budget_iter"
_CONCAT_FILTER = "fireline_budget_concat"
_WIDTHS = re.compile(r"\d{7,}")  # a width or precision of a million or more in a format string
_state = threading.local()


class BudgetExceeded(SecurityError):
    """A template ran past its time budget or would build a value past its size budget."""


def _start_clock() -> None:
    _state.deadline = time.monotonic() + TIME_BUDGET_SECONDS


def check_time() -> None:
    deadline: float | None = getattr(_state, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise BudgetExceeded(f"it ran longer than {TIME_BUDGET_SECONDS:g}s, the time budget of a template")


def _check_size(size: int) -> None:
    if size > SIZE_BUDGET:
        raise BudgetExceeded(
            f"it would build a value of {size} characters or items, past the size budget of a template ({SIZE_BUDGET})"
        )


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple | dict | set | frozenset) else 0


def _check_result(value: Any) -> Any:
    _check_size(_size(value))
    return value


def _check_arguments(args: Iterable[Any]) -> None:
    """Widths, counts and repeat factors: no argument may ask for more than the size budget."""
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > SIZE_BUDGET:
            raise BudgetExceeded(f"the argument {arg} is past the size budget of a template ({SIZE_BUDGET})")


def _check_format(text: Any, args: Any) -> None:
    """printf (`%`, |format) and str.format: a huge width or precision pads the result to that size."""
    if isinstance(text, str) and _WIDTHS.search(text):
        raise BudgetExceeded("a width or precision of a million or more is past the size budget of a template")
    if isinstance(text, str) and "*" in text:
        _check_arguments(args if isinstance(args, tuple | list) else (args,))


def _check_replace(text: Any, old: Any, new: Any) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str) and len(new) > len(old):
        hits = text.count(old) if old else len(text) + 1
        _check_size(len(text) + hits * (len(new) - len(old)))


def _check_join(separator: Any, items: Any) -> None:
    if isinstance(separator, str) and hasattr(items, "__len__"):
        _check_size(len(separator) * len(items))


def _check_indent(text: Any, width: Any) -> None:
    if isinstance(text, str):
        pad = width if isinstance(width, int) and not isinstance(width, bool) else _size(width)
        _check_size(len(text) + (text.count("\n") + 1) * pad)


# Filters whose result can be much larger than their input, and how to bound it before it is built.
_FILTER_CHECKS: dict[str, Callable[..., None]] = {
    "replace": lambda value, old="", new="", *_: _check_replace(str(value), old, new),
    "join": lambda value, d="", *_: _check_join(d, value),
    "format": lambda value, *args, **kwargs: _check_format(value, args),
    "indent": lambda value, width=4, *_: _check_indent(value, width),
}
# Filters and str methods whose integer arguments are widths, lengths or counts of what they build.
_SIZED_FILTERS = frozenset({"center", "indent", "wordwrap", "truncate", "batch", "slice"})
_SIZED_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
# str methods that can multiply a string (reached through the sandbox's call hook).
_METHOD_CHECKS: dict[str, Callable[..., None]] = {
    "replace": lambda self, old="", new="", *_: _check_replace(self, old, new),
    "join": lambda self, items=(), *_: _check_join(self, items),
    "format": lambda self, *args, **kwargs: _check_format(self, args),
    "format_map": lambda self, *args: _check_format(self, ()),
}


def _budgeted_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    special = _FILTER_CHECKS.get(name)
    sized = name in _SIZED_FILTERS
    passes_context = getattr(function, "jinja_pass_arg", None) is not None

    @functools.wraps(function)  # keeps jinja_pass_arg, so Jinja still passes context/environment first
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        check_time()
        given = args[1:] if passes_context else args
        if sized:
            _check_arguments(given[1:])
            _check_arguments(kwargs.values())
        if special is not None and given:
            special(*given, **kwargs)
        return _check_result(function(*args, **kwargs))

    return wrapper


class _BudgetedIterable:
    """A loop's iterable: the deadline is checked before each item; the length stays available."""

    def __init__(self, source: Iterable[Any]) -> None:
        self._source = source

    def __iter__(self) -> Iterator[Any]:
        for item in self._source:
            check_time()
            yield item

    def __len__(self) -> int:
        return len(self._source)  # type: ignore[arg-type]  # TypeError tells Jinja's loop to count instead


def _budget_iter(value: Any) -> Any:
    return _BudgetedIterable(value) if isinstance(value, Iterable) else value


def _budget_concat(parts: list[Any]) -> str:
    texts = [str(part) for part in parts]
    _check_size(sum(map(len, texts)))
    return "".join(texts)


def _small_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if n * max > SIZE_BUDGET // 10:
        raise BudgetExceeded("lipsum asked for more text than the size budget of a template")
    return str(generate_lorem_ipsum(n, html, min, max))


class _Budgeting(NodeTransformer):
    """Rewrites the parsed template so loops and `~` pass through the budget filters."""

    def __init__(self, environment: Any) -> None:
        self.environment = environment

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = self._filter(node.iter, _ITER_FILTER)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return self._filter(nodes.List(node.nodes, lineno=node.lineno), _CONCAT_FILTER)

    def _filter(self, inner: nodes.Node, name: str) -> nodes.Filter:
        wrapped = nodes.Filter(inner, name, [], [], None, None, lineno=inner.lineno)
        wrapped.set_environment(self.environment)
        return wrapped


def _bounded_join(chunks: Iterable[str]) -> str:
    out: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        _check_size(size)
        out.append(chunk)
    return "".join(out)


class BudgetedTemplate(Template):
    def new_context(
        self,
        vars: dict[str, Any] | None = None,
        shared: bool = False,
        locals: Mapping[str, Any] | None = None,
    ) -> Context:
        # Every evaluation (render, generate, a compiled expression) starts here: so does its clock.
        _start_clock()
        return super().new_context(vars, shared, locals)


class BudgetedSandbox(ImmutableSandboxedEnvironment):
    """ImmutableSandboxedEnvironment with a time budget and a size budget for every evaluation."""

    template_class = BudgetedTemplate
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    concat = staticmethod(_bounded_join)  # type: ignore[assignment]

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _budgeted_filter(name, f) for name, f in self.filters.items()}
        self.filters[_ITER_FILTER] = _budget_iter
        self.filters[_CONCAT_FILTER] = _budget_concat
        self.globals["lipsum"] = _small_lipsum

    def _generate(
        self, source: nodes.Template, name: str | None, filename: str | None, defer_init: bool = False
    ) -> str:
        return super()._generate(_Budgeting(self).visit(source), name, filename, defer_init)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        check_time()
        if operator == "*":
            _check_repeat(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "+":
            if _size(left) and _size(right):
                _check_size(_size(left) + _size(right))
        elif operator == "%":
            _check_format(left, right)
        return _check_result(super().call_binop(context, operator, left, right))

    def getattr(self, obj: Any, attribute: str) -> Any:
        check_time()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        check_time()
        return super().getitem(obj, argument)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        check_time()
        # str.format arrives wrapped by the sandbox (its SandboxedFormatter); the string is the wrapped self.
        owner = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if isinstance(owner, str):
            name = getattr(__obj, "__name__", "")
            if name in _SIZED_METHODS:
                _check_arguments(args)
                _check_arguments(kwargs.values())
            if name in _METHOD_CHECKS:
                _METHOD_CHECKS[name](owner, *args, **kwargs)
        return _check_result(super().call(__context, __obj, *args, **kwargs))


def _check_repeat(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > INT_BITS_BUDGET:
            raise BudgetExceeded(f"it would build an integer of more than {INT_BITS_BUDGET} bits")
        return
    for sequence, times in ((left, right), (right, left)):
        if _size(sequence) and isinstance(times, int):
            _check_size(_size(sequence) * times)


def _check_power(left: Any, right: Any) -> None:
    big = isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1
    if big and right * math.log2(abs(left)) > INT_BITS_BUDGET:
        raise BudgetExceeded(f"it would build an integer of more than {INT_BITS_BUDGET} bits")
