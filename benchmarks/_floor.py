"""The unavoidable work of one encrypted, signed event, for the adapters' "floor+crypto" servers.

What any correct receiver must do, done the fastest correct way: the SHA-256 signature compared in
constant time, the outer JSON and strict base64 (msgspec in one pass when installed), AES-CBC
with a cached context, a table PKCS#7 check, the plaintext JSON, the verification token compared
in constant time, a set of event ids for deduplication, and the content JSON for the text. A
framework endpoint calling this measures the framework plus the crypto, so that an adapter's
ratio against it shows only what lark-events adds.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

try:
    import orjson

    _loads: Callable[[bytes | str], Any] = orjson.loads
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads

_PADDING = tuple(bytes([n]) * n for n in range(17))


def _outer() -> Callable[[bytes], bytes]:
    try:
        import msgspec
    except ImportError:
        return lambda body: binascii.a2b_base64(_loads(body)["encrypt"], strict_mode=True)

    class Outer(msgspec.Struct):
        encrypt: bytes

    decode = msgspec.json.Decoder(Outer).decode
    return lambda body: decode(body).encrypt


def crypto_floor(encrypt_key: str, token: str) -> Callable[[Callable[[str], Any], bytes], bool]:
    """``check(get_header, body)``: ``True`` for a new valid event, ``False`` for a duplicate;
    raises ``ValueError`` for anything invalid."""
    decryptor = Cipher(
        algorithms.AES(hashlib.sha256(encrypt_key.encode()).digest()), modes.CBC(bytes(16))
    ).decryptor()
    outer = _outer()
    compare = hmac.compare_digest
    seen: set[str] = set()

    def check(get: Callable[[str], Any], body: bytes) -> bool:
        ts, nonce = get("X-Lark-Request-Timestamp") or "", get("X-Lark-Request-Nonce") or ""
        digest = hashlib.sha256((ts + nonce + encrypt_key).encode())
        digest.update(body)
        if not compare(digest.hexdigest(), get("X-Lark-Signature") or ""):
            raise ValueError("signature")
        out = decryptor.update(outer(body))
        pad = out[-1]
        if not 0 < pad <= 16 or not compare(out[-pad:], _PADDING[pad]):
            raise ValueError("padding")
        event = _loads(out[16:-pad])
        header = event["header"]
        if not compare(header["token"], token):
            raise ValueError("token")
        key = f"lark:{header['app_id']}:{header['event_id']}"
        if key in seen:
            return False
        seen.add(key)
        _loads(event["event"]["message"]["content"])
        return True

    return check
