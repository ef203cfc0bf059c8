"""Request signatures (PROTOCOL.md §4 and §5), always over the exact bytes received."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from ._secrets import Secret

__all__ = [
    "HEADER_NONCE",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "card_signature",
    "event_signature",
    "matching_secret",
]

HEADER_TIMESTAMP = "X-Lark-Request-Timestamp"
HEADER_NONCE = "X-Lark-Request-Nonce"
HEADER_SIGNATURE = "X-Lark-Signature"


def _reveal(secret: str | Secret) -> str:
    return secret.reveal() if isinstance(secret, Secret) else secret


def _prefix(timestamp: str, nonce: str, secret: str | Secret) -> bytes:
    # "surrogatepass": header values decoded with surrogateescape (aiohttp) must not crash us;
    # such a value only ever yields a signature that does not match.
    return (timestamp + nonce + _reveal(secret)).encode("utf-8", "surrogatepass")


def event_signature(timestamp: str, nonce: str, encrypt_key: str | Secret, body: bytes) -> str:
    """``hex(sha256(timestamp + nonce + encrypt_key ++ body))``: events and new-style callbacks."""
    digest = hashlib.sha256(_prefix(timestamp, nonce, encrypt_key))
    digest.update(body)
    return digest.hexdigest()


def card_signature(
    timestamp: str, nonce: str, verification_token: str | Secret, body: bytes
) -> str:
    """``hex(sha1(timestamp + nonce + verification_token ++ body))``: legacy card callbacks."""
    # SHA-1 is what the platform signs legacy card callbacks with; we cannot choose another.
    digest = hashlib.sha1(_prefix(timestamp, nonce, verification_token))  # noqa: S324
    digest.update(body)
    return digest.hexdigest()


def matching_secret(
    signature: str,
    timestamp: str,
    nonce: str,
    body: bytes,
    secrets: Iterable[Secret],
    *,
    legacy_card: bool = False,
) -> Secret | None:
    """The first of ``secrets`` whose signature equals ``signature`` (constant time), or None."""
    wanted = signature.strip().lower()
    if not wanted.isascii():
        # compare_digest takes ASCII str only; a hex digest never holds anything else.
        wanted = wanted.encode("ascii", "replace").decode("ascii")
    # As event_signature / card_signature, inline: this runs on every request. "surrogatepass"
    # as in _prefix; each secret's bytes are encoded once, when the Secret is made.
    prefix = (timestamp + nonce).encode("utf-8", "surrogatepass")
    new = _sha1 if legacy_card else _sha256
    for secret in secrets:
        digest = new(prefix + secret._encoded)
        digest.update(body)
        if hmac.compare_digest(digest.hexdigest(), wanted):
            return secret
    return None


# Module constants: looked up once, not on every request.
_sha256 = hashlib.sha256
# SHA-1 is what the platform signs legacy card callbacks with; we cannot choose another.
_sha1 = hashlib.sha1
