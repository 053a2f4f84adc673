"""Where a templated value lands in a shell command line, and whether quoting it makes it one literal word.

Shell text (what an action declares as `shell_text_params`, e.g. `command`) is written by the author;
every templated value in it is shell-quoted (`shlex.quote`) when it renders. That quoting is correct only
where the shell reads a plain word: glued to other text (`--name={{ x }}`) is fine, but inside the author's
own quotes the quoted value *closes* them (`echo '{{ x }}'` with `x = "'; touch pwned; '"`), inside `$(…)`,
backticks or `${…}` the value is parsed again, and in a comment or a here-document a newline in the value
ends the region and runs the rest.

Quoting for each surrounding context instead would need a second, complete shell parser for every dialect a
command may meet (dash locally, bash or zsh behind ssh), and some regions cannot be quoted at all (a line
of a here-document equal to its delimiter ends it). So a template is allowed only where a quoted word is
exactly one literal word, and refused everywhere else, with the rewrite that fixes it: statically when a
runbook is validated (with the template's position), and again on the rendered text at run time for what
validation cannot see (quotes produced by `{% if %}` blocks and the like).

The scanner reads the author's text only; templated values are opaque holes in it. It is deliberately
conservative: a region it cannot prove closed swallows every hole after it, which refuses, never runs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Region(StrEnum):
    """A place where a quoted word is not one literal word."""

    SINGLE_QUOTES = "single quotes"
    DOUBLE_QUOTES = "double quotes"
    BACKTICKS = "a `…` command substitution"
    COMMAND_SUBSTITUTION = "a $(…) command substitution"
    ARITHMETIC = "an arithmetic expression"
    PARAMETER = "a ${…} parameter expansion"
    CONDITIONAL = "a [[ … ]] conditional"
    ARRAY = "a name=( … ) array assignment"
    AFTER_ARRAY = "the line of a name=( … ) array assignment"
    COMMENT = "a comment"
    HEREDOC = "a here-document"
    HEREDOC_WORD = "a here-document delimiter"
    CODE_ARGUMENT = "an argument of eval, let or trap"
    AFTER_BACKSLASH = "a backslash"
    AFTER_DOLLAR = "a $"


QUOTES = (Region.SINGLE_QUOTES, Region.DOUBLE_QUOTES)
_WORD_PARTS = "\\'\"`$"


@dataclass(frozen=True)
class Hole:
    """A templated value in the text. `source` is what the author wrote (`{{ inputs.val }}`) when known."""

    index: int
    source: str = ""


@dataclass(frozen=True)
class Misplaced:
    """A hole and the regions around it, outermost first."""

    hole: Hole
    regions: tuple[Region, ...]


Item = str | Hole  # one character of the author's text, or a templated value
Stack = tuple[Region, ...]


class _Scanner:
    """A small POSIX-shell reader (plus bash's [[ ]] and (( ))): quotes, escapes, substitutions, comments,
    here-documents. Holes are opaque: a quoted value is one word and changes no state."""

    def __init__(self, items: Sequence[Item]) -> None:
        self.items = items
        self.i = 0
        self.found: dict[int, Misplaced] = {}
        self.pending_heredocs: list[tuple[str | None, bool]] = []  # (delimiter, or None if unknowable; <<-)

    def peek(self, offset: int = 0) -> Item | None:
        at = self.i + offset
        return self.items[at] if at < len(self.items) else None

    def hole(self, item: Hole, stack: Stack, here: Region | None = None) -> None:
        regions = (*stack, here) if here is not None else stack
        if regions:
            self.found.setdefault(item.index, Misplaced(item, regions))

    def skip_escaped(self, stack: Stack) -> str | None:
        """At a backslash: the next item is literal. A hole there would get the backslash applied to the
        quote that opens the quoted value."""
        self.i += 1
        nxt = self.peek()
        if nxt is None:
            return ""
        self.i += 1
        if isinstance(nxt, Hole):
            self.hole(nxt, stack, Region.AFTER_BACKSLASH)
            return None
        return "" if nxt == "\n" else nxt

    # -- command context --------------------------------------------------------------------------------
    def command(self, stack: Stack, closer: str | None = None) -> None:
        """Read commands until `closer` (")" ends $(…), "]]" ends [[ … ]]) or the end of the text."""
        depth = 0
        word_start = True
        words = _SimpleCommand()
        array_on_line = False
        while (item := self.peek()) is not None:
            if isinstance(item, Hole):
                here = Region.AFTER_ARRAY if array_on_line else None
                self.hole(item, stack, Region.CODE_ARGUMENT if words.runs_code else here)
                words.add(None)
                self.i += 1
                word_start = False
                continue
            if closer == "]]" and word_start and item == "]" and self.peek(1) == "]" and self._ends_word(2):
                self.i += 2
                return
            if item == "(" and words.is_assignment():
                # bash's name=( … ): an array, whose elements bash parses its own way (and a syntax error in
                # them makes it resume parsing on the next line, which may be inside a value).
                self.i += 1
                self.command((*stack, Region.ARRAY), ")")
                words.add(None)
                word_start = False
                array_on_line = True
                continue
            if item in " \t<>":
                words.end_word()
            elif item in ";&|\n()":
                words.end_command()
            if item == "(" and word_start and self.peek(1) == "(":
                self.i += 2  # bash's (( … )): arithmetic, expanded like the inside of double quotes
                self.command((*stack, Region.ARITHMETIC), ")")
                self.close_arithmetic((*stack, Region.ARITHMETIC))
            elif item == "[" and word_start and self.peek(1) == "[" and self._ends_word(2):
                self.i += 2
                self.command((*stack, Region.CONDITIONAL), "]]")
            elif item == "(":
                depth += 1
                self.i += 1
            elif item == ")":
                self.i += 1
                if depth == 0 and closer == ")":
                    return
                depth = max(0, depth - 1)
            elif item == "#" and word_start:
                self.comment(stack)
            elif item == "<" and self.peek(1) == "<":
                self.redirect_heredoc(stack)
            elif item == "\n":
                self.i += 1
                self.read_heredoc_bodies(stack)
                array_on_line = False
            elif item in _WORD_PARTS:
                words.add(self.word_part(item, stack))
            else:
                if item not in " \t<>;&|":
                    words.add(item)
                self.i += 1
            word_start = item in " \t\n;&|<>()"

    def close_arithmetic(self, stack: Stack) -> None:
        """After the first `)` of `$((` or `((`: a second `)` closes it; anything else means the shell reads
        it as `$( (…) …)` (or nested subshells), which goes on to its own `)`."""
        if self.peek() == ")":
            self.i += 1
        else:
            self.command(stack, ")")

    def word_part(self, item: str, stack: Stack) -> str | None:
        """Quotes, escapes and expansions, which may appear in any word: the literal text they stand for,
        or None when it is only known when the shell runs (an expansion, a hole)."""
        if item == "\\":
            return self.skip_escaped(stack)
        if item == "'":
            return self.single((*stack, Region.SINGLE_QUOTES))
        if item == '"':
            return self.double((*stack, Region.DOUBLE_QUOTES))
        if item == "`":
            self.backticks((*stack, Region.BACKTICKS))
        else:
            self.dollar(stack)
        return None

    def _ends_word(self, offset: int) -> bool:
        after = self.peek(offset)
        return after is None or (isinstance(after, str) and after in " \t\n;&|")

    # -- quoted regions ---------------------------------------------------------------------------------
    def single(self, stack: Stack) -> str | None:
        self.i += 1
        text: list[str] = []
        literal = True
        while (item := self.peek()) is not None:
            self.i += 1
            if isinstance(item, Hole):
                self.hole(item, stack)
                literal = False
            elif item == "'":
                break
            else:
                text.append(item)
        return "".join(text) if literal else None

    def double(self, stack: Stack) -> str | None:
        self.i += 1
        text: list[str] = []
        literal = True
        while (item := self.peek()) is not None:
            if isinstance(item, Hole):
                self.hole(item, stack)
                self.i += 1
                literal = False
            elif item == '"':
                self.i += 1
                break
            elif item == "\\":
                escaped = self.skip_escaped(stack)
                literal = literal and escaped is not None
                text.append(escaped or "")
            elif item == "`":
                self.backticks((*stack, Region.BACKTICKS))
                literal = False
            elif item == "$":
                self.dollar(stack)
                literal = False
            else:
                text.append(item)
                self.i += 1
        return "".join(text) if literal else None

    def backticks(self, stack: Stack) -> None:
        self.i += 1
        while (item := self.peek()) is not None:
            if isinstance(item, Hole):
                self.hole(item, stack)
                self.i += 1
            elif item == "\\":
                self.skip_escaped(stack)
            elif item == "`":
                self.i += 1
                return
            else:
                self.i += 1

    def dollar(self, stack: Stack) -> None:
        nxt = self.peek(1)
        if isinstance(nxt, Hole):
            # `${{ x }}` renders `$'…'`: bash's quoting in which backslash escapes are live again.
            self.hole(nxt, stack, Region.AFTER_DOLLAR)
            self.i += 2
        elif nxt == "(":
            arithmetic = self.peek(2) == "("
            self.i += 3 if arithmetic else 2
            self.command((*stack, Region.ARITHMETIC if arithmetic else Region.COMMAND_SUBSTITUTION), ")")
            if arithmetic:
                self.close_arithmetic((*stack, Region.COMMAND_SUBSTITUTION))
        elif nxt == "{":
            self.i += 2
            self.parameter((*stack, Region.PARAMETER))
        else:
            self.i += 1

    def parameter(self, stack: Stack) -> None:
        while (item := self.peek()) is not None:
            if isinstance(item, Hole):
                self.hole(item, stack)
                self.i += 1
            elif item == "}":
                self.i += 1
                return
            elif item in _WORD_PARTS:
                self.word_part(item, stack)
            else:
                self.i += 1

    def comment(self, stack: Stack) -> None:
        while (item := self.peek()) is not None and item != "\n":
            if isinstance(item, Hole):
                self.hole(item, stack, Region.COMMENT)
            self.i += 1

    # -- here-documents ---------------------------------------------------------------------------------
    def redirect_heredoc(self, stack: Stack) -> None:
        self.i += 2
        if self.peek() == "<":  # bash's here-string <<< word: an ordinary word follows
            self.i += 1
            return
        strip_tabs = self.peek() == "-"
        if strip_tabs:
            self.i += 1
        while self.peek() in (" ", "\t"):
            self.i += 1
        self.pending_heredocs.append((self.heredoc_word(stack), strip_tabs))

    def heredoc_word(self, stack: Stack) -> str | None:
        """The delimiter with its quoting removed; None when a hole is part of it (then the body never
        provably ends, and every hole after it is refused)."""
        chars: list[str] = []
        known = True
        quote: str | None = None
        while (item := self.peek()) is not None:
            if isinstance(item, Hole):
                self.hole(item, stack, Region.HEREDOC_WORD)
                known = False
            elif quote:
                if item == quote:
                    quote = None
                else:
                    chars.append(item)
            elif item in "'\"":
                quote = item
            elif item == "\\":
                nxt = self.peek(1)
                if isinstance(nxt, str):
                    chars.append(nxt)
                    self.i += 1
            elif item in " \t\n;&|<>()":
                break
            else:
                chars.append(item)
            self.i += 1
        return "".join(chars) if known and chars else None

    def read_heredoc_bodies(self, stack: Stack) -> None:
        pending, self.pending_heredocs = self.pending_heredocs, []
        for delimiter, strip_tabs in pending:
            while self.peek() is not None:
                line = self.line()
                holes = [x for x in line if isinstance(x, Hole)]
                text = "".join(x for x in line if isinstance(x, str))
                if not holes and delimiter is not None and (text.lstrip("\t") if strip_tabs else text) == delimiter:
                    break
                for hole in holes:
                    self.hole(hole, stack, Region.HEREDOC)

    def line(self) -> list[Item]:
        out: list[Item] = []
        while (item := self.peek()) is not None:
            self.i += 1
            if item == "\n":
                break
            out.append(item)
        return out


class _SimpleCommand:
    """Which word of a simple command is its name: the arguments of eval, let and trap are run as code, so
    a quoted value there is code again."""

    CODE = frozenset({"eval", "let", "trap"})
    # Words after which the next word is still in command position.
    PREFIX = frozenset({"!", "time", "if", "then", "else", "elif", "do", "while", "until", "{", "command", "builtin"})
    ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=")

    def __init__(self) -> None:
        self.at_command = True
        self.runs_code = False
        self.word = ""
        self.literal = True
        self.in_word = False

    def add(self, text: str | None) -> None:
        """Literal text of the current word, or None for a part only known at run time."""
        if text is None:
            self.literal = False
        else:
            self.word += text
        self.in_word = True

    def is_assignment(self) -> bool:
        return self.in_word and self.literal and self.ASSIGNMENT.fullmatch(self.word) is not None

    def end_word(self) -> None:
        # A word known only at run time ("$@", $cmd) may expand to nothing: the next word may be the name.
        if self.in_word and self.at_command and self.literal:
            if self.word in self.CODE:
                self.runs_code, self.at_command = True, False
            elif self.word not in self.PREFIX and not self.ASSIGNMENT.match(self.word):
                self.at_command = False
        self.word, self.literal, self.in_word = "", True, False

    def end_command(self) -> None:
        self.end_word()
        self.at_command, self.runs_code = True, False


# What shlex.quote produces: a word of safe characters, or a single-quoted word (a quote inside it written as
# '"'"'). Either is exactly one word and leaves the shell's state as it found it.
_ONE_WORD = re.compile(r"[\w@%+=:,./-]+|'[^']*(?:'\"'\"'[^']*)*'", re.ASCII)


def is_one_quoted_word(text: str) -> bool:
    """Whether a rendered value is still what the quoting made of it (a `{% filter %}` block could have
    changed it after it was quoted)."""
    return _ONE_WORD.fullmatch(text) is not None


# Without these characters and words a command has no region where a quoted word is not one literal word
# (the common case, `kubectl -n {{ ns }} rollout restart deploy/{{ name }}`): no need to read it closely.
_SPECIAL = re.compile(r"['\"`$\\#<(\[]|(?<![^\s;&|])(?:eval|let|trap)(?![^\s;&|<>])")


def misplaced_holes(items: Sequence[Item]) -> list[Misplaced]:
    """Every hole that is not a plain word of the command, in text order."""
    if not _SPECIAL.search("".join(x if isinstance(x, str) else " " for x in items)):
        return []
    scanner = _Scanner(items)
    scanner.command(())
    return [scanner.found[k] for k in sorted(scanner.found)]


# --- the author's template text ---------------------------------------------------------------------------

_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)


@dataclass(frozen=True)
class TemplateHole:
    """A `{{ … }}` in the author's text and its offset there."""

    source: str
    offset: int


def template_items(text: str) -> tuple[list[Item], list[TemplateHole]]:
    """The author's text as scanner items: `{{ … }}` become holes, `{% … %}` and `{# … #}` produce nothing
    here (what they produce is checked after rendering). Jinja's whitespace control (`{{-`, `-}}`) is
    applied so the scanner sees the same neighbours the shell will."""
    items: list[Item] = []
    holes: list[TemplateHole] = []
    strip_next = False
    pos = 0
    for match in _TAG.finditer(text):
        literal = text[pos : match.start()]
        if strip_next:
            literal = literal.lstrip()
        tag = match.group()
        if tag[2:3] == "-":
            literal = literal.rstrip()
        items.extend(literal)
        if tag.startswith("{{"):
            items.append(Hole(len(holes), tag))
            holes.append(TemplateHole(tag, match.start()))
        strip_next = tag[-3:-2] == "-"
        pos = match.end()
    tail = text[pos:]
    items.extend(tail.lstrip() if strip_next else tail)
    return items, holes


# --- what to tell the author -------------------------------------------------------------------------------

_WHY: dict[Region, str] = {
    Region.SINGLE_QUOTES: "the quoted value would close the quotes",
    Region.DOUBLE_QUOTES: "the quoted value would close the quotes",
    Region.BACKTICKS: "the shell parses the value again there",
    Region.COMMAND_SUBSTITUTION: "the shell parses the value again there",
    Region.ARITHMETIC: "the shell evaluates the value as code there",
    Region.PARAMETER: "the shell expands the value again there",
    Region.CONDITIONAL: "bash evaluates operands of -eq, -lt … as code there",
    Region.ARRAY: "bash parses its elements its own way",
    Region.AFTER_ARRAY: "after an error in an array bash goes on at the next line, which may be inside the value",
    Region.COMMENT: "a newline in the value would end the comment and run the rest",
    Region.HEREDOC: "a line of the value could end the here-document and run the rest",
    Region.HEREDOC_WORD: "the delimiter must be fixed text",
    Region.CODE_ARGUMENT: "the shell runs it as code",
    Region.AFTER_BACKSLASH: "the backslash would escape the quote that opens the value",
    Region.AFTER_DOLLAR: "$'…' is bash's quoting in which backslash escapes are live",
}


def describe(m: Misplaced) -> str:
    """`{{ inputs.v }} is inside single quotes: the quoted value would close the quotes`."""
    name = m.hole.source or "a templated value"
    inner = m.regions[-1]
    if inner in (Region.AFTER_BACKSLASH, Region.AFTER_DOLLAR):
        where = f"right after {inner}"
    elif inner is Region.HEREDOC_WORD:
        where = f"used as {inner}"
    elif inner is Region.AFTER_ARRAY:
        where = f"on {inner}"
    else:
        where = "inside " + " inside ".join(str(r) for r in reversed(m.regions))
    return f"{name} is {where}: {_WHY[inner]}"


def hint(m: Misplaced, text: str | None = None, offset: int | None = None) -> str:
    """How to write it instead: for quotes, the author's line with the quotes closed around the template."""
    name = m.hole.source or "{{ … }}"
    advice: list[str] = []
    for region in reversed(m.regions):
        piece = _advice(region, name)
        if piece not in advice:
            advice.append(piece)
    if m.regions[-1] in QUOTES and all(r in QUOTES for r in m.regions):
        fixed = _unquoted(text, offset, name, "'" if m.regions[-1] is Region.SINGLE_QUOTES else '"')
        if fixed:
            advice[0] += f"; write: {fixed}"
    return "; ".join(advice)


def _advice(region: Region, name: str) -> str:
    if region in QUOTES:
        return f"remove the quotes around {name}: templated values are quoted for you"
    if region in (Region.BACKTICKS, Region.COMMAND_SUBSTITUTION, Region.PARAMETER, Region.ARRAY):
        return f'assign it to a variable first (v={name}; …) and use "$v" there'
    if region is Region.ARITHMETIC:
        return "compute in the template instead, e.g. {{ inputs.n + 1 }}"
    if region is Region.CONDITIONAL:
        return "use [ … ] (test) instead of [[ … ]], or compare in the template"
    if region is Region.COMMENT:
        return "take the template out of the comment"
    if region is Region.CODE_ARGUMENT:
        return f"give {name} to a command as a plain argument, never to eval, let or trap"
    if region is Region.HEREDOC:
        return f"pipe it instead: printf '%s\\n' {name} | …, or pass it as `stdin:` where the action takes one"
    if region is Region.HEREDOC_WORD:
        return "use a fixed delimiter such as EOF"
    if region is Region.AFTER_ARRAY:
        return "put the array assignment on a line of its own"
    if region is Region.AFTER_BACKSLASH:
        return f"remove the backslash before {name}"
    return f"remove the $ before {name}"


def _unquoted(text: str | None, offset: int | None, name: str, quote: str) -> str | None:
    """The author's line with the quotes closed around the template: `grep "x {{ v }} y" f` becomes
    `grep "x "{{ v }}" y" f`, and `echo '{{ v }}'` becomes `echo {{ v }}`."""
    if text is None or offset is None or text[offset : offset + len(name)] != name:
        return None
    before, after = text[:offset], text[offset + len(name) :]
    before = before[:-1] if before.endswith(quote) else before + quote
    after = after[1:] if after.startswith(quote) else quote + after
    line_start = before.rfind("\n") + 1
    line_end = after.find("\n")
    return (before[line_start:] + name + (after if line_end < 0 else after[:line_end])).strip()
