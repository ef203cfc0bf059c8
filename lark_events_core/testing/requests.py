"""Build request bodies the way the platform does, then encrypt and sign them."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._secrets import Secret
from ..crypto import encrypt as _encrypt
from ..http import Request
from ..signature import (
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    card_signature,
    event_signature,
)

__all__ = [
    "SignedRequest",
    "make_challenge",
    "make_event",
    "make_legacy_card",
    "make_v1_event",
    "sign_event",
    "sign_legacy_card",
]


@dataclass(frozen=True)
class SignedRequest:
    """A ready request: POST ``body`` with ``headers`` to the endpoint."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    #: True for a legacy card callback, which goes to the card request URL.
    card: bool = False
    #: The event's ``event_id`` (v1: ``uuid``) when the builder knows it, for display and logs.
    event_id: str | None = None

    def as_request(self, path: str = "/") -> Request:
        """The core's :class:`~lark_events_core.http.Request` for the same bytes."""
        return Request.build(self.method, self.headers, self.body, path)


def _ms_now() -> str:
    return str(int(time.time() * 1000))


def make_event(
    event_type: str,
    event: Mapping[str, Any] | None = None,
    *,
    token: str | None = None,
    event_id: str | None = None,
    app_id: str = "cli_test_app",
    tenant_key: str = "tenant_test",
    create_time: str | None = None,
) -> dict[str, Any]:
    """A v2 ("schema 2.0") event or callback body."""
    header: dict[str, Any] = {
        "event_id": event_id or uuid.uuid4().hex,
        "event_type": event_type,
        "create_time": create_time or _ms_now(),
        "app_id": app_id,
        "tenant_key": tenant_key,
    }
    if token is not None:
        header["token"] = token
    return {"schema": "2.0", "header": header, "event": dict(event or {})}


def make_v1_event(
    event_type: str,
    event: Mapping[str, Any] | None = None,
    *,
    token: str | None = None,
    event_uuid: str | None = None,
    app_id: str = "cli_test_app",
    tenant_key: str | None = "tenant_test",
) -> dict[str, Any]:
    """A v1 ("event_callback") body; ``event_type`` becomes ``event.type``.

    ``event`` gets ``app_id`` and ``tenant_key``; ``tenant_key=None`` leaves it out, as the
    platform does for app-level events such as ``app_ticket``.
    """
    ids: dict[str, Any] = {"app_id": app_id}
    if tenant_key is not None:
        ids["tenant_key"] = tenant_key
    body: dict[str, Any] = {
        "uuid": event_uuid or uuid.uuid4().hex,
        "ts": f"{time.time():.7f}",
        "type": "event_callback",
        "event": {**ids, **dict(event or {}), "type": event_type},
    }
    if token is not None:
        body["token"] = token
    return body


def make_challenge(challenge: str | None = None, *, token: str | None = None) -> dict[str, Any]:
    """The URL-verification body the developer console sends when a request URL is saved."""
    body: dict[str, Any] = {
        "challenge": challenge or secrets.token_hex(8),
        "type": "url_verification",
    }
    if token is not None:
        body["token"] = token
    return body


def make_legacy_card(
    action: Mapping[str, Any] | None = None,
    *,
    open_id: str = "ou_test_user",
    user_id: str = "test_user",
    tenant_key: str = "tenant_test",
    open_message_id: str = "om_test_message",
    open_chat_id: str = "oc_test_chat",
    card_token: str | None = None,
) -> dict[str, Any]:
    """A legacy message-card callback body (sent to the card request URL)."""
    return {
        "open_id": open_id,
        "user_id": user_id,
        "tenant_key": tenant_key,
        "open_message_id": open_message_id,
        "open_chat_id": open_chat_id,
        "token": card_token or f"c-{uuid.uuid4().hex}",
        "action": dict(action or {"value": {}, "tag": "button"}),
    }


def _body_bytes(payload: Mapping[str, Any] | bytes | str) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign_event(
    payload: Mapping[str, Any] | bytes | str,
    *,
    encrypt_key: str | Secret | None = None,
    encrypt: bool = True,
    sign: bool = True,
    timestamp: str | None = None,
    nonce: str | None = None,
) -> SignedRequest:
    """Encrypt (when a key is given and ``encrypt``) and sign a body exactly as the platform does.

    Without an ``encrypt_key`` the body is sent plain and unsigned, as the platform does for apps
    that configured none.
    """
    plaintext = _body_bytes(payload)
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if encrypt_key is None:
        return SignedRequest(plaintext, headers)
    body = _body_bytes({"encrypt": _encrypt(plaintext, encrypt_key)}) if encrypt else plaintext
    if sign:
        ts = timestamp or str(int(time.time()))
        nn = nonce or secrets.token_hex(8)
        headers[HEADER_TIMESTAMP] = ts
        headers[HEADER_NONCE] = nn
        headers[HEADER_SIGNATURE] = event_signature(ts, nn, encrypt_key, body)
    return SignedRequest(body, headers)


def sign_legacy_card(
    payload: Mapping[str, Any] | bytes | str,
    *,
    verification_token: str | Secret | None,
    timestamp: str | None = None,
    nonce: str | None = None,
) -> SignedRequest:
    """Sign a legacy card callback with SHA-1 over timestamp + nonce + verification token + body."""
    body = _body_bytes(payload)
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if verification_token is not None:
        ts = timestamp or str(int(time.time()))
        nn = nonce or secrets.token_hex(8)
        headers[HEADER_TIMESTAMP] = ts
        headers[HEADER_NONCE] = nn
        headers[HEADER_SIGNATURE] = card_signature(ts, nn, verification_token, body)
    return SignedRequest(body, headers, card=True)
