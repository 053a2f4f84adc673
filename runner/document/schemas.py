"""The JSON Schemas in schemas/ are the source of truth; this module loads them and turns jsonschema's
errors into diagnostics a responder can act on."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from runner import codecache
from runner.actions.declarations import schema_dir
from runner.actions.registry import has_action
from runner.digest import sha256_hex
from runner.document.diagnostics import Diagnostic
from runner.document.yamlsource import Document, PathKey
from runner.templating import is_template

DURATION_PATTERN = "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"


@cache
def load_schema(relative: str) -> dict[str, Any]:
    with (schema_dir() / relative).open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


_DRAFT = "https://json-schema.org/draft/2020-12/schema"


def inline_refs(node: Any, document: str) -> Any:
    """The schema with every `$ref` replaced by what it points to. Resolving references through the
    `referencing` registry on every instance was most of validation's cost; our schemas are not recursive,
    so resolving them once at load is exact. Action dispatch (actions/index.json) becomes an empty schema:
    `with` blocks are validated per action by `action_validator`, with better paths."""
    if isinstance(node, list):
        return [inline_refs(item, document) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: inline_refs(v, document) for k, v in node.items() if k != "$ref"}
    ref = node.get("$ref")
    if ref is None:
        return out
    target_doc, _, pointer = ref.partition("#")
    target_doc = target_doc or document
    if target_doc.startswith("actions/index.json"):
        return out
    target: Any = load_schema(target_doc)
    for part in [p for p in pointer.split("/") if p]:
        target = target[part]
    resolved = inline_refs(target, target_doc)
    if not out:
        return resolved
    # `$ref` with siblings: both apply (2020-12), so keep them side by side.
    return {"allOf": [resolved], **out}


@cache
def _validator(kind: str) -> Any:
    from jsonschema import Draft202012Validator

    schema = inline_refs(load_schema(kind), kind)
    schema.pop("$defs", None)
    return Draft202012Validator(schema)


_FAMILY = re.compile(r"[a-z][a-z0-9_-]{0,63}", re.ASCII)


@cache
def action_schema(action: str) -> dict[str, Any] | None:
    """The parameter schema of an action (schemas/actions/<family>.json), or of a game-day fault that is
    not an action (schemas/faults.json)."""
    family, _, short = action.partition(".")
    # Only a plain name can be a family's file: not a path elsewhere, not a name too long for a file.
    if _FAMILY.fullmatch(family) and (schema_dir() / "actions" / f"{family}.json").exists():
        defs = load_schema(f"actions/{family}.json").get("$defs", {})
        if short in defs:
            return {"$schema": _DRAFT, **inline_refs(defs[short], f"actions/{family}.json")}
    faults = load_schema("faults.json").get("$defs", {})
    if action in faults:
        return {"$schema": _DRAFT, **inline_refs(faults[action], "faults.json")}
    return _plugin_schema(action)


def _plugin_schema(action: str) -> dict[str, Any] | None:
    """A plugin action (entry point group `fireline.actions`) brings its schema as `params_schema`."""
    from runner.actions.registry import BUILTIN, get_action, has_action

    if action in BUILTIN or not has_action(action):
        return None
    schema = getattr(get_action(action), "params_schema", None)
    return {"$schema": _DRAFT, **schema} if isinstance(schema, dict) else None


@cache
def action_validator(action: str) -> Any:
    from jsonschema import Draft202012Validator

    schema = action_schema(action)
    return Draft202012Validator(schema) if schema is not None else None


class SchemaInvalid(ValueError):
    """Raised by a compiled validator for a value its schema refuses (in place of fastjsonschema's own
    exception, whose import would load the whole library: all its code generators, ~3 ms at every start)."""

    def __init__(self, message: str = "", *args: Any, **details: Any) -> None:
        super().__init__(message)


# How fastjsonschema's generated code names its exceptions: the names are given to it directly instead.
_EXCEPTIONS_IMPORT = "from fastjsonschema import JsonSchemaValueException, JsonSchemaValuesException\n"


def _compile_fast(schema: dict[str, Any]) -> Callable[[Any], Any]:
    """A compiled validator for `schema`, named in the cache by the schema itself."""
    return _load_or_generate(json.dumps(_draft07(schema), sort_keys=True), lambda: schema)


def _draft07(schema: dict[str, Any]) -> dict[str, Any]:
    # fastjsonschema speaks draft-07; with references inlined, our 2020-12 schemas use nothing newer.
    return {k: v for k, v in schema.items() if k != "$schema"}


def _load_or_generate(name: str, schema: Callable[[], dict[str, Any]]) -> Callable[[Any], Any]:
    """A compiled validator. Generating its code (~0.1 s for the runbook schema) and compiling that code to
    bytecode (as long again) would happen at every start: the bytecode is kept in the user's cache
    directory, named by a hash of `name` (what the schema is made from), fastjsonschema's own version file
    and the bytecode format, so a changed schema, library or Python gets a new one. A missing, truncated,
    damaged or foreign file is rebuilt, never trusted (runner/codecache.py). (Python's own bytecode cache is
    not used: PYTHONDONTWRITEBYTECODE, common in containers, would turn it off.) fastjsonschema itself is
    imported only to generate code, and `schema` is called only then."""
    tag = importlib.util.MAGIC_NUMBER.hex()
    key = sha256_hex(f"5:{_generator_version()}:{tag}:{name}".encode())[:20]
    path = _cache_path(key)
    try:
        code = codecache.read(path)
        if code is None:
            code = compile(_generated(_draft07(schema())), f"<fireline schema {key}>", "exec")
            codecache.write(path, code)
        namespace: dict[str, Any] = {
            "__name__": f"fireline_schema_{key}",
            "JsonSchemaValueException": SchemaInvalid,
            "JsonSchemaValuesException": SchemaInvalid,
            "Decimal": _NotADecimal,
        }
        exec(code, namespace)  # code generated just now, or read back intact, from our own schema
        return namespace["validate"]  # type: ignore[no-any-return]
    except (ImportError, SyntaxError, KeyError):
        import fastjsonschema

        return fastjsonschema.compile(_draft07(schema()))  # type: ignore[no-any-return]


class _NotADecimal:
    """What the generated code's `Decimal` is when it only asks whether a value is one: fireline's values come
    from YAML and JSON, which never make a Decimal, and importing decimal costs 1.5 ms at every start."""


def _generated(body: dict[str, Any]) -> str:
    import fastjsonschema

    source = fastjsonschema.compile_to_code(body).replace(_EXCEPTIONS_IMPORT, "", 1)
    source = _bare_raises(source.replace("from decimal import Decimal\n", ""))
    # Code that makes Decimals (multipleOf) gets the real one; compile_to_code sometimes leaves its import out.
    return ("from decimal import Decimal\n" if "Decimal(" in source else "") + "import re\n" + source


def _bare_raises(source: str) -> str:
    """The generated code with its exceptions raised bare. Each raise builds a message and carries the part
    of the schema that refused the value as a literal: two thirds of the code (1.3 MB of bytecode for the
    runbook schema, read at every start), for details fireline never reads, since a refusal only sends the
    document to jsonschema, which explains it. What is checked, and in what order, is unchanged."""
    import ast

    class Bare(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> ast.AST:
            if isinstance(node.func, ast.Name) and node.func.id in ("JsonSchemaValueException",
                                                                    "JsonSchemaValuesException"):
                return ast.Call(func=node.func, args=[], keywords=[])
            return self.generic_visit(node)

    return ast.unparse(ast.fix_missing_locations(Bare().visit(ast.parse(source))))


@cache
def _generator_version() -> str:
    """fastjsonschema's version file, read without importing the library (its import costs ~3 ms)."""
    spec = importlib.util.find_spec("fastjsonschema")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        with contextlib.suppress(OSError):
            return Path(folder, "version.py").read_text(encoding="utf-8").strip()
    import fastjsonschema

    return str(fastjsonschema.VERSION)


