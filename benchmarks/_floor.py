"""The unavoidable work of one encrypted, signed event: the floor of every benchmark.

What any correct receiver must do, done the fastest correct way: the SHA-256 signature compared in
constant time, the outer JSON and strict base64 (msgspec in one pass when installed), AES-CBC
with a cached context (the IV fed as the first block), a table PKCS#7 check, the plaintext JSON,
the verification token compared in constant time, a set of event ids for deduplication, and the
content JSON for the text. The plaintext is decoded either into dicts (orjson, else json) or,
with msgspec, straight into typed Structs holding only the fields needed (the whole JSON is still
parsed and validated). ``bench_core.py`` measures each way; a framework endpoint calling
:func:`crypto_floor` measures the framework plus the crypto, so that an adapter's ratio against it
shows only what lark-events adds.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import sys
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

try:
    import orjson

    _loads: Callable[[bytes | str], Any] = orjson.loads
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads

try:
    import msgspec
except ImportError:  # pragma: no cover - depends on the environment
    msgspec = None  # type: ignore[assignment]

_PADDING = tuple(bytes([n]) * n for n in range(17))

#: ``read(plaintext) -> (token, app_id, event_id, content)``: the fields the floor needs.
Reader = Callable[[bytes], tuple[str, str, str, str]]


def stdlib_outer(body: bytes) -> bytes:
    """The outer JSON with orjson (or json), then strict base64 with binascii."""
    encrypted = _loads(body)["encrypt"]
    if sys.version_info >= (3, 11):
        return binascii.a2b_base64(encrypted, strict_mode=True)
    import base64  # pragma: no cover - Python 3.10

    return base64.b64decode(encrypted, validate=True)  # pragma: no cover


def msgspec_outer() -> Callable[[bytes], bytes] | None:
    """The outer JSON and the base64 in one pass with msgspec, or None when not installed."""
    if msgspec is None:
        return None

    class Outer(msgspec.Struct):
        encrypt: bytes

    decode = msgspec.json.Decoder(Outer).decode
    return lambda body: decode(body).encrypt


def dict_reader(plaintext: bytes) -> tuple[str, str, str, str]:
    """The plaintext parsed into dicts (orjson, else json)."""
    event = _loads(plaintext)
    header = event["header"]
    content = event["event"]["message"]["content"]
    return header["token"], header["app_id"], header["event_id"], content


def typed_reader() -> Reader | None:
    """The plaintext decoded by msgspec into Structs of the needed fields; None without msgspec."""
    if msgspec is None:
        return None
    decode = msgspec.json.Decoder(_Plain).decode

    def read(plaintext: bytes) -> tuple[str, str, str, str]:
        event = decode(plaintext)
        header = event.header
        return header.token, header.app_id, header.event_id, event.event.message.content

    return read


def crypto_floor(
    encrypt_key: str,
    token: str,
    *,
    outer: Callable[[bytes], bytes] | None = None,
    read: Reader | None = None,
    dedup: bool = True,
) -> Callable[[Callable[[str], Any], bytes], str | None]:
    """``check(get_header, body)``: the text of a new valid event, ``None`` for a duplicate;
    raises ``ValueError`` for anything invalid. By default the fastest way available (msgspec
    for the outer JSON and the plaintext when installed); ``dedup=False`` skips the id set."""
    decryptor = Cipher(
        algorithms.AES(hashlib.sha256(encrypt_key.encode()).digest()), modes.CBC(bytes(16))
    ).decryptor()  # cached: the IV is fed as the first block, whose output is discarded
    outer = outer or msgspec_outer() or stdlib_outer
    read = read or typed_reader() or dict_reader
    content_text = _text_decoder()
    compare = hmac.compare_digest
    seen: set[str] = set()

    def check(get: Callable[[str], Any], body: bytes) -> str | None:
        ts, nonce = get("X-Lark-Request-Timestamp") or "", get("X-Lark-Request-Nonce") or ""
        digest = hashlib.sha256((ts + nonce + encrypt_key).encode())
        digest.update(body)
        if not compare(digest.hexdigest(), get("X-Lark-Signature") or ""):
            raise ValueError("signature")
        out = decryptor.update(outer(body))
        pad = out[-1]
        if not 0 < pad <= 16 or not compare(out[-pad:], _PADDING[pad]):
            raise ValueError("padding")
        sent_token, app_id, event_id, content = read(out[16:-pad])
        if not compare(sent_token, token):
            raise ValueError("token")
        if dedup:
            key = f"lark:{app_id}:{event_id}"
            if key in seen:
                return None
            seen.add(key)
        return content_text(content)

    return check


def _text_decoder() -> Callable[[str], str]:
    if msgspec is None:
        return lambda content: str(_loads(content)["text"])
    decode = msgspec.json.Decoder(_Content).decode
    return lambda content: decode(content).text


if msgspec is not None:  # module level: msgspec resolves the annotations here

    class _Header(msgspec.Struct):
        event_id: str
        token: str
        app_id: str

    class _Message(msgspec.Struct):
        content: str

    class _Body(msgspec.Struct):
        message: _Message

    class _Plain(msgspec.Struct):
        header: _Header
        event: _Body

    class _Content(msgspec.Struct):
        text: str
