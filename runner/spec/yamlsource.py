"""YAML loading that keeps where every value came from, and refuses the YAML hazards.

Duplicate keys are errors (PyYAML silently keeps the last one). Aliases are followed without copying the
node graph, and the expanded size is capped, so a billion-laughs document fails in milliseconds. Bytes that
are not UTF-8, empty files and a top level that is not a mapping are reported with their position.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runner.spec.diagnostics import Diagnostic, DocumentInvalid, format_path

try:  # the C composer is ~5x faster; fall back when libyaml is missing
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

# Real runbooks have a few thousand values; anything past this is an alias bomb or a mistake.
MAX_EXPANDED_NODES = 100_000

PathKey = tuple[str | int, ...]
_STR = "tag:yaml.org,2002:str"


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    col: int  # 1-based


@dataclass
class Document:
    """Parsed data plus the node graph it came from. Positions are looked up in the graph only when a
    diagnostic needs one: recording a mark for every value cost more than the rest of loading."""

    file: str
    data: Any
    root: yaml.Node | None = field(default=None, repr=False)
    digest: str = ""  # sha256 of the bytes parsed: what a run records, and what resume compares

    def mark(self, path: PathKey, *, key: bool = False) -> Mark:
        """The closest known position: the key itself when asked, else the value, else its parent."""
        node = self.root
        if node is None:
            return Mark(1, 1)
        found = node.start_mark
        for index, part in enumerate(path):
            last = index == len(path) - 1
            child: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                        if last and key:
                            return Mark(key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                        child = value_node
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                child = node.value[part]
            if child is None:
                break
            node, found = child, child.start_mark
        return Mark(found.line + 1, found.column + 1)

    def diagnostic(self, path: PathKey, message: str, hint: str | None = None, *, key: bool = False) -> Diagnostic:
        at = self.mark(path, key=key)
        return Diagnostic(self.file, at.line, at.col, format_path(path), message, hint)


class _TooLarge(Exception):
    pass


class _Builder:
    """Turns a composed node graph into plain data, recording marks and duplicate keys."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: list[Diagnostic] = []
        self.count = 0
        self._scalars = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.count += 1
        if self.count > MAX_EXPANDED_NODES:
            raise _TooLarge
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        # Most values are plain strings: skip the generic constructor's bookkeeping for them.
        if node.tag == _STR:
            return node.value
        construct = self._scalars.yaml_constructors.get(node.tag)
        if construct is not None and isinstance(node, yaml.ScalarNode):
            return construct(self._scalars, node)
        return self._scalars.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        seen: dict[str, Mark] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = str(self._scalar(key_node))
                here = Mark(key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                if key in seen:
                    first = seen[key]
                    self.problems.append(
                        Diagnostic(
                            self.doc.file,
                            here.line,
                            here.col,
                            format_path((*path, key)),
                            f"duplicate key {key!r} (first defined at line {first.line})",
                            "YAML keeps only the last value; remove one of them",
                        )
                    )
                seen[key] = here
        self._scalars.flatten_mapping(node)  # resolves `<<` merge keys in place
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                at = key_node.start_mark
                self.problems.append(
                    Diagnostic(
                        self.doc.file,
                        at.line + 1,
                        at.column + 1,
                        format_path(path),
                        "mapping keys must be plain scalars",
                    )
                )
                continue
            key = str(self._scalar(key_node))
            result[key] = self.build(value_node, (*path, key))
        return result


def load_document(path: Path, display_name: str | None = None) -> Document:
    """Parse one YAML file; raises DocumentInvalid listing every problem found at this level."""
    name = display_name or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DocumentInvalid([Diagnostic(name, 1, 1, "", f"cannot read file: {exc.strerror}")]) from None
    return load_text(raw, name)


def load_text(raw: bytes, name: str) -> Document:
    text = _decode(raw, name)
    doc = Document(name, None, digest=hashlib.sha256(raw).hexdigest())
    if not text.strip() or all(line.lstrip().startswith("#") or not line.strip() for line in text.splitlines()):
        raise DocumentInvalid(
            [Diagnostic(name, 1, 1, "", "file is empty", "a runbook starts with apiVersion: fireline/v1")]
        )
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "invalid YAML"
        context = f" {exc.context}" if exc.context else ""
        raise DocumentInvalid(
            [
                Diagnostic(
                    name,
                    line,
                    col,
                    "",
                    f"YAML syntax error: {problem}{context}",
                    "check indentation and closing brackets/quotes on this line or the one before",
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise DocumentInvalid([Diagnostic(name, 1, 1, "", f"YAML error: {exc}")]) from None
    nodes = [n for n in nodes if n is not None]
    if len(nodes) != 1:
        message = "file is empty" if not nodes else f"expected one YAML document, found {len(nodes)}"
        raise DocumentInvalid([Diagnostic(name, 1, 1, "", message, "one runbook or scenario per file")])
    root = nodes[0]
    if not isinstance(root, yaml.MappingNode):
        at = root.start_mark
        raise DocumentInvalid(
            [
                Diagnostic(
                    name,
                    at.line + 1,
                    at.column + 1,
                    "",
                    "top level must be a mapping (key: value pairs)",
                    "a runbook starts with apiVersion: fireline/v1",
                )
            ]
        )
    # Without an anchor there can be no alias, and nothing to expand.
    if "&" in text and _expanded_size(root) > MAX_EXPANDED_NODES:
        raise _too_large(name)
    builder = _Builder(doc)
    doc.root = root
    try:
        doc.data = builder.build(root, ())
    except _TooLarge:
        raise _too_large(name) from None
    except yaml.YAMLError as exc:
        raise DocumentInvalid([Diagnostic(name, 1, 1, "", f"YAML error: {exc}")]) from None
    if builder.problems:
        raise DocumentInvalid(builder.problems)
    return doc


def _too_large(name: str) -> DocumentInvalid:
    return DocumentInvalid(
        [
            Diagnostic(
                name,
                1,
                1,
                "",
                f"document expands to more than {MAX_EXPANDED_NODES} values through aliases",
                "this looks like an alias bomb; avoid deeply nested anchors",
            )
        ]
    )


def _expanded_size(root: yaml.Node) -> int:
    """How many values the document has once aliases are expanded, computed on the node graph (aliases
    are shared nodes), so a billion-laughs file is measured without being expanded."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key not in sizes:
            sizes[key] = 1  # provisional: a cycle counts once instead of looping
            if isinstance(node, yaml.MappingNode):
                sizes[key] = 1 + sum(size(k) + size(v) for k, v in node.value)
            elif isinstance(node, yaml.SequenceNode):
                sizes[key] = 1 + sum(size(item) for item in node.value)
        return sizes[key]

    return size(root)


def _decode(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise DocumentInvalid(
            [Diagnostic(name, line, col, "", f"invalid UTF-8 (byte 0x{raw[exc.start]:02x})", "save the file as UTF-8")]
        ) from None
