"""OpenSSH's own signatures (`ssh-keygen -Y sign/verify/find-principals`), the format git signs commits with.

OpenSSH is the reference implementation of the allowed-signers file (principal patterns, `cert-authority`,
`namespaces=`, `valid-after`/`valid-before`) and of agent and certificate keys; calling it gives exactly its
semantics. One verification costs one short-lived process (~5 ms), paid at approval gates only.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from runner.errors import FirelineError

NAMESPACE = "fireline-approval"  # a signature made for fireline is not valid as a git commit signature, nor back
_GOOD = re.compile(r'^Good "[^"]*" signature for (?P<principal>.+) with (?P<type>\S+) key (?P<fp>\S+)')
_TIMEOUT = 120.0  # seconds; a passphrase prompt is answered by a person


class SignatureError(FirelineError):
    """Signing failed (no key, a wrong passphrase, no agent), or OpenSSH is missing."""


@dataclass(frozen=True)
class Verified:
    principal: str
    key_type: str  # e.g. ED25519
    fingerprint: str  # SHA256:…


def _ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if found is None:
        raise SignatureError(
            "ssh-keygen (OpenSSH) is needed to sign and verify approvals and is not on PATH",
            hint="install the OpenSSH client (e.g. apt-get install openssh-client)",
        )
    return found


def _run(args: list[str], data: bytes) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            [_ssh_keygen(), *args], input=data, capture_output=True, timeout=_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise SignatureError(f"ssh-keygen {args[0]} {args[1]} did not answer within {_TIMEOUT:.0f}s") from None


def sign(key: Path, data: bytes) -> str:
    """The armored signature of `data` by `key` (a private key file, or a public one whose private half an
    ssh-agent holds)."""
    done = _run(["-Y", "sign", "-q", "-n", NAMESPACE, "-f", str(key)], data)
    out = done.stdout.decode("ascii", "replace")
    if done.returncode != 0 or "BEGIN SSH SIGNATURE" not in out:
        detail = _first_line(done.stderr) or f"exit status {done.returncode}"
        raise SignatureError(
            f"could not sign with {key}: {detail}",
            hint="a key in ssh-agent (also the way to use a key with a passphrase without a terminal): "
            "SSH_AUTH_SOCK set and --key pointing at its .pub file",
        )
    return out


def _signature_file(signature: str, directory: str) -> str:
    path = os.path.join(directory, "statement.sig")
    with open(path, "w", encoding="ascii", errors="replace") as fh:
        fh.write(signature)
    return path


def _time_option(at: datetime | None) -> list[str]:
    # Keys with valid-after/valid-before are judged at the time given (the signing time, for an audit).
    return [f"-Overify-time={at.strftime('%Y%m%d%H%M%S')}Z"] if at is not None else []


def find_principals(allowed: Path, signature: str, at: datetime | None = None) -> list[str]:
    """The principals of the allowed-signers file whose key made `signature` (empty: none)."""
    with tempfile.TemporaryDirectory(prefix="fireline-sig-") as tmp:
        sig = _signature_file(signature, tmp)
        done = _run(["-Y", "find-principals", "-f", str(allowed), "-s", sig, *_time_option(at)], b"")
    if done.returncode != 0:
        return []
    return [line for line in done.stdout.decode("utf-8", "replace").splitlines() if line.strip()]


def verify(allowed: Path, principal: str, data: bytes, signature: str, at: datetime | None = None) -> Verified | str:
    """Whether `signature` is `principal`'s signature of `data` under the allowed-signers file: the verified
    identity, or why not (a sentence)."""
    if not principal or any(c in principal for c in "\n\r\0"):
        return "no principal named"
    with tempfile.TemporaryDirectory(prefix="fireline-sig-") as tmp:
        sig = _signature_file(signature, tmp)
        args = ["-Y", "verify", "-f", str(allowed), "-I", principal, "-n", NAMESPACE, "-s", sig, *_time_option(at)]
        done = _run(args, data)
    match = _GOOD.match(done.stdout.decode("utf-8", "replace").strip())
    if done.returncode != 0 or match is None:
        return f"the signature does not verify as {principal}'s ({_first_line(done.stderr) or 'no detail'})"
    return Verified(principal, match["type"], match["fp"])


def _first_line(raw: bytes) -> str:
    lines = [line.strip() for line in raw.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""
