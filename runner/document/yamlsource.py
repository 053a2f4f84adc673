"""YAML loading that keeps where every value came from, and refuses the YAML hazards.

Duplicate keys are errors (PyYAML silently keeps the last one). Aliases are followed without copying the
node graph, and the expanded size is capped, so a billion-laughs document fails in milliseconds. Bytes that
are not UTF-8, empty files and a top level that is not a mapping are reported with their position. Tags
other than YAML's plain types (`!!python/object/apply:…`, `!!binary`, `!custom`) are errors wherever they
stand. Only regular files are read, and at most MAX_DOCUMENT_BYTES of them: a FIFO would block forever
and /dev/zero never ends. Runbooks, scenarios and inputs files all come through here, with the same limits.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from runner.digest import sha256_hex
from runner.document.diagnostics import Diagnostic, DocumentInvalid, format_path
from runner.lazyregex import compiled_when_used

with compiled_when_used("yaml"):  # its pure-Python reader's pattern alone is ~3 ms to compile, and unused
    import yaml

try:  # the C composer is ~5x faster; fall back when libyaml is missing
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

# Real runbooks have a few thousand values; anything past this is an alias bomb or a mistake.
MAX_EXPANDED_NODES = 100_000
# Real runbooks are a few KiB; a document is read whole, so its size is capped before parsing.
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
# Real runbooks nest about ten deep; every consumer of the data (schema checks, templates) recurses.
MAX_DEPTH = 64
_LIMIT_SCOPE = "the limit for every runbook, scenario and inputs file"

PathKey = tuple[str | int, ...]
_YAML = "tag:yaml.org,2002:"
_STR = _YAML + "str"
_SCALAR_TAGS = frozenset(_YAML + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
_MAPPING_TAG = _YAML + "map"
_SEQUENCE_TAG = _YAML + "seq"


@dataclass(frozen=True)
class Mark:
    """Where a value stands in its file."""

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
    # Facts about the whole document that checks compute once (e.g. whether any value is a long duration).
    facts: dict[str, bool] = field(default_factory=dict, repr=False)
    text: str = field(default="", repr=False)  # what was parsed: places a problem inside a multi-line value

    def mark(self, path: PathKey, *, key: bool = False) -> Mark:
        """The closest known position: the key itself when asked, else the value, else its parent."""
        node, exact = self._node(path, key=key)
        if node is None:
            return Mark(1, 1)
        if exact and isinstance(node, yaml.ScalarNode) and node.style in ("|", ">") and self.text:
            return self._mark_at(self._content_start(node))  # the text, not the `|` or `>` introducing it
        return Mark(node.start_mark.line + 1, node.start_mark.column + 1)

    def _node(self, path: PathKey, *, key: bool = False) -> tuple[yaml.Node | None, bool]:
        """The node at `path` (the key's node when asked), or its closest known ancestor; and whether it is
        the node asked for."""
        node = self.root
        if node is None:
            return None, False
        for index, part in enumerate(path):
            last = index == len(path) - 1
            child: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                        if last and key:
                            return key_node, True
                        child = value_node
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                child = node.value[part]
            if child is None:
                return node, False
            node = child
        return node, True

    def locate(self, path: PathKey, needle: str, line: int = 1) -> Mark:
        """Where `needle` is written inside the value at `path`, looking first on the value's `line` (1-based;
        the line a template error names); the value's own position when it cannot be found (YAML escapes or
        folding may have changed the text)."""
        node, exact = self._node(path)
        if not exact or not isinstance(node, yaml.ScalarNode) or not self.text:
            return self.mark(path)
        start, end = node.start_mark.index, node.end_mark.index
        if node.style in ("|", ">"):
            start = self._content_start(node)
        lines = self.text[start:end].split("\n")
        # In a literal block (and an unfolded plain or quoted value) value lines are source lines.
        before = sum(len(text) + 1 for text in lines[: max(0, min(line, len(lines)) - 1)])
        for origin in (start + before, start):
            found = self.text.find(needle, origin, end) if needle else -1
            if found >= 0:
                return self._mark_at(found)
        if node.style in ("|", ">") and line > 1 and before:
            return self._mark_at(start + before + len(lines[line - 1]) - len(lines[line - 1].lstrip()))
        return self.mark(path)

    def _content_start(self, node: yaml.ScalarNode) -> int:
        """Where a block scalar's text starts: its first character after the line of its indicator."""
        newline = self.text.find("\n", node.start_mark.index, node.end_mark.index)
        if newline < 0:
            return node.start_mark.index
        index = newline + 1
        while index < node.end_mark.index and self.text[index] in " \n":
            index += 1
        return index

    def _mark_at(self, index: int) -> Mark:
        line_start = self.text.rfind("\n", 0, index) + 1
        return Mark(self.text.count("\n", 0, index) + 1, index - line_start + 1)

    def path_text(self, path: PathKey) -> str:
        """The path as a reader would say it: an item of a list that has an id is named by it
        (`steps[restart-api].timeout`, `faults[exhaust].with`), other items by their index."""
        out, node = "", self.data
        for part in path:
            if isinstance(part, int):
                out += f"[{_item_name(node, part)}]"
                node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            else:
                out += f".{part}" if out else str(part)
                node = node.get(part) if isinstance(node, dict) else None
        return out

    def diagnostic(
        self,
        path: PathKey,
        message: str,
        hint: str | None = None,
        *,
        key: bool = False,
        needle: str | None = None,
        line: int = 1,
    ) -> Diagnostic:
        """A problem at `path`; with `needle`, at that text inside the value (on its `line` first)."""
        at = self.locate(path, needle, line) if needle is not None else self.mark(path, key=key)
        return Diagnostic(self.file, at.line, at.col, self.path_text(path), message, hint)


