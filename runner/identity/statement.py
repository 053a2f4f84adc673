"""The text a person signs: what they approve (or start, resume, cancel), bound to exactly this change.

An approval names the run, the step, the runbook's digest and a digest of the step's rendered parameters
(what will actually be done), with the reason, the time and an expiry. The statement is stored as the exact
text signed; checking an approval re-reads it from that text, never from other columns of the row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from runner.digest import sha256_hex
from runner.identity.acts import Act as Act  # what a statement is about; re-exported: st.Act

VERSION = "fireline-signed/1"
DEFAULT_EXPIRY_S = 3600.0  # approval.timeout when the runbook does not say


@dataclass(frozen=True)
class Binding:
    """What an approval is for: the change a gate is about to make."""

    run: str
    step: str
    runbook: str  # the runbook's digest
    params: str  # params_digest() of the step's rendered parameters


@dataclass(frozen=True)
class Statement:
    version: str
    act: Act
    run: str
    runbook: str
    reason: str
    signed_at: str  # UTC, ISO 8601
    step: str | None = None
    params: str | None = None
    expires_at: str | None = None
    via: str = ""

    def text(self) -> str:
        """The exact text signed: canonical JSON (sorted keys, no spaces)."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def binding(self) -> Binding | None:
        if self.step is None or self.params is None:
            return None
        return Binding(self.run, self.step, self.runbook, self.params)

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and parse_time(self.expires_at) < now


class BadStatement(ValueError):
    """Stored text that is not a statement this version can read."""


def parse(text: str) -> Statement:
    try:
        data = json.loads(text)
    except (ValueError, TypeError):
        raise BadStatement("the signed statement is not JSON") from None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise BadStatement("the signed statement is not a fireline statement")
    try:
        fields = {k: data[k] for k in ("version", "act", "run", "runbook", "reason", "signed_at")}
        fields.update({k: data.get(k) for k in ("step", "params", "expires_at")})
        fields["via"] = data.get("via", "")
        fields["act"] = Act(fields["act"])
        parse_time(fields["signed_at"])
    except (KeyError, ValueError, TypeError):
        raise BadStatement("the signed statement lacks a field or has a malformed one") from None
    if not all(isinstance(v, str) for k, v in fields.items() if v is not None):
        raise BadStatement("the signed statement has a malformed field")
    return Statement(**fields)


def approval(binding: Binding, reason: str, via: str, expiry_s: float | None, now: datetime | None = None) -> Statement:
    now = now or datetime.now(UTC)
    expires = now + timedelta(seconds=expiry_s if expiry_s is not None else DEFAULT_EXPIRY_S)
    return Statement(
        VERSION, Act.APPROVE, binding.run, binding.runbook, reason, iso(now), binding.step, binding.params,
        iso(expires), via,
    )


def act(kind: Act, run: str, runbook: str, reason: str, via: str = "") -> Statement:
    return Statement(VERSION, kind, run, runbook, reason, iso(datetime.now(UTC)), via=via)


def params_digest(params: Mapping[str, Any]) -> str:
    """A digest of a step's rendered parameters: equal exactly when the step would do the same thing."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return "sha256:" + sha256_hex(canonical.encode("utf-8"))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("a time without a zone")
    return moment
