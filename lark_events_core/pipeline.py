"""The request pipeline as plain functions: raw request in, authenticated plaintext out.

``bytes + headers → method/size → signature over the raw bytes → decrypt → classify → token``.
Each step raises the :mod:`~lark_events_core.errors` exception for its failure; nothing here does
I/O or calls a handler, so every step can be tested alone and reused (long connection, CLI).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import msgspec

from . import _json
from ._secrets import Secret, matches_any
from .envelope import CALLBACK_TYPES, Envelope, classify, decode_plaintext, parse_object
from .errors import (
    AuthenticationError,
    BadRequest,
    ConfigurationError,
    DecryptionError,
    MethodNotAllowed,
    PayloadTooLarge,
)
from .events._model import hiding_repr
from .events.base import Kind
from .http import Request
from .settings import SecretInput, Settings
from .signature import matching_secret

__all__ = [
    "EncryptKeyMissing",
    "ParsedRequest",
    "Signed",
    "challenge_body",
    "check_size_and_method",
    "check_token",
    "decrypt_body",
    "decrypt_event",
    "parse_req",
    "parse_request",
    "verify_signature",
]

# Enum members as module constants: a class attribute lookup on an Enum costs ~0.1 us,
# and these are read several times per request.
_LEGACY_CARD = Kind.LEGACY_CARD
_URL_VERIFICATION = Kind.URL_VERIFICATION


class EncryptKeyMissing(ConfigurationError):
    """An encrypted body arrived but no Encrypt Key is configured (500: fix the configuration)."""


class Signed(msgspec.Struct, frozen=True):
    """Which scheme and secret a request's signature matched; ``None`` fields: unsigned."""

    # "event" (SHA-256, Encrypt Key), "card" (SHA-1, token), or "unchecked" (card endpoint,
    # no token configured: a legacy card signature that cannot be checked).
    scheme: str | None = None
    secret: Secret | None = None

    __repr__ = hiding_repr("secret")


class ParsedRequest(msgspec.Struct, frozen=True):
    """An authenticated, decrypted, classified request: what Go's ``ParseReq`` returns and more."""

    envelope: Envelope
    plaintext: bytes  # holds the token and user data: not in the repr
    request_id: str | None = None

    __repr__ = hiding_repr("plaintext")


_UNSIGNED = Signed()  # frozen: one for every unsigned request


def check_size_and_method(request: Request, settings: Settings) -> None:
    """405 for anything but POST, 413 over the size limit."""
    if request.method != "POST":
        raise MethodNotAllowed()
    if len(request.body) > settings.max_body_bytes:
        raise PayloadTooLarge()


def verify_signature(request: Request, settings: Settings, *, card_endpoint: bool) -> Signed:
    """Check ``X-Lark-Signature`` over the raw body when the request carries one.

    Returns which secret matched. A request without signature headers is returned as unsigned;
    whether it may be unsigned is decided after classification (URL verification is unsigned).
    """
    signature, timestamp, nonce, _ = request.headers.lark_headers()
    return _check_signature(signature, timestamp, nonce, request.body, settings, card_endpoint)


def _check_signature(
    signature: str | None,
    timestamp: str | None,
    nonce: str | None,
    body: bytes,
    settings: Settings,
    card_endpoint: bool,
) -> Signed:
    """:func:`verify_signature` of headers already read (:func:`parse_request` reads them once)."""
    if signature is None or timestamp is None or nonce is None:
        return _UNSIGNED
    keys = settings.encrypt_keys
    if not keys and not (card_endpoint and settings.verification_tokens):
        return _UNSIGNED  # nothing to check against (PROTOCOL.md §4: no key, no signature)
    secret = matching_secret(signature, timestamp, nonce, body, keys)
    tolerance = settings.timestamp_tolerance
    if secret is not None:
        if tolerance is not None:
            _check_timestamp(timestamp, tolerance)
        return Signed("event", secret)
    if card_endpoint:
        tokens = settings.verification_tokens
        secret = matching_secret(signature, timestamp, nonce, body, tokens, legacy_card=True)
        if secret is not None:
            if tolerance is not None:
                _check_timestamp(timestamp, tolerance)
            return Signed("card", secret)
        if not tokens:
            # A legacy card is signed with the verification token, which is not configured:
            # its signature cannot be checked (§5). Only a legacy card may pass like this.
            return Signed("unchecked")
    raise AuthenticationError("signature mismatch")


def _check_timestamp(timestamp: str, tolerance: float) -> None:
    try:
        sent = float(timestamp)
    except ValueError:
        raise AuthenticationError("timestamp is not a number") from None
    if not abs(time.time() - sent) <= tolerance:
        raise AuthenticationError("timestamp outside the allowed window")


def decrypt_body(
    outer: Mapping[str, Any], settings: Settings, signed: Signed
) -> tuple[bytes, dict[str, Any]] | None:
    """Decrypt ``{"encrypt": ...}`` to its bytes and object; ``None`` when it is not encrypted.

    With several keys (rotation), the key that signed the request is used; for an unsigned request
    (URL verification) each key is tried and the first that yields a JSON object wins.
    """
    decrypted = _decrypt_outer(outer, settings, signed, CALLBACK_TYPES)
    if decrypted is None:
        return None
    plaintext, parsed = decrypted
    return plaintext, dict(parsed.payload) if isinstance(parsed, Envelope) else parsed


def _decrypt_outer(
    outer: Mapping[str, Any], settings: Settings, signed: Signed, callback_types: frozenset[str]
) -> tuple[bytes, Envelope | dict[str, Any]] | None:
    """:func:`_decrypt` of an outer object's ``encrypt`` string; ``None`` when it has none."""
    if "encrypt" not in outer:
        return None
    encrypted = outer["encrypt"]
    if not isinstance(encrypted, str):
        raise BadRequest("encrypt is not a string")
    return _decrypt(encrypted, settings, signed, callback_types)