def _cache_path(key: str) -> str:
    return codecache.cache_dir("schemas", f"schema_{key}.code")


@cache
def _fast(kind: str) -> Callable[[Any], Any]:
    """A document kind's validator: its schema file, references inlined, made template-tolerant. Named in
    the cache like a built-in action's (see _action_validator): the schema is made only to generate it."""

    def schema() -> dict[str, Any]:
        made = inline_refs(load_schema(kind), kind)
        made.pop("$defs", None)
        tolerant: dict[str, Any] = template_tolerant(made)
        return tolerant

    return _load_or_generate(f"document:{kind}:{_sources_stamp()}", schema)


@cache
def _fast_action(action: str) -> Callable[[Any], Any] | None:
    schema = action_schema(action)
    return _action_validator(action, "rendered", lambda: schema) if schema is not None else None


@cache
def _fast_authored(action: str) -> Callable[[Any], Any] | None:
    """For parameters as written (templates not yet rendered): see `template_tolerant`."""
    schema = action_schema(action)
    if schema is None:
        return None
    return _action_validator(action, "authored", lambda: template_tolerant(schema))


def _action_validator(action: str, variant: str, schema: Callable[[], Any]) -> Callable[[Any], Any]:
    """A built-in action's validator is named in the cache by what its schema is made from (the schema files
    and this module's code): deriving the schema and its text only to name it cost ~0.05 ms per action at
    every start. A plugin's schema comes from its code: it is named by the schema itself."""
    from runner.actions.registry import BUILTIN

    if action in BUILTIN:
        return _load_or_generate(f"{variant}:{action}:{_sources_stamp()}", schema)
    return _compile_fast(schema())


