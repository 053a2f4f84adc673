"""The policy's `channels:` section, parsed: each entry's kind-specific settings plus what every channel
shares (`drills`, `retries`, `timeout`, `backoff`). The schema (schemas/policy.schema.json, `$defs.channel`)
has checked the shapes; `secret_problems` checks what a schema cannot: that every `{secret: NAME}` names an
entry of `secrets:`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.durations import parse_duration

if TYPE_CHECKING:
    from runner.document.diagnostics import Diagnostic
    from runner.document.yamlsource import Document
    from runner.incident.channels.base import Settings

DEFAULT_RETRIES = 3  # retries after the first attempt
DEFAULT_TIMEOUT_S = 30.0  # for all attempts of one delivery, waits included
DEFAULT_BACKOFF_S = 1.0  # the wait before the first retry; doubled for each next one


class Kind(StrEnum):
    SLACK = "slack"
    WEBHOOK = "webhook"
    STATUSPAGE = "statuspage"
    EMAIL = "email"


@dataclass(frozen=True)
class Channel:
    name: str
    kind: Kind
    settings: Settings
    drills: bool = False  # a drill incident's updates reach it too
    retries: int = DEFAULT_RETRIES
    timeout_s: float = DEFAULT_TIMEOUT_S
    backoff_s: float = DEFAULT_BACKOFF_S

    @property
    def keeps_state(self) -> bool:
        """Each update replaces the last one there (a status page), rather than adding a message: an older
        update must never be sent after a newer one reached it."""
        return self.kind is Kind.STATUSPAGE


def channels_of(data: Mapping[str, Any], base: Path | None = None) -> dict[str, Channel]:
    """The channels a (validated) policy document defines; `base`: the policy file's directory."""
    found = {}
    for name, entry in (data.get("channels") or {}).items():
        kind = Kind(entry["type"])
        found[str(name)] = Channel(
            name=str(name),
            kind=kind,
            settings=_settings(kind, entry, base),
            drills=bool(entry.get("drills", False)),
            retries=int(entry.get("retries", DEFAULT_RETRIES)),
            timeout_s=_seconds(entry.get("timeout"), DEFAULT_TIMEOUT_S),
            backoff_s=_seconds(entry.get("backoff"), DEFAULT_BACKOFF_S),
        )
    return found


def _settings(kind: Kind, entry: Mapping[str, Any], base: Path | None) -> Settings:
    # The kinds (and the incident model they speak of) are imported only to deliver: every policy load runs
    # `secret_problems`, which needs none of them.
    from runner.incident.channels.email import Email
    from runner.incident.channels.slack import Slack
    from runner.incident.channels.statuspage import Statuspage
    from runner.incident.channels.webhook import Webhook

    if kind is Kind.SLACK:
        return Slack.parse(entry)
    if kind is Kind.WEBHOOK:
        return Webhook.parse(entry)
    if kind is Kind.STATUSPAGE:
        return Statuspage.parse(entry)
    return Email.parse(entry, base)


def _seconds(value: Any, default: float) -> float:
    return default if value is None else parse_duration(str(value))


def secret_problems(doc: Document) -> list[Diagnostic]:
    """Every `{secret: NAME}` under `channels:` or `intake:` whose NAME `secrets:` does not define (reported with the
    schema's problems, so the document may be malformed anywhere)."""
    data = doc.data if isinstance(doc.data, Mapping) else {}
    secrets = data.get("secrets")
    defined = {str(k) for k in secrets} if isinstance(secrets, Mapping) else set()
    hint = f"define it under secrets: ({', '.join(sorted(defined))})" if defined else "define it under secrets:"
    problems = []
    for section in ("channels", "intake"):  # intake: its bearer token (runner.incident.intake)
        for path, name in _secret_names(data.get(section), (section,)):
            if name not in defined:
                said = f"secret {name!r} is not defined under secrets:"
                problems.append(doc.diagnostic((*path, "secret"), said, hint))
    return problems


def _secret_names(node: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(node, Mapping):
        if set(node) == {"secret"}:
            if isinstance(node["secret"], str):
                yield path, node["secret"]
            return
        for key, value in node.items():
            yield from _secret_names(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _secret_names(value, (*path, index))
