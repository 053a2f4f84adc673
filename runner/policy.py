"""The team's policy file (`incident-policy.yaml`): who may sign approvals (`allowed_signers`), the groups of
principals a runbook's `approval.approvers` may name, and the severity levels of incidents (`severities`).
Found with `--policy`, `$FIRELINE_POLICY`, or in the current directory; validated like runbooks, every
problem with file:line:col.

The severity levels are data: the built-in ones are a policy file shipped in the package
(runner/incident/default-policy.yaml), validated by the same schema; a team's file replaces an entry as a
whole and keeps the built-in entries it does not name."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from runner.digest import sha256_hex
from runner.document.diagnostics import Diagnostic, DocumentInvalid
from runner.document.schemas import validate_structure
from runner.document.yamlsource import Document, load_document
from runner.durations import parse_duration
from runner.errors import FirelineError
from runner.policyfile import FILE_NAME, find_policy
from runner.secrets import SecretRef

SCHEMA = "policy.schema.json"
DEFAULT_FILE = Path(__file__).parent / "incident" / "default-policy.yaml"


@dataclass(frozen=True)
class Criterion:
    """One way a severity applies: every condition of `when` holds (see runner.incident.assess)."""

    why: str
    when: Mapping[str, Any]


@dataclass(frozen=True)
class SeverityLevel:
    name: str  # SEV1 … SEV4
    title: str
    definition: str
    response_target: str
    update_cadence: str  # as written: a duration, or "none"
    update_cadence_s: float | None  # None: no status updates are due
    roles: tuple[str, ...]  # roles that must be filled
    channels: tuple[str, ...]
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class Policy:
    path: Path
    allowed_signers: Path | None = None  # resolved against the policy file's directory
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    severities: Mapping[str, SeverityLevel] = field(default_factory=dict)  # every level, SEV1 first
    # The validated document as read. Sections with a module of their own (channels, intake, verification,
    # connections) are parsed there, from this, so that each stays next to the code that uses it.
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """A digest of the severity levels in force (recorded with each incident declared under them)."""
        levels = [asdict(level) for level in self.severities.values()]
        canonical = json.dumps(levels, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        return "sha256:" + sha256_hex(canonical.encode("utf-8"))


def check_policy(doc: Document) -> list[Diagnostic]:
    from runner.incident.channels.config import secret_problems  # {secret: NAME} names a secrets: entry
    from runner.incident.checklist import check_verification  # probes' parameters and connections

    return validate_structure(doc, SCHEMA) + secret_problems(doc) + check_verification(doc)


def is_policy(path: Path, kind: object) -> bool:
    """Whether `fireline validate` should read this document as a policy file."""
    return kind == "IncidentPolicy" or (kind is None and path.name == FILE_NAME)


def _validated(path: Path) -> dict[str, Any]:
    doc = load_document(path)
    problems = check_policy(doc)
    if problems:
        raise DocumentInvalid(problems)
    return doc.data if isinstance(doc.data, dict) else {}


def load_policy(path: Path) -> Policy:
    data = _validated(path)
    signers = data.get("allowed_signers")
    groups = data.get("groups") or {}
    return Policy(
        path=path,
        allowed_signers=(path.parent / signers) if isinstance(signers, str) else None,
        groups={str(name): tuple(str(p) for p in members) for name, members in groups.items()},
        severities={**default_severities(), **_severities(data)},
        data=data,
    )


def current_policy(explicit: str | None = None) -> Policy | None:
    path = find_policy(explicit)
    return load_policy(path) if path is not None else None


def policy_in_force(explicit: str | None = None) -> Policy:
    """The team's policy, else the built-in one (severity levels only)."""
    return current_policy(explicit) or Policy(path=DEFAULT_FILE, severities=default_severities())


@cache
def default_severities() -> Mapping[str, SeverityLevel]:
    """The built-in severity levels (runner/incident/default-policy.yaml), checked by the policy schema."""
    return _severities(_validated(DEFAULT_FILE))


def _severities(data: Mapping[str, Any]) -> dict[str, SeverityLevel]:
    levels: dict[str, SeverityLevel] = {}
    for name, entry in sorted((data.get("severities") or {}).items()):
        cadence = str(entry["update_cadence"])
        levels[str(name)] = SeverityLevel(
            name=str(name),
            title=str(entry["title"]),
            definition=str(entry["definition"]),
            response_target=str(entry["response_target"]),
            update_cadence=cadence,
            update_cadence_s=None if cadence == "none" else parse_duration(cadence),
            roles=tuple(str(r) for r in entry["roles"]),
            channels=tuple(str(c) for c in entry["channels"]),
            criteria=tuple(Criterion(str(c["why"]), dict(c["when"])) for c in entry["criteria"]),
        )
    return levels


def secret_refs(policy: Policy) -> dict[str, SecretRef]:
    """The policy's `secrets:` section: references, never values (runner.secrets resolves and redacts them)."""
    refs = policy.data.get("secrets") or {}
    return {
        str(name): SecretRef(str(name), ref["from"], ref.get("name") or ref.get("path"), bool(ref.get("optional")))
        for name, ref in refs.items()
    }


def approver_groups() -> Mapping[str, tuple[str, ...]]:
    """The groups of the policy in force, for counting approvers (a missing or invalid policy has none:
    validating a runbook does not depend on it). Read once per runbook checked, not once per step."""
    try:
        policy = current_policy()
    except FirelineError:
        policy = None
    return policy.groups if policy is not None else {}


def approver_count(names: list[str] | tuple[str, ...], groups: Mapping[str, tuple[str, ...]]) -> int:
    """How many principals `approval.approvers` allows, counting a policy group by its members."""
    return len({member for name in names for member in groups.get(str(name), (str(name),))})