@cache
def _sources_stamp() -> str:
    """Path, size and modification time of each schema file and of this module."""
    folder = str(schema_dir())
    info = os.stat(__file__)
    return "\n".join([folder, *codecache.file_stamps(folder), f"{__file__}:{info.st_size}:{info.st_mtime_ns}"])


# The keywords whose error `explain` drops when the value is a template (it is only checkable once rendered).
_TEMPLATE_DEFERS = ("type", "enum", "const", "minimum", "maximum", "pattern", "format", "exclusiveMinimum")
_TEMPLATE = {"type": "string", "pattern": "\\{\\{|\\{%"}  # what `is_template` says
# Keywords whose subschemas jsonschema reports errors of directly (not wrapped in one anyOf/oneOf/not error).
_DIRECT_ONE = ("additionalProperties", "items", "then", "else")
_DIRECT_MANY = ("allOf", "prefixItems")
_DIRECT_MAPS = ("properties", "patternProperties", "dependentSchemas")


def template_tolerant(schema: Any) -> Any:
    """The schema with `explain`'s template rule built in: where a value is a template, the keywords it
    defers (type, enum, pattern, ...) also accept it. A valid runbook with templated parameters then
    passes the compiled check, and jsonschema (~40 ms to import) is only loaded to explain a real error.
    Only subschemas whose errors jsonschema reports one by one are relaxed; anything under anyOf, oneOf,
    not, if or contains stays strict, so passing here implies `explain` has nothing to say (whatever
    fails here is still walked by jsonschema, which decides)."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    deferred: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _TEMPLATE_DEFERS:
            deferred[key] = value
        elif key in _DIRECT_ONE:
            out[key] = template_tolerant(value) if isinstance(value, dict) else (
                [template_tolerant(v) for v in value] if key == "items" and isinstance(value, list) else value)
        elif key in _DIRECT_MANY and isinstance(value, list):
            out[key] = [template_tolerant(v) for v in value]
        elif key in _DIRECT_MAPS and isinstance(value, dict):
            out[key] = {name: template_tolerant(v) for name, v in value.items()}
        else:
            out[key] = value
    if not deferred:
        return out
    relaxed = {"anyOf": [deferred, _TEMPLATE]}
    if "anyOf" in out:  # keep the schema's own anyOf: both must hold
        return {**out, "allOf": [*out.get("allOf", []), relaxed]}
    return {**out, **relaxed}


def _passes(check: Callable[[Any], Any] | None, value: Any) -> bool:
    """The fast path: compiled validation of a valid document costs a tenth of jsonschema's. Only a
    document that fails is walked again by jsonschema, which reports every error with its path."""
    if check is None:
        return True
    try:
        check(value)
    except ValueError:  # SchemaInvalid, or fastjsonschema's own exception from a validator it compiled
        return False
    return True


def validate_structure(doc: Document, kind: str) -> list[Diagnostic]:
    if _passes(_fast(kind), doc.data):
        return []
    return list(explain(doc, _validator(kind).iter_errors(doc.data), ()))


def validate_params(doc: Document, action: str, params: Any, at: PathKey) -> list[Diagnostic]:
    # jsonschema (and its import, ~0.1 s) is only needed to explain a failure.
    if _passes(_fast_authored(action), params):
        return []
    return list(explain(doc, action_validator(action).iter_errors(params), at))


def check_params_now(action: str, params: Mapping[str, Any]) -> list[str]:
    """Runtime check of rendered params (template values are only known now). Messages, no positions."""
    from runner.document.limits import long_durations

    too_long = [f"{'.'.join(map(str, p)) or 'with'}: {m}" for p, m in long_durations(action_schema(action), params)]
    if _passes(_fast_action(action), params):
        return too_long
    out = []
    for error in action_validator(action).iter_errors(params):
        where = ".".join(str(p) for p in error.absolute_path) or "with"
        out.append(f"{where}: {_message(error)[0]}")
    return out + too_long


# --- turning jsonschema errors into diagnostics -------------------------------------------------------


def explain(doc: Document, errors: Iterable[Any], prefix: PathKey) -> Iterator[Diagnostic]:
    for error in errors:
        path: PathKey = (*prefix, *error.absolute_path)
        # A template stands where a number/boolean/enum is expected: only checkable once rendered.
        if is_template(error.instance) and error.validator in (
            "type",
            "enum",
            "const",
            "minimum",
            "maximum",
            "pattern",
            "format",
            "exclusiveMinimum",
        ):
            continue
        if error.validator == "pattern" and path[-1:] == ("action",) and _unknown_action(error.instance):
            continue  # said once, with a suggestion, by the check of action names
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = sorted(error.schema.get("properties", {}))
            for extra in _unknown_fields(error):
                message, hint = _unknown_field(error.instance, extra, allowed)
                yield doc.diagnostic((*path, extra), message, hint, key=True)
            continue
        if error.validator in ("oneOf", "anyOf") and _only_required(error.validator_value):
            options = [r["required"][0] for r in error.validator_value]
            yield doc.diagnostic(path, f"needs exactly one of: {', '.join(options)}")
            continue
        message, hint = _message(error)
        yield doc.diagnostic(path, message, hint, key=error.validator == "required")


def _unknown_fields(error: Any) -> list[str]:
    known = set(error.schema.get("properties", {}))
    patterns = error.schema.get("patternProperties", {})
    import re

    return [k for k in error.instance if k not in known and not any(re.search(p, k) for p in patterns)]


def _unknown_field(node: dict[str, Any], extra: str, allowed: list[str]) -> tuple[str, str | None]:
    """An unknown field; one written beside `action:` that is a parameter of that action says where it goes."""
    action = node.get("action")
    if isinstance(action, str) and extra not in ("with", "action") and extra in _parameters(action):
        return f"{extra!r} is a parameter of {action}: put it under 'with:'", None
    return f"unknown field {extra!r}", _did_you_mean(extra, allowed)


def _unknown_action(name: Any) -> bool:
    return isinstance(name, str) and not has_action(name)


def _parameters(action: str) -> set[str]:
    schema = action_schema(action) if has_action(action) else None
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return set(properties) if isinstance(properties, dict) else set()


def _only_required(options: Any) -> bool:
    return isinstance(options, list) and all(
        isinstance(o, dict) and set(o) == {"required"} and len(o["required"]) == 1 for o in options
    )


def _did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    import difflib  # only for a name that is wrong

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    listed = ", ".join(sorted(choices))
    return f"allowed: {listed}" if listed else None


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    return _did_you_mean(word, choices)


_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return str(value).lower()  # as YAML spells it
    if value is None:
        return "nothing (null)"
    text = repr(value)
    return text if len(text) < 50 else text[:47] + "..."


def _not_a_duration(value: Any) -> tuple[str, str | None]:
    message = f"expected a duration such as 60s or 5m, got {_describe(value)}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return message, f"say which unit: {value}s for seconds, {value}m for minutes"
    return message, "a number and a unit (ms, s, m, h), e.g. 500ms, 30s, 5m, 1h or 1h30m"


EXPRESSION_EXAMPLE = "{{ steps.check.outputs.ok }}"


def _mapping_hint(schema: Mapping[str, Any], wanted: list[Any]) -> str | None:
    """For a mapping written as a single value (`retries: 3`): the fields it takes, required ones first."""
    properties = schema.get("properties")
    if wanted != ["object"] or not isinstance(properties, Mapping) or not properties:
        return None
    required = [f for f in schema.get("required", []) if f in properties]
    fields = [*required, *(f for f in properties if f not in required)]
    shown = ", ".join(fields[:5]) + (", ..." if len(fields) > 5 else "")
    return f"write a mapping with its fields ({shown}), e.g. {{{fields[0]}: ...}}"


def _quoted_hint(value: Any, wanted: list[Any]) -> str | None:
    """What to write when the value is right but in quotes ("3", "true"): YAML reads quotes as text."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if "boolean" in wanted and text in ("true", "false", "yes", "no", "on", "off"):
        return "write true or false, without quotes"
    numeric = {"integer", "number"} & {str(w) for w in wanted}
    if numeric and text.lstrip("+-").replace(".", "", "number" in numeric).isdigit():
        return "write the number without quotes"
    return None


