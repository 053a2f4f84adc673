"""Whose signatures count: the allowed-signers file in force (and the policy's groups), and the key a person
signs with."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from runner.errors import FirelineError, UsageError
from runner.policyfile import find_policy

if TYPE_CHECKING:
    from runner.identity import sshsig
    from runner.identity.statement import Statement
    from runner.policy import Policy

# sshsig (ssh-keygen through subprocess and temporary files) and the statements are loaded when a signature
# is made or checked, the policy file's checks when there is a policy file: not by every run that merely
# could check a signature.

ENV_SIGNERS = "FIRELINE_ALLOWED_SIGNERS"
ENV_KEY = "FIRELINE_SIGNING_KEY"
DEFAULT_KEYS = ("id_ed25519", "id_ecdsa", "id_rsa")
SETTING = f"{ENV_SIGNERS} or `allowed_signers:` in the policy file (incident-policy.yaml)"
NOT_VERIFIED = f"identities are not verified: no allowed-signers file is configured ({SETTING})"


class NotAllowed(FirelineError):
    """A key that is not in the allowed-signers file, or a signature that does not verify."""


@dataclass(frozen=True)
class Signed:
    """A statement as signed: the exact text, the signature, and the identity it verified to when made."""

    statement: str
    signature: str
    principal: str
    fingerprint: str


@dataclass(frozen=True)
class Trust:
    """Whose signatures count: the allowed-signers file, and the groups of the policy."""

    allowed_signers: Path
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def identify(self, signature: str, data: bytes, at: datetime | None = None) -> sshsig.Verified | str:
        """The principal (of the file) whose key made `signature` over `data`, or why there is none."""
        from runner.identity import sshsig

        principals = sshsig.find_principals(self.allowed_signers, signature, at)
        if not principals:
            return f"the key that signed is not in the allowed signers file {self.allowed_signers}"
        return sshsig.verify(self.allowed_signers, principals[0], data, signature, at)

    def sign(self, key: Path, statement: Statement) -> Signed:
        """`statement` signed with `key`, refused unless the signature verifies to a principal of the file."""
        from runner.identity import sshsig

        text = statement.text()
        signature = sshsig.sign(key, text.encode("utf-8"))
        who = self.identify(signature, text.encode("utf-8"))
        if isinstance(who, str):
            raise NotAllowed(
                f"the key {key} is not allowed to sign for fireline: {who}",
                hint=f"add a line `PRINCIPAL {_public_half(key)}` to {self.allowed_signers}, or sign with --key PATH",
            )
        return Signed(text, signature, who.principal, who.fingerprint)

    def check(self, signed_text: str, signature: str, principal: str, at_signing: bool = False) -> Checked:
        """Re-verify a stored signature as `principal`'s and read its statement. `at_signing`: judge keys'
        validity periods at the statement's signing time (an audit of the past), not now."""
        from runner.identity.statement import BadStatement, parse, parse_time

        try:
            statement = parse(signed_text)
        except BadStatement as exc:
            return Checked(None, None, str(exc))
        from runner.identity import sshsig

        at = parse_time(statement.signed_at) if at_signing else None
        verified = sshsig.verify(self.allowed_signers, principal, signed_text.encode("utf-8"), signature, at)
        if isinstance(verified, str):
            return Checked(statement, None, verified)
        return Checked(statement, verified, "")

    def expand(self, names: tuple[str, ...]) -> frozenset[str]:
        """Principals named directly or through a policy group."""
        out: set[str] = set()
        for name in names:
            out.update(self.groups.get(name, (name,)))
        return frozenset(out)


@dataclass(frozen=True)
class Checked:
    """A signed statement checked: what it says and who signed it, or why it does not count."""

    statement: Statement | None
    verified: sshsig.Verified | None
    problem: str  # "" when verified


def _public_half(key: Path) -> str:
    pub = key if key.suffix == ".pub" else key.with_name(key.name + ".pub")
    try:
        parts = pub.read_text(encoding="utf-8").split()
        return " ".join(parts[:2]) if len(parts) >= 2 else "KEYTYPE BASE64"
    except OSError:
        return "KEYTYPE BASE64"


def load_trust(policy: str | None = None) -> Trust | None:
    """The allowed signers in force: $FIRELINE_ALLOWED_SIGNERS, else the policy file's; None: identities are
    not verified (a laptop, the lab, the quick start)."""
    found = find_policy(policy)
    loaded = _read_policy(found) if found is not None else None
    groups = loaded.groups if loaded is not None else {}
    named = os.environ.get(ENV_SIGNERS)
    if named is not None and not named.strip():
        raise UsageError(f"{ENV_SIGNERS} is set but empty", hint="name an allowed-signers file, or unset it")
    path = Path(named) if named else (loaded.allowed_signers if loaded is not None else None)
    if path is None:
        return None
    if not path.is_file():
        source = ENV_SIGNERS if named else f"allowed_signers in {loaded.path if loaded else '?'}"
        # Fail closed: a configured file that is missing must not silently turn verification off.
        raise UsageError(f"the allowed signers file {path} ({source}) does not exist")
    return Trust(path.resolve(), groups)


def _read_policy(path: Path) -> Policy:
    # As runner.policy.current_policy, whose checks (the policy schema) are loaded only for a file found.
    from runner.policy import load_policy

    return load_policy(path)


def signing_key(explicit: str | None) -> Path:
    """The key to sign with: --key, else $FIRELINE_SIGNING_KEY, else the first of ~/.ssh/id_ed25519, id_ecdsa,
    id_rsa that exists."""
    named = explicit or os.environ.get(ENV_KEY)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise UsageError(f"the signing key {path} does not exist")
        return path
    for name in DEFAULT_KEYS:
        candidate = Path.home() / ".ssh" / name
        if candidate.is_file():
            return candidate
    raise UsageError(
        "approvals are signed (an allowed-signers file is configured) and no key was found",
        hint=f"pass --key PATH (a private key, or the .pub of a key in your ssh-agent) or set {ENV_KEY}",
    )
