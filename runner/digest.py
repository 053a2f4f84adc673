"""SHA-256 for what fireline hashes at every start (documents, cache keys, the journal's chain), without
`hashlib`: importing it loads OpenSSL, about 2 ms of each command, for digests of a few hundred bytes where
Python's own implementation is as good (under a microsecond each). Same algorithm, same digests."""

from __future__ import annotations

try:
    from _sha256 import sha256
except ImportError:  # Python 3.12 and later keep it in _sha2; hashlib where neither is built
    try:
        from _sha2 import sha256  # type: ignore[import-not-found, no-redef, unused-ignore]
    except ImportError:
        from hashlib import sha256  # type: ignore[assignment, unused-ignore]

__all__ = ["sha256_hex"]


def sha256_hex(data: bytes) -> str:
    digest: str = sha256(data).hexdigest()
    return digest