def _message(error: Any) -> tuple[str, str | None]:
    kind = error.validator
    value = error.validator_value
    if kind == "required":
        missing = [r for r in value if isinstance(error.instance, dict) and r not in error.instance]
        # jsonschema reports each missing field in an error of its own, which names it first.
        named = next((r for r in missing if error.message.startswith(repr(r))), missing[0] if missing else None)
        return f"missing required field {named!r}" if named is not None else error.message, None
    if kind == "type":
        if error.schema.get("pattern") == DURATION_PATTERN:
            return _not_a_duration(error.instance)
        if "\\{\\{" in str(error.schema.get("pattern", "")):
            return f"expected an expression such as {EXPRESSION_EXAMPLE}, got {_describe(error.instance)}", None
        wanted = value if isinstance(value, list) else [value]
        names = " or ".join(_TYPE_NAMES.get(str(w), str(w)) for w in wanted)
        hint = _quoted_hint(error.instance, wanted) or _mapping_hint(error.schema, wanted)
        return f"expected {names}, got {_describe(error.instance)}", hint
    if kind == "enum":
        return (
            f"{_describe(error.instance)} is not one of: {', '.join(map(str, value))}",
            _did_you_mean(str(error.instance), map(str, value)),
        )
    if kind == "const":
        return f"must be {value!r}, got {_describe(error.instance)}", None
    if kind == "pattern":
        if "\\u0000" in value:  # the "no NUL" pattern of parameters that reach exec
            return "contains a NUL byte, which no command line can carry", "remove it from the value"
        if value == DURATION_PATTERN:
            return _not_a_duration(error.instance)
        if "\\{\\{" in value:
            return f"{_describe(error.instance)} is not an expression", "write it as {{ ... }}"
        if "goto" in value:
            return (
                f"{_describe(error.instance)} is not a failure policy",
                "use abort, continue, rollback or goto:<step id>",
            )
        return f"{_describe(error.instance)} does not match the expected form {value}", None
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{error.instance} is out of range ({kind} {value})", None
    if kind == "minItems":
        return f"needs at least {value} item(s)", None
    if kind == "minLength":
        return "must not be empty", None
    return error.message, None