_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")


def _item_name(items: Any, index: int) -> str | int:
    """A list item's id when it has one that names it alone; else its index."""
    if not isinstance(items, list) or not 0 <= index < len(items) or not isinstance(items[index], dict):
        return index
    ident = items[index].get("id")
    if not isinstance(ident, str) or not _ID.fullmatch(ident):
        return index
    same = sum(1 for item in items if isinstance(item, dict) and item.get("id") == ident)
    return ident if same == 1 else index


class _TooLarge(Exception):
    pass


class _TooDeep(Exception):
    def __init__(self, node: yaml.Node) -> None:
        super().__init__()
        self.node = node


class _Builder:
    """Turns a composed node graph into plain data, recording marks and duplicate keys."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: list[Diagnostic] = []
        self.paths: list[PathKey] = []  # of each problem
        self.count = 0
        self._scalars = yaml.constructor.SafeConstructor()  # no reader: nothing here reads a stream

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.count += 1
        if self.count > MAX_EXPANDED_NODES:
            raise _TooLarge
        if len(path) > MAX_DEPTH:
            raise _TooDeep(node)
        if isinstance(node, yaml.MappingNode):
            self._check_tag(node, _MAPPING_TAG, path)
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            self._check_tag(node, _SEQUENCE_TAG, path)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _scalar(self, node: yaml.Node, path: PathKey = ()) -> Any:
        # Most values are plain strings: skip the generic constructor's bookkeeping for them.
        if node.tag == _STR:
            return node.value
        if node.tag not in _SCALAR_TAGS or not isinstance(node, yaml.ScalarNode):
            self._problem(node, path, f"unsupported tag {_short_tag(node.tag)}", _TAG_HINT)
            return node.value
        try:
            return self._scalars.yaml_constructors[node.tag](self._scalars, node)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError, yaml.YAMLError):
            # `!!int abc`, a 5000-digit integer, the date 2024-02-30: the value is not what its tag says.
            shown = node.value if len(node.value) <= 40 else node.value[:37] + "..."
            hint = "quote it to make it a string"
            self._problem(node, path, f"{shown!r} is not a valid {_short_tag(node.tag)}", hint)
            return node.value

    def _check_tag(self, node: yaml.Node, expected: str, path: PathKey) -> None:
        if node.tag != expected:
            self._problem(node, path, f"unsupported tag {_short_tag(node.tag)}", _TAG_HINT)

    def _problem(self, node: yaml.Node, path: PathKey, message: str, hint: str | None = None) -> None:
        at = node.start_mark
        found = Diagnostic(self.doc.file, at.line + 1, at.column + 1, format_path(path), message, hint)
        if found not in self.problems:  # a mapping key is read twice
            self.problems.append(found)
            self.paths.append(path)

    def named(self) -> list[Diagnostic]:
        """The problems, their paths naming list items by id (known only once everything is built)."""
        return [replace(d, path=self.doc.path_text(p)) for d, p in zip(self.problems, self.paths, strict=True)]

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        seen: dict[str, yaml.Node] = {}  # the key's first node: its line only matters for a duplicate
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = str(self._scalar(key_node, path))
                if key in seen:
                    first = seen[key].start_mark.line + 1
                    self.problems.append(
                        Diagnostic(
                            self.doc.file,
                            key_node.start_mark.line + 1,
                            key_node.start_mark.column + 1,
                            format_path((*path, key)),
                            f"duplicate key {key!r} (first defined at line {first})",
                            "YAML keeps only the last value; remove one of them",
                        )
                    )
                    self.paths.append((*path, key))
                seen[key] = key_node
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
                self.paths.append(path)
                continue
            key = str(self._scalar(key_node, path))
            result[key] = self.build(value_node, (*path, key))
        return result


_TAG_HINT = "only plain YAML values (strings, numbers, booleans, null, lists, mappings) are allowed"


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML) if tag.startswith(_YAML) else tag


def load_document(path: Path, display_name: str | None = None, *, first_line: str | None = None) -> Document:
    """Parse one YAML file; raises DocumentInvalid listing every problem found at this level."""
    name = display_name or str(path)
    return load_text(read_source(path, name), name, first_line=first_line)


def read_source(path: Path, name: str) -> bytes:
    """The bytes of a document file. Anything but a regular file is refused before it is opened (opening a
    FIFO blocks until someone writes; a device never ends), and no more than MAX_DOCUMENT_BYTES are read."""
    try:
        before = os.stat(path)
        _check_regular(before.st_mode, name)
        # O_NONBLOCK: should the path have become a FIFO since the stat, opening it still returns at once.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as fh:
            _check_regular(os.fstat(fh.fileno()).st_mode, name)
            raw = fh.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise DocumentInvalid([Diagnostic(name, 1, 1, "", f"cannot read file: {exc.strerror or exc}")]) from None
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise DocumentInvalid(
            [
                Diagnostic(
                    name,
                    1,
                    1,
                    "",
                    f"file is larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB ({_LIMIT_SCOPE})",
                    "a runbook is a few KiB; check that this is the file you meant",
                )
            ]
        )
    return raw


def _check_regular(mode: int, name: str) -> None:
    if stat.S_ISREG(mode):
        return
    kinds = [
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ]
    kind = next((text for test, text in kinds if test(mode)), "not a regular file")
    raise DocumentInvalid(
        [Diagnostic(name, 1, 1, "", f"cannot read file: it is {kind}", "give the path of a YAML file")]
    )


def load_text(raw: bytes, name: str, *, first_line: str | None = None) -> Document:
    """Parse YAML bytes. `first_line` is the hint given for an empty file or a top level that is not a
    mapping (what the document should start with)."""
    start_hint = first_line or "a runbook starts with apiVersion: fireline/v1"
    text = _decode(raw, name)
    doc = Document(name, None, digest=sha256_hex(raw), text=text)
    if not text.strip() or all(line.lstrip().startswith("#") or not line.strip() for line in text.splitlines()):
        raise DocumentInvalid([Diagnostic(name, 1, 1, "", "file is empty", start_hint)])
    if len(text) > MAX_EXPANDED_NODES:
        # Only a text this long can hold that many values; count them before building any.
        _count_values(text, name)
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "invalid YAML"
        context = f" {exc.context}" if exc.context else ""
        raise _invalid(
            name,
            line,
            col,
            f"YAML syntax error: {problem}{context}",
            "check indentation and closing brackets/quotes on this line or the one before",
        ) from None
    except yaml.YAMLError as exc:
        raise _yaml_error(name, exc) from None
    nodes = [n for n in nodes if n is not None]
    if len(nodes) != 1:
        message = "file is empty" if not nodes else f"expected one YAML document, found {len(nodes)}"
        raise DocumentInvalid([Diagnostic(name, 1, 1, "", message, "one runbook or scenario per file")])
    root = nodes[0]
    if not isinstance(root, yaml.MappingNode):
        at = root.start_mark
        raise _invalid(name, at.line + 1, at.column + 1, "top level must be a mapping (key: value pairs)", start_hint)
    builder = _Builder(doc)
    doc.root = root
    try:
        # Without an anchor there can be no alias, and nothing to expand.
        if "&" in text and _expanded_size(root) > MAX_EXPANDED_NODES:
            raise _too_large(name, through_aliases=True)
        doc.data = builder.build(root, ())
    except _TooLarge:
        raise _too_large(name, through_aliases="&" in text) from None
    except _TooDeep as exc:
        at = exc.node.start_mark
        raise _invalid(
            name,
            at.line + 1,
            at.column + 1,
            f"values nest more than {MAX_DEPTH} levels deep ({_LIMIT_SCOPE})",
            "flatten the structure",
        ) from None
    except yaml.YAMLError as exc:
        raise _yaml_error(name, exc) from None
    if builder.problems:
        raise DocumentInvalid(builder.named())
    return doc


def _invalid(name: str, line: int, col: int, message: str, hint: str | None = None) -> DocumentInvalid:
    """A whole-document problem at one position (no path inside the document yet)."""
    return DocumentInvalid([Diagnostic(name, line, col, "", message, hint)])


def _yaml_error(name: str, exc: yaml.YAMLError) -> DocumentInvalid:
    mark = (exc.problem_mark or exc.context_mark) if isinstance(exc, yaml.MarkedYAMLError) else None
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem if isinstance(exc, yaml.MarkedYAMLError) and exc.problem else str(exc)
    return DocumentInvalid([Diagnostic(name, line, col, "", f"YAML error: {problem}")])


def _too_large(name: str, *, through_aliases: bool) -> DocumentInvalid:
    if through_aliases:
        message = f"document expands to more than {MAX_EXPANDED_NODES} values through aliases ({_LIMIT_SCOPE})"
        hint = "this looks like an alias bomb; avoid deeply nested anchors"
    else:
        message = f"document has more than {MAX_EXPANDED_NODES} values ({_LIMIT_SCOPE})"
        hint = "a runbook has a few thousand at most; split the data or check that this is the file you meant"
    return DocumentInvalid([Diagnostic(name, 1, 1, "", message, hint)])


_VALUE_EVENTS = (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent, yaml.AliasEvent)


def _count_values(text: str, name: str) -> None:
    """Refuse a text with more values than the limit, counting parser events (no nodes are built, so a
    million-item list costs neither the memory nor the time of composing it)."""
    count = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, _VALUE_EVENTS):
                count += 1
                if count > MAX_EXPANDED_NODES:
                    raise _too_large(name, through_aliases=False)
    except yaml.YAMLError:
        return  # composing reports the syntax error with its position


def _expanded_size(root: yaml.Node) -> int:
    """How many values the document has once aliases are expanded, computed on the node graph (aliases
    are shared nodes), so a billion-laughs file is measured without being expanded."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise _TooDeep(node)
        key = id(node)
        if key not in sizes:
            sizes[key] = 1  # provisional: a cycle counts once instead of looping
            if isinstance(node, yaml.MappingNode):
                sizes[key] = 1 + sum(size(k, depth + 1) + size(v, depth + 1) for k, v in node.value)
            elif isinstance(node, yaml.SequenceNode):
                sizes[key] = 1 + sum(size(item, depth + 1) for item in node.value)
        return sizes[key]

    return size(root, 0)


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
