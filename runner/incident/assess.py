"""`--assess users_affected=N systems_down=... data_loss=yes security=yes revenue_impact=high workaround=yes`:
the severity the policy's criteria give for what the responder knows, and why.

Each criterion's conditions hold, fail, or are unknown (a fact not given). A criterion with every condition
holding decides its severity; one with some holding and the rest unknown leaves the responder unsure. The most
severe level that is decided or unsure wins: when unsure between two, the higher one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from runner.errors import UsageError
from runner.incident.model import Severity
from runner.policy import Criterion, Policy

YES = {"yes": True, "true": True, "y": True, "no": False, "false": False, "n": False}
REVENUE = ("high", "medium", "low", "none")
KEYS = ("users_affected", "systems_down", "data_loss", "security", "revenue_impact", "workaround")
_SYSTEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
_MAX_USERS = 10**12
ALL = "all"

Fact = int | bool | str  # users_affected: int; systems_down: int or "all"; flags: bool; revenue_impact: str


class Holds(Enum):
    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Assessment:
    severity: Severity
    why: tuple[str, ...]
    given: Mapping[str, str]  # the criteria as typed

    def record(self) -> dict[str, Any]:
        """As stored in incident.declared's `assessment`."""
        return {"criteria": dict(self.given), "why": list(self.why)}


# -- reading what the responder typed ----------------------------------------------------------------------------


def parse_facts(pairs: Sequence[str]) -> tuple[dict[str, Fact], dict[str, str]]:
    """`key=value` pairs as facts (and as typed); every mistake is a usage error naming the pair."""
    facts: dict[str, Fact] = {}
    given: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key, value = key.strip().lower(), value.strip()
        shown = repr(pair) if len(pair) <= 60 else repr(pair[:57] + "...")
        if not sep or not key:
            raise UsageError(f"--assess {shown}: write KEY=VALUE", hint=f"keys: {', '.join(KEYS)}")
        if key not in KEYS:
            raise UsageError(f"--assess {shown}: unknown criterion {key[:40]!r}", hint=f"keys: {', '.join(KEYS)}")
        if key in facts:
            raise UsageError(f"--assess: {key} is given twice")
        facts[key] = _fact(key, value, shown)
        given[key] = value
    if not facts:
        raise UsageError("--assess needs at least one KEY=VALUE", hint=f"keys: {', '.join(KEYS)}")
    return facts, given


def _fact(key: str, value: str, shown: str) -> Fact:
    if key == "users_affected":
        if not value.isdigit() or len(value) > 13 or int(value) > _MAX_USERS:
            raise UsageError(f"--assess {shown}: users_affected is a whole number of users (0 or more)")
        return int(value)
    if key == "systems_down":
        return _systems_down(value, shown)
    if key == "revenue_impact":
        if value.lower() not in REVENUE:
            raise UsageError(f"--assess {shown}: revenue_impact is one of {', '.join(REVENUE)}")
        return value.lower()
    if value.lower() not in YES:
        raise UsageError(f"--assess {shown}: {key} is yes or no")
    return YES[value.lower()]


def _systems_down(value: str, shown: str) -> Fact:
    """`all` (a complete outage), a number of systems, `none`, or the systems' names separated by commas."""
    lowered = value.lower()
    if lowered == ALL:
        return ALL
    if lowered == "none":
        return 0
    if value.isdigit() and len(value) <= 6:
        return int(value)
    names = [n.strip() for n in value.split(",")]
    if not value or not all(_SYSTEM.match(n) and len(n) <= 100 for n in names):
        raise UsageError(
            f"--assess {shown}: systems_down is all, none, a number, or system names separated by commas"
        )
    return len(set(names))


# -- judging -----------------------------------------------------------------------------------------------------


def assess(policy: Policy, pairs: Sequence[str]) -> Assessment:
    facts, given = parse_facts(pairs)
    decided: list[tuple[Severity, Criterion, Holds, list[str]]] = []
    for name, level in policy.severities.items():
        severity = Severity(name)
        for criterion in level.criteria:
            holds, unknown = judge(criterion, facts)
            if holds is not Holds.NO:
                decided.append((severity, criterion, holds, unknown))
    if not decided:
        raise UsageError(
            f"no severity criterion applies to {' '.join(f'{k}={v}' for k, v in given.items())}",
            hint=f"say more ({', '.join(k for k in KEYS if k not in given)}), or choose with --sev SEVn",
        )
    top = min((s for s, _, _, _ in decided), key=lambda s: s.rank)
    return Assessment(top, _why(policy, top, decided, given), given)


def judge(criterion: Criterion, facts: Mapping[str, Fact]) -> tuple[Holds, list[str]]:
    """Whether every condition holds (YES), one fails (NO), or some hold and the rest are not known
    (UNKNOWN, with the facts missing). A criterion nothing given speaks to is NO: it says nothing."""
    results = {key: _condition(key, expected, facts.get(key)) for key, expected in criterion.when.items()}
    unknown = [key for key, result in results.items() if result is None]
    if any(result is False for result in results.values()) or len(unknown) == len(results):
        return Holds.NO, unknown
    return (Holds.UNKNOWN if unknown else Holds.YES), unknown


def _condition(key: str, expected: Any, fact: Fact | None) -> bool | None:
    if fact is None:
        return None
    if key == "users_affected":
        return _in_range(expected, fact)
    if key == "systems_down":
        if expected == ALL:
            return fact == ALL
        if fact == ALL:  # every system: as many as any range without an upper bound asks for
            return "max" not in expected
        return _in_range(expected, fact)
    if key == "revenue_impact":
        return fact in expected
    return bool(fact == expected)


def _in_range(expected: Mapping[str, int], fact: Fact) -> bool:
    if isinstance(fact, bool) or not isinstance(fact, int):
        return False
    return expected.get("min", 0) <= fact <= expected.get("max", fact)


def _why(
    policy: Policy, top: Severity, decided: list[tuple[Severity, Criterion, Holds, list[str]]], given: Mapping[str, str]
) -> tuple[str, ...]:
    level = policy.severities[str(top)]
    lines = [f"{top} ({level.title}): {level.definition}"]
    certain = [(s, c) for s, c, holds, _ in decided if holds is Holds.YES]
    for severity, criterion, holds, unknown in decided:
        if severity is not top:
            continue
        facts = ", ".join(f"{k}={given[k]}" for k in criterion.when if k in given)
        if holds is Holds.YES:
            lines.append(f"{criterion.why} ({facts})")
        else:
            lines.append(f"perhaps {criterion.why} ({facts}; not given: {', '.join(unknown)})")
    if not any(s is top for s, _ in certain):
        lower = min((s for s, _, _, _ in decided if s.rank > top.rank), key=lambda s: s.rank, default=None)
        missing = sorted({k for s, _, _, unknown in decided if s is top for k in unknown})
        between = f"between {top} and {lower}" if lower is not None else f"whether {top} applies"
        lines.append(f"unsure {between} ({', '.join(missing)} not given): the higher one is taken")
    return tuple(lines)
