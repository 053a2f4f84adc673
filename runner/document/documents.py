"""Dispatch by `kind`: runbooks today, game-day scenarios through the same door."""

from __future__ import annotations

from pathlib import Path

from runner.document.diagnostics import Diagnostic, DocumentInvalid
from runner.document.graph import graph_warnings
from runner.document.runbook import check_runbook
from runner.document.schemas import did_you_mean
from runner.document.yamlsource import load_document

KINDS = ("Runbook", "GameDay", "IncidentPolicy", "PostMortem")


def _is_policy(path: Path, kind: object) -> bool:
    """The team's policy file validates here too; runner.policy loads only for a document that may be one."""
    if kind != "IncidentPolicy" and kind is not None:
        return False
    from runner.policy import is_policy

    return is_policy(path, kind)


def check_document(path: Path, warnings: list[Diagnostic] | None = None) -> str:
    """Validate one file of any kind; returns its kind or raises DocumentInvalid with every problem. What is
    allowed but probably not meant (a loop only a failure can leave) is added to `warnings`."""
    doc = load_document(path)
    data = doc.data  # the YAML document, not a journal event
    kind = data.get("kind")
    if _is_policy(path, kind):
        from runner.policy import check_policy

        problems, kind = check_policy(doc), "IncidentPolicy"
    elif kind == "PostMortem":
        from runner.postmortem.document import check_parsed  # post-mortems validate here too

        problems = check_parsed(doc)
    elif kind == "GameDay":
        from runner.document.gameday import check_gameday

        problems = check_gameday(doc, path)
    elif kind == "Runbook" or kind is None:
        problems = check_runbook(doc)
        if warnings is not None and not problems and isinstance(data, dict):  # errors first, then doubts
            warnings += graph_warnings(doc, data)
    else:
        problems = [doc.diagnostic(("kind",), f"unknown kind {kind!r}", did_you_mean(str(kind), KINDS))]
    if problems:
        raise DocumentInvalid(problems)
    return str(kind)
