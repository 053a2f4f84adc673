"""The blameless-language check of `fireline postmortem validate`: warnings (never errors, unless --strict)
where a post-mortem blames a person — a person's name as the subject of a failure ("NAME deployed broken
code"), "whose fault", "should have", "why didn't you", "careless", ... — each with the systemic question to
ask instead. The words are data (blameless.yaml); the names are the incident's people (roles, participants),
the file's authors and a configured list. Each warning is placed at file:line:col, like validation errors."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from runner.document.diagnostics import Diagnostic
from runner.document.yamlsource import Document, PathKey

WORDS = Path(__file__).with_name("blameless.yaml")
# Fields that are not prose: who wrote it, owners of items, ids, times, bookkeeping.
_SKIP_KEYS = frozenset({"apiVersion", "kind", "incident", "generated", "authors", "owner", "id", "at", "due",
                        "status", "priority", "type", "severity", "source", "verify", "verified_by"})  # fmt: skip
MIN_NAME = 2
# Words that may stand between a name and its verb ("Bob accidentally deleted", "alice had forgotten").
_BETWEEN = r"(?:\s+\w+){0,2}?"


@dataclass(frozen=True)
class Phrase:
    pattern: re.Pattern[str]
    message: str
    reframe: str


@dataclass(frozen=True)
class Words:
    phrases: tuple[tuple[str, str, str], ...]  # (pattern text with {name}, message, reframe)
    failure_verbs: tuple[str, ...]
    reframe_person: tuple[tuple[frozenset[str], str], ...]  # (verbs, reframe); the last one is the default

    def reframe_for(self, verb: str) -> str:
        said = " ".join(verb.lower().split())
        return next((text for verbs, text in self.reframe_person if said in verbs), self.reframe_person[-1][1])


@cache
def words() -> Words:
    with WORDS.open(encoding="utf-8") as fh:
        data: Mapping[str, Any] = yaml.safe_load(fh)
    phrases = tuple((str(p["pattern"]), str(p["message"]), str(p["reframe"])) for p in data["phrases"])
    reframes = tuple((frozenset(str(v).lower() for v in r["verbs"]), str(r["reframe"])) for r in data["reframe_person"])
    return Words(phrases, tuple(str(v) for v in data["failure_verbs"]), reframes)


def name_variants(names: Iterable[str]) -> list[str]:
    """The ways a person is written: the name as given, an e-mail's local part, a first name of three letters
    or more. Longest first, so "Bob Smith" is found before "Bob"."""
    found: set[str] = set()
    for raw in names:
        name = " ".join(str(raw).split())
        if len(name) < MIN_NAME:
            continue
        found.add(name)
        local = name.split("@", 1)[0]
        if local != name and len(local) >= MIN_NAME:
            found.add(local)
        first = re.split(r"[\s._-]+", local)[0]
        if first != local and len(first) >= 3:
            found.add(first)
    return sorted(found, key=lambda n: (-len(n), n.lower()))


def _alternation(names: Sequence[str]) -> str:
    return "|".join(re.escape(n) for n in names)


def _phrases(names: Sequence[str]) -> list[Phrase]:
    people = _alternation(names) or r"(?!x)x"  # no names: a pattern that never matches
    out = []
    for pattern, message, reframe in words().phrases:
        text = pattern.replace("{name}", f"(?:{people})")
        out.append(Phrase(re.compile(rf"(?<!\w)(?:{text})(?!\w)", re.IGNORECASE), message, reframe))
    return out


def _subject(names: Sequence[str]) -> re.Pattern[str] | None:
    if not names:
        return None
    verbs = "|".join(re.escape(v).replace(r"\ ", r"\s+") for v in sorted(words().failure_verbs, key=len, reverse=True))
    # The rest of the clause is looked ahead at, not taken: another name in it is found too.
    rest = r"(?=(?P<rest>[^.,;!?\n]*))"
    return re.compile(rf"(?<!\w)(?P<name>{_alternation(names)}){_BETWEEN}\s+(?P<verb>{verbs})(?!\w){rest}",
                      re.IGNORECASE)  # fmt: skip


def check(doc: Document, names: Iterable[str]) -> list[Diagnostic]:
    """A warning for each blaming phrase in the prose of the post-mortem."""
    variants = name_variants(names)
    phrases = _phrases(variants)
    subject = _subject(variants)
    found: list[Diagnostic] = []
    for path, text in _prose(doc.data, ()):
        found += _in_text(doc, path, text, phrases, subject)
    return sorted(set(found))


def _in_text(doc: Document, path: PathKey, text: str, phrases: Sequence[Phrase],
             subject: re.Pattern[str] | None) -> list[Diagnostic]:  # fmt: skip
    found = []
    covered: list[tuple[int, int]] = []
    if subject is not None:
        for match in subject.finditer(text):
            covered.append(match.span())
            found.append(_person(doc, path, text, match))
    for phrase in phrases:
        for match in phrase.pattern.finditer(text):
            if any(start <= match.start() < end for start, end in covered):
                continue  # said once, as a person blamed
            found.append(_diagnostic(doc, path, text, match.start(), match.group(0), f"blame: {phrase.message}",
                                     f"reframe: {phrase.reframe}"))  # fmt: skip
    return found


_NEXT_CLAUSE = re.compile(r"\s+(?:and|but|so|because|while|then|which|who)\s+", re.IGNORECASE)


def _person(doc: Document, path: PathKey, text: str, match: re.Match[str]) -> Diagnostic:
    verb = " ".join(match.group("verb").split())
    rest = " ".join(match.group("rest").split()).strip(" ,:")
    # The example reframes this clause only: a following "and bob should have …" is a blame of its own.
    rest = _NEXT_CLAUSE.split(rest, maxsplit=1)[0]
    what = ("broken " + rest if "broken" in verb.lower() else rest) or "this"
    what = what if len(what) <= 60 else what[:57] + "..."
    hint = "reframe: " + words().reframe_for(verb).replace("{what}", what)
    excerpt = " ".join((match.group(0) + match.group("rest")).split())
    excerpt = excerpt if len(excerpt) <= 60 else excerpt[:57] + "..."
    message = f"blame: names a person as the cause ({match.group('name')!r} {verb}): \u201c{excerpt}\u201d"
    return _diagnostic(doc, path, text, match.start(), match.group(0), message, hint)


def _diagnostic(doc: Document, path: PathKey, text: str, start: int, needle: str, message: str,
                hint: str) -> Diagnostic:  # fmt: skip
    line = text.count("\n", 0, start) + 1
    first = needle.split("\n", 1)[0]
    return doc.diagnostic(path, message, hint, needle=first, line=line)


def _prose(value: Any, path: PathKey) -> Iterator[tuple[PathKey, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if str(key) not in _SKIP_KEYS:
                yield from _prose(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _prose(item, (*path, index))