def _decrypt(
    encrypted: str | bytes,
    settings: Settings,
    signed: Signed,
    callback_types: frozenset[str] = CALLBACK_TYPES,
) -> tuple[bytes, Envelope | dict[str, Any]]:
    """Decrypt the ``encrypt`` value (a base64 ``str``, or ``bytes`` already base64-decoded)
    with the right key, and decode the plaintext: a v2 event or callback straight to its
    :class:`Envelope` in one pass, anything else to the ``dict`` to classify."""
    pairs = settings.ciphers
    if not pairs:
        raise EncryptKeyMissing("an encrypted request arrived but no encrypt_key is configured")
    # With several keys (rotation), the one that signed the request, or each in turn when none
    # did (URL verification is unsigned). One key: that one, whether it signed or not.
    if len(pairs) > 1:
        secret = signed.secret
        pairs = tuple(pair for pair in pairs if pair[0] is secret) or pairs
    for _, cipher in pairs:
        try:
            if isinstance(encrypted, str):
                plaintext = cipher.decrypt(encrypted)
            else:
                plaintext = cipher.decrypt_raw(encrypted)
            envelope = decode_plaintext(plaintext, callback_types)
            return plaintext, parse_object(plaintext) if envelope is None else envelope
        except BadRequest:
            continue
    # One answer for every failure (bad base64, length, padding, or a plaintext that is not a
    # JSON object): distinct answers would be a padding oracle on unsigned requests.
    raise DecryptionError()


def check_token(envelope: Envelope, settings: Settings) -> None:
    """Compare the verification token in constant time whenever one is configured (§6)."""
    tokens = settings.verification_tokens
    if not tokens or envelope.kind is _LEGACY_CARD:
        return
    token = envelope.token
    if token is None:
        raise AuthenticationError("verification token missing")
    if not matches_any(tokens, token):  # each compared, no early exit: see matches_any
        raise AuthenticationError("verification token mismatch")


def _require_signature(envelope: Envelope, settings: Settings, signed: Signed) -> None:
    kind = envelope.kind
    if kind is _URL_VERIFICATION:
        return  # the platform sends URL verification unsigned
    if kind is _LEGACY_CARD:
        if signed.scheme == "event":
            raise AuthenticationError("legacy card callback signed with the wrong scheme")
        if settings.verification_tokens and signed.scheme != "card":
            raise AuthenticationError("signature headers missing")
        return
    if signed.scheme == "card":
        raise AuthenticationError("event signed with the wrong scheme")
    if signed.scheme == "unchecked":
        raise AuthenticationError("signature mismatch")
    if settings.encrypt_keys and signed.scheme != "event":
        raise AuthenticationError("signature headers missing")


def parse_request(
    request: Request,
    settings: Settings,
    *,
    card_endpoint: bool = False,
    callback_types: frozenset[str] = CALLBACK_TYPES,
) -> ParsedRequest:
    """Run the whole pipeline up to (not including) dispatch. Raises on any failure."""
    check_size_and_method(request, settings)
    body = request.body
    signature, timestamp, nonce, request_id = request.headers.lark_headers()
    signed = _check_signature(signature, timestamp, nonce, body, settings, card_endpoint)
    # With an Encrypt Key, msgspec decodes the outer JSON and the base64 in one pass; anything
    # that pass does not accept takes the general path, which names it.
    # A v2 plaintext is decoded and classified in one msgspec pass (decode_plaintext); anything
    # else is parsed to a dict and classified.
    raw = _json.encrypted_bytes(body) if settings.ciphers else None
    decoded: Envelope | dict[str, Any] | None
    if raw is not None:
        plaintext, decoded = _decrypt(raw, settings, signed, callback_types)
    else:
        plaintext, decoded = body, decode_plaintext(body, callback_types)  # not encrypted
        if decoded is None:
            outer = parse_object(body)
            decrypted = _decrypt_outer(outer, settings, signed, callback_types)
            plaintext, decoded = (body, outer) if decrypted is None else decrypted
    if isinstance(decoded, Envelope):
        envelope = decoded
    else:
        envelope = classify(decoded, card_endpoint=card_endpoint, callback_types=callback_types)
    _require_signature(envelope, settings, signed)
    check_token(envelope, settings)
    return ParsedRequest(envelope, plaintext, request_id)


def challenge_body(envelope: Envelope) -> bytes:
    """``{"challenge": ...}``, JSON-escaped whatever the challenge holds."""
    return _json.dumps({"challenge": envelope.challenge})


def decrypt_event(
    body: bytes | str | Mapping[str, Any], encrypt_key: SecretInput
) -> dict[str, Any]:
    """The plaintext event object of a body, decrypting ``{"encrypt": ...}`` (Go: ``DecryptEvent``).

    No signature or token is checked: use :func:`parse_req` for that.
    """
    outer = body if isinstance(body, Mapping) else parse_object(body)
    decrypted = decrypt_body(outer, Settings.build(encrypt_key), Signed())
    return dict(outer) if decrypted is None else decrypted[1]


def parse_req(
    request: Request,
    *,
    encrypt_key: SecretInput = None,
    verification_token: SecretInput = None,
    card_endpoint: bool = False,
) -> ParsedRequest:
    """Authenticate, decrypt and classify a request without dispatching it (Go: ``ParseReq``)."""
    settings = Settings.build(encrypt_key, verification_token)
    return parse_request(request, settings, card_endpoint=card_endpoint)
