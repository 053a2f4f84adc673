"""The team's policy file (`incident-policy.yaml`): today who may sign approvals (`allowed_signers`) and the
groups of principals a runbook's `approval.approvers` may name. Found with `--policy`, `$FIRELINE_POLICY`,
or in the current directory; validated like runbooks, every problem with file:line:col."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runner.document.diagnostics import Diagnostic, DocumentInvalid
from runner.document.schemas import validate_structure
from runner.document.yamlsource import Document, load_document
from runner.errors import FirelineError, UsageError

FILE_NAME = "incident-policy.yaml"
ENV = "FIRELINE_POLICY"
SCHEMA = "policy.schema.json"


@dataclass(frozen=True)
class Policy:
    path: Path
    allowed_signers: Path | None = None  # resolved against the policy file's directory
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def find_policy(explicit: str | None = None) -> Path | None:
    """The policy file in force: `--policy`, else $FIRELINE_POLICY, else ./incident-policy.yaml if present."""
    named = explicit or os.environ.get(ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            source = "--policy" if explicit else ENV
            raise UsageError(f"the policy file {path} ({source}) does not exist")
        return path
    local = Path(FILE_NAME)
    return local if local.is_file() else None


def check_policy(doc: Document) -> list[Diagnostic]:
    return validate_structure(doc, SCHEMA)


def is_policy(path: Path, kind: object) -> bool:
    """Whether `fireline validate` should read this document as a policy file."""
    return kind == "IncidentPolicy" or (kind is None and path.name == FILE_NAME)


def load_policy(path: Path) -> Policy:
    doc = load_document(path)
    problems = check_policy(doc)
    if problems:
        raise DocumentInvalid(problems)
    data = doc.data if isinstance(doc.data, dict) else {}
    signers = data.get("allowed_signers")
    groups = data.get("groups") or {}
    return Policy(
        path=path,
        allowed_signers=(path.parent / signers) if isinstance(signers, str) else None,
        groups={str(name): tuple(str(p) for p in members) for name, members in groups.items()},
    )


def current_policy(explicit: str | None = None) -> Policy | None:
    path = find_policy(explicit)
    return load_policy(path) if path is not None else None


def approver_count(names: list[str] | tuple[str, ...]) -> int:
    """How many principals `approval.approvers` allows, counting a policy group by its members (the policy in
    force; a missing or invalid one counts names only: validating a runbook does not depend on it)."""
    try:
        policy = current_policy()
    except FirelineError:
        policy = None
    groups = policy.groups if policy is not None else {}
    return len({member for name in names for member in groups.get(str(name), (str(name),))})
