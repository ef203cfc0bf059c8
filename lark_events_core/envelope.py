"""Classification of a decrypted body (PROTOCOL.md §2): what it is, its type and its token."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _json
from .errors import BadRequest
from .events import LEGACY_CARD_TYPE
from .events._model import slot_constructor
from .events.base import EventHeader, Kind

__all__ = ["CALLBACK_TYPES", "Envelope", "classify", "parse_object"]

# Enum members as module constants: a class attribute lookup on an Enum costs ~0.1 us,
# and these are read several times per request.
_URL_VERIFICATION = Kind.URL_VERIFICATION
_CALLBACK = Kind.CALLBACK
_EVENT_V2 = Kind.EVENT_V2
_EVENT_V1 = Kind.EVENT_V1
_LEGACY_CARD = Kind.LEGACY_CARD

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
    return value if type(value) is str else None


# Classification runs on every request: build these two without the frozen __setattr__.
_header = EventHeader  # a Struct: its C __init__ takes the fields positionally
_envelope = slot_constructor(Envelope)
_NO_HEADER = EventHeader()


def classify(
    payload: Mapping[str, Any],
    *,
    card_endpoint: bool = False,
    callback_types: frozenset[str] = CALLBACK_TYPES,
) -> Envelope:
    """Classify a decrypted body: URL verification, v2 event or callback, v1 event, legacy card."""
    get = payload.get
    if get("type") == "url_verification":
        challenge = get("challenge")
        if type(challenge) is not str:
            raise BadRequest("url_verification without a challenge string")
        token = _str(get("token"))
        return _envelope(
            _URL_VERIFICATION, "url_verification", _NO_HEADER, payload, token, challenge
        )
    if "schema" in payload:
        header = get("header")
        if type(header) is not dict and not isinstance(header, Mapping):
            raise BadRequest("v2 body without a header object")
        h = header.get
        event_type = h("event_type")
        if type(event_type) is not str or not event_type:
            raise BadRequest("v2 body without header.event_type")
        # Inline ``type(v) is str`` checks: this runs on every event, a call per field adds up.
        token = h("token")
        event_id = h("event_id")
        create_time = h("create_time")
        app_id = h("app_id")
        tenant_key = h("tenant_key")
        hdr = _header(
            event_id if type(event_id) is str else None,
            event_type,
            create_time if type(create_time) is str else None,
            token if type(token) is str else None,
            app_id if type(app_id) is str else None,
            tenant_key if type(tenant_key) is str else None,
        )
        if type(token) is not str:
            token = None
        kind = _CALLBACK if event_type in callback_types else _EVENT_V2
        return _envelope(kind, event_type, hdr, payload, token, None)
    if "uuid" in payload or get("type") == "event_callback":
        event = get("event")
        if type(event) is not dict and not isinstance(event, Mapping):
            raise BadRequest("v1 body without an event object")
        event_type = event.get("type")
        if type(event_type) is not str or not event_type:
            raise BadRequest("v1 body without event.type")
        token = _str(get("token"))
        hdr = _header(
            _str(get("uuid")),
            event_type,
            _str(get("ts")),
            token,
            _str(event.get("app_id")),
            _str(event.get("tenant_key")),
        )
        return _envelope(_EVENT_V1, event_type, hdr, payload, token, None)
    if card_endpoint and isinstance(get("action"), Mapping):
        hdr = _header(
            None, LEGACY_CARD_TYPE, None, None, _str(get("app_id")), _str(get("tenant_key"))
        )
        # The legacy card's ``token`` is a card-update credential, not the verification token:
        # its authenticity comes from the SHA-1 signature instead.
        return _envelope(_LEGACY_CARD, LEGACY_CARD_TYPE, hdr, payload, None, None)
    raise BadRequest("unrecognised body")
