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


def event_signature(timestamp: str, nonce: str, encrypt_key: str | Secret, body: bytes) -> str:
    """``hex(sha256(timestamp + nonce + encrypt_key ++ body))``: events and new-style callbacks."""
    prefix = (timestamp + nonce + _reveal(encrypt_key)).encode("utf-8")
    return hashlib.sha256(prefix + body).hexdigest()


def card_signature(
    timestamp: str, nonce: str, verification_token: str | Secret, body: bytes
) -> str:
    """``hex(sha1(timestamp + nonce + verification_token ++ body))``: legacy card callbacks."""
    prefix = (timestamp + nonce + _reveal(verification_token)).encode("utf-8")
    # SHA-1 is what the platform signs legacy card callbacks with; we cannot choose another.
    return hashlib.sha1(prefix + body).hexdigest()  # noqa: S324


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
    sign = card_signature if legacy_card else event_signature
    wanted = signature.strip().lower().encode("ascii", "replace")
    for secret in secrets:
        if hmac.compare_digest(sign(timestamp, nonce, secret, body).encode("ascii"), wanted):
            return secret
    return None
