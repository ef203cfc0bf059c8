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
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

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
#: :func:`crypto_floor`'s deduplication: a set of ids (``True``), none, or a store's claims.
Dedup = bool | Literal["claims", "bounded"]


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
    dedup: Dedup = True,
) -> Callable[[Callable[[str], Any], bytes], str | None]:
    """``check(get_header, body)``: the text of a new valid event, ``None`` for a duplicate;
    raises ``ValueError`` for anything invalid. By default the fastest way available (msgspec
    for the outer JSON and the plaintext when installed). ``dedup``: ``True``, a set of event
    ids; ``False``, none; ``"claims"``, :func:`claim_floor`'s claims instead; ``"bounded"``,
    :func:`bounded_claims`' (the same with an entry bound)."""
    decryptor = Cipher(
        algorithms.AES(hashlib.sha256(encrypt_key.encode()).digest()), modes.CBC(bytes(16))
    ).decryptor()  # cached: the IV is fed as the first block, whose output is discarded
    outer = outer or msgspec_outer() or stdlib_outer
    read = read or typed_reader() or dict_reader
    content_text = _text_decoder()
    compare = hmac.compare_digest
    use_set, claims, bounded = dedup is True, dedup == "claims", dedup == "bounded"
    seen: set[str] = set()
    entries, lock, take_over = claim_floor()
    now = time.monotonic
    hold, finish = bounded_claims()

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
        if bounded:
            key = f"lark:{app_id}:{event_id}"
            claimed = hold(key)
            if claimed is None:
                return None
            text = content_text(content)  # the handler
            finish(claimed)
            return text
        if claims:  # the claims of claim_floor(), inline
            key = f"lark:{app_id}:{event_id}"
            stored = key if len(key) <= 64 and key.isascii() else _digest(key)
            claim = -(now() + CLAIM_TTL)
            found = entries.setdefault(stored, claim)  # atomic: a new key needs no lock
            if found is not claim and not take_over(stored, claim):
                return None
            text = content_text(content)  # the handler
            expiry = now() + DONE_TTL
            lock.acquire()  # a completion must not overwrite a takeover
            try:
                if entries.get(stored) is claim:
                    entries[stored] = expiry
            finally:
                lock.release()
            return text
        if use_set:
            key = f"lark:{app_id}:{event_id}"
            if key in seen:
                return None
            seen.add(key)
        return content_text(content)

    return check


CLAIM_TTL = 600.0
DONE_TTL = 7.2 * 3600


def _digest(key: str) -> bytes:
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def claim_floor() -> tuple[
    dict[str | bytes, float], threading.Lock, Callable[[str | bytes, float], bool]
]:
    """The least a store with the in-memory store's promises must do, without its bounds.

    A delivery claims its key until it completes (a second delivery meanwhile is a duplicate); a
    claim whose owner never completes expires after ``CLAIM_TTL`` and can be taken over;
    completing marks the key done for ``DONE_TTL``, unless another delivery took the claim over;
    a key is kept in a fixed size whatever its length (a digest beyond 64 ASCII characters);
    threads share it. Done the fastest correct way under the GIL: a new key is claimed by one
    ``dict.setdefault`` (atomic) without the lock; only a key already there (a duplicate or a
    takeover) and the completion (which must not overwrite a takeover) take it. No entry bound,
    no generations, no release on failure: what ``MemoryDedupStore`` costs above this is what
    its bounds and its API add.

    Returns the entries (key -> done expiry, or claim expiry negated), the lock, and
    ``take_over(key, claim)``: whether an expired claim of ``key`` was taken over by ``claim``.
    """
    entries: dict[str | bytes, float] = {}
    lock = threading.Lock()
    now = time.monotonic

    def take_over(key: str | bytes, claim: float) -> bool:
        with lock:
            if abs(entries[key]) > now():
                return False  # live: a duplicate
            entries[key] = claim
            return True

    return entries, lock, take_over


#: ``hold(key)``: the claim (its stored key and token), or ``None`` for a duplicate;
#: ``finish(claim)``: mark it done.
Claim = tuple[str | bytes, float]
BoundedClaims = tuple[Callable[[str], "Claim | None"], Callable[[Claim], None]]


def bounded_claims(max_entries: int = 10_000_000) -> BoundedClaims:
    """:func:`claim_floor`'s claims with an entry bound: what a store bounded in memory must do.

    Entries are a fixed size (a key of at most 64 ASCII characters or a 16-byte digest, and a
    float), so an entry bound is a byte bound. The cheapest bounded eviction is two generations
    (``MemoryDedupStore``'s): new keys go to the current dict; when it holds half the bound it
    becomes the previous one and the older previous one is dropped. For the bound to hold,
    counting an entry and adding it must be one step: the claim takes the lock, like the
    completion. Two functions, as a store's API needs (the unbounded floor is inline).
    """
    half = max(1, max_entries // 2)
    state: list[Any] = [{}, {}, half]  # current, previous, room left in current
    lock = threading.Lock()
    now = time.monotonic

    def hold(key: str) -> Claim | None:
        stored: str | bytes = key
        if len(key) > 64 or not key.isascii():
            stored = _digest(key)
        claim = -(now() + CLAIM_TTL)
        lock.acquire()
        try:
            current = state[0]
            found = current.setdefault(stored, claim)
            if found is claim:
                older = state[1].get(stored)
                if older is not None and abs(older) > now():
                    del current[stored]  # live in the previous generation
                    return None
                room = state[2] - 1
                if room <= 0:  # rotate: the previous generation is dropped whole
                    state[:] = [{}, current, half]
                else:
                    state[2] = room
                return stored, claim
            if abs(found) > now():
                return None  # claimed or done
            current[stored] = claim  # expired: taken over
            return stored, claim
        finally:
            lock.release()

    def finish(held: Claim) -> None:
        stored, claim = held
        expiry = now() + DONE_TTL
        lock.acquire()
        try:
            current = state[0]
            if current.get(stored) is claim:
                current[stored] = expiry
            elif state[1].get(stored) is claim:  # rotated meanwhile: in the previous one
                state[1][stored] = expiry
        finally:
            lock.release()

    return hold, finish


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
