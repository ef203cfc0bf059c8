"""Classification of a decrypted body (PROTOCOL.md §2): what it is, its type and its token.

A v2 event or callback (nearly every request) is decoded and classified in one msgspec pass
(:func:`decode_plaintext`): its header straight into :class:`EventHeader`, its ``event`` object
kept as raw JSON for the typed model to decode from, and the whole body parsed into a ``dict``
only when something asks for :attr:`Envelope.payload`. Anything that pass does not take (URL
verification, v1 events, legacy cards, a field of an unexpected type, invalid JSON) goes through
:func:`parse_object` and :func:`classify`, which name the problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from . import _json
from .errors import BadRequest
from .events import LEGACY_CARD_TYPE
from .events.base import UNPARSED, EventHeader, Kind

__all__ = ["CALLBACK_TYPES", "Envelope", "classify", "decode_plaintext", "parse_object"]

# Enum members as module constants: a class attribute lookup on an Enum costs ~0.1 us,
# and these are read several times per request.
_URL_VERIFICATION = Kind.URL_VERIFICATION
_CALLBACK = Kind.CALLBACK
_EVENT_V2 = Kind.EVENT_V2
_EVENT_V1 = Kind.EVENT_V1
_LEGACY_CARD = Kind.LEGACY_CARD

#: v2 types that are callbacks: answered with a body, never deduplicated by default.
CALLBACK_TYPES = frozenset({"card.action.trigger", "url.preview.get"})

_UNSET: Any = UNPARSED  # the payload, not parsed yet: shared with Event


class Envelope(msgspec.Struct, frozen=True, gc=False):
    """A classified plaintext body (immutable; ``gc=False``: it holds no reference cycles).

    :attr:`payload` is the whole body as a ``dict``; after the one-pass decoding it is parsed
    from :attr:`raw` on first access. :attr:`source` is the ``event`` object as raw JSON
    (a :class:`msgspec.Raw`) when the one-pass decoding classified the body, else ``None``.
    """

    kind: Kind
    type: str
    header: EventHeader
    _payload: Any  # the payload, or UNPARSED (then parsed from raw)
    token: str | None = None
    challenge: str | None = None
    raw: bytes | None = None
    source: msgspec.Raw | None = None

    @property
    def payload(self) -> Mapping[str, Any]:
        """The whole decrypted body (parsed from :attr:`raw` on first access)."""
        payload = self._payload
        if payload is _UNSET:
            payload = _json.decode_object(self.raw or b"")
            _SET_PAYLOAD(self, payload)
        result: Mapping[str, Any] = payload
        return result

    def __repr__(self) -> str:
        # No payload and no token: they hold the verification token and user data.
        return (
            f"Envelope(kind={self.kind!r}, type={self.type!r}, header={self.header!r}, "
            f"challenge={self.challenge!r})"
        )


_SET_PAYLOAD = vars(Envelope)["_payload"].__set__
_envelope = Envelope  # its C __init__ takes the fields positionally


class _Body(msgspec.Struct, gc=False):
    """What the one-pass decoding reads of a plaintext; any other field is skipped unparsed.

    ``schema`` and ``header`` are required: a body without them (or with a ``null`` header)
    fails the decoding, which declines it as the checks after it would.
    """

    schema: msgspec.Raw  # only its presence counts, as in classify()
    header: EventHeader
    encrypt: msgspec.Raw = msgspec.Raw()  # present: an encrypted body, not a plaintext
    type: str | None = None
    event: msgspec.Raw = msgspec.Raw()


_decode_body = msgspec.json.Decoder(_Body).decode


def decode_plaintext(
    plaintext: bytes, callback_types: frozenset[str] = CALLBACK_TYPES
) -> Envelope | None:
    """A v2 event or callback classified in one msgspec pass; ``None``: take the general path.

    It gives what ``classify(parse_object(plaintext))`` gives, or ``None`` whenever that could
    differ: the header's fields must be strings or ``null`` (msgspec decodes strictly), the text
    valid UTF-8, ``type`` not ``url_verification``. (One difference by design: a number out of
    range (``1e999``) in a field the pass skips is accepted, as the stdlib parser accepts it,
    where orjson refuses the whole body.)
    """
    try:
        body = _decode_body(plaintext)
        if not plaintext.isascii():
            plaintext.decode()  # the parts msgspec skips unparsed must be valid UTF-8 too
    except _json.DECODE_FAILURES:
        return None
    if body.encrypt or body.type == "url_verification":
        return None
    header = body.header
    event_type = header.event_type
    if not event_type:
        return None
    kind = _CALLBACK if event_type in callback_types else _EVENT_V2
    event = body.event
    return Envelope(
        kind, event_type, header, _UNSET, header.token, None, plaintext, event if event else None
    )


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


_header = EventHeader  # a Struct: its C __init__ takes the fields positionally
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
