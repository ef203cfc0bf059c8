"""Classification of a decrypted body (PROTOCOL.md §2): what it is, its type and its token."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _json
from .errors import BadRequest
from .events import LEGACY_CARD_TYPE
from .events.base import EventHeader, Kind

__all__ = ["CALLBACK_TYPES", "Envelope", "classify", "parse_object"]

#: v2 types that are callbacks: answered with a body, never deduplicated by default.
CALLBACK_TYPES = frozenset({"card.action.trigger", "url.preview.get"})


@dataclass(frozen=True, slots=True)
class Envelope:
    """A classified plaintext body."""

    kind: Kind
    type: str
    header: EventHeader
    payload: Mapping[str, Any] = field(repr=False)  # holds the token and user data
    token: str | None = field(default=None, repr=False)
    challenge: str | None = None


def parse_object(data: bytes | str) -> dict[str, Any]:
    """Parse a JSON object; anything else (empty, not JSON, an array) is a :class:`BadRequest`."""
    if not data:
        raise BadRequest("empty body")
    try:
        value = _json.loads(data)
    except _json.JSONDecodeError:
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(value, dict):
        raise BadRequest("body is not a JSON object")
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def classify(
    payload: Mapping[str, Any],
    *,
    card_endpoint: bool = False,
    callback_types: frozenset[str] = CALLBACK_TYPES,
) -> Envelope:
    """Classify a decrypted body: URL verification, v2 event or callback, v1 event, legacy card."""
    if payload.get("type") == "url_verification":
        challenge = payload.get("challenge")
        if not isinstance(challenge, str):
            raise BadRequest("url_verification without a challenge string")
        return Envelope(
            kind=Kind.URL_VERIFICATION,
            type="url_verification",
            header=EventHeader(),
            payload=payload,
            token=_str(payload.get("token")),
            challenge=challenge,
        )
    if "schema" in payload:
        header = payload.get("header")
        if not isinstance(header, Mapping):
            raise BadRequest("v2 body without a header object")
        event_type = _str(header.get("event_type"))
        if not event_type:
            raise BadRequest("v2 body without header.event_type")
        hdr = EventHeader(
            event_id=_str(header.get("event_id")),
            event_type=event_type,
            create_time=_str(header.get("create_time")),
            token=_str(header.get("token")),
            app_id=_str(header.get("app_id")),
            tenant_key=_str(header.get("tenant_key")),
        )
        kind = Kind.CALLBACK if event_type in callback_types else Kind.EVENT_V2
        return Envelope(kind=kind, type=event_type, header=hdr, payload=payload, token=hdr.token)
    if "uuid" in payload or payload.get("type") == "event_callback":
        event = payload.get("event")
        if not isinstance(event, Mapping):
            raise BadRequest("v1 body without an event object")
        event_type = _str(event.get("type"))
        if not event_type:
            raise BadRequest("v1 body without event.type")
        token = _str(payload.get("token"))
        hdr = EventHeader(
            event_id=_str(payload.get("uuid")),
            event_type=event_type,
            create_time=_str(payload.get("ts")),
            token=token,
            app_id=_str(event.get("app_id")),
            tenant_key=_str(event.get("tenant_key")),
        )
        return Envelope(
            kind=Kind.EVENT_V1, type=event_type, header=hdr, payload=payload, token=token
        )
    if card_endpoint and isinstance(payload.get("action"), Mapping):
        hdr = EventHeader(
            event_type=LEGACY_CARD_TYPE,
            app_id=_str(payload.get("app_id")),
            tenant_key=_str(payload.get("tenant_key")),
        )
        # The legacy card's ``token`` is a card-update credential, not the verification token:
        # its authenticity comes from the SHA-1 signature instead.
        return Envelope(kind=Kind.LEGACY_CARD, type=LEGACY_CARD_TYPE, header=hdr, payload=payload)
    raise BadRequest("unrecognised body")
