"""The envelope every handler receives: :class:`Event`, typed or not."""

from __future__ import annotations

import builtins
import enum
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import msgspec

from .. import _json
from ._model import from_dict, hiding_repr

__all__ = ["Event", "EventHeader", "Kind"]

T = TypeVar("T")


class Kind(enum.Enum):
    """What a request turned out to be after classification (PROTOCOL.md §2)."""

    URL_VERIFICATION = "url_verification"
    EVENT_V2 = "event_v2"
    EVENT_V1 = "event_v1"
    CALLBACK = "callback"
    LEGACY_CARD = "legacy_card"

    @property
    def is_callback(self) -> bool:
        """Callbacks answer with a body and are not deduplicated by default."""
        return self in (Kind.CALLBACK, Kind.LEGACY_CARD)


class EventHeader(msgspec.Struct, frozen=True, gc=False):
    """The v2 ``header`` object; for v1 events it is filled from ``uuid``, ``ts`` and ``event``."""

    event_id: str | None = None
    event_type: str | None = None
    create_time: str | None = None
    token: str | None = None
    app_id: str | None = None
    tenant_key: str | None = None

    __repr__ = hiding_repr("token")


_UNSET: Any = object()


class _State(msgspec.Struct, eq=False):
    """What an :class:`Event` holds; ``payload`` (when not given), ``body`` and ``data`` are filled
    on first access (``_UNSET`` until then)."""

    kind: Kind
    type: str
    header: EventHeader
    payload: Any  # the payload, or _UNSET (then parsed from raw)
    raw: bytes
    request_id: str | None
    model: Any
    source: Any  # the ``event`` object as msgspec.Raw, or None
    body: Any = _UNSET
    data: Any = _UNSET


class Event(Generic[T]):
    """One delivered event or callback.

    Every event exposes the same header fields whatever its type; :attr:`event` is the typed body
    (a frozen :class:`msgspec.Struct` for the types lark-events knows, the raw ``dict``
    otherwise), built on first access: decoded by msgspec straight from the plaintext's ``event``
    object, or by the tolerant builder when a field has a value of another type. :attr:`raw` is
    the plaintext JSON exactly as received, for other libraries' models; :attr:`payload` and
    :attr:`data` are parsed from it on first access.
    """

    # One slot: the state is a Struct made by one C-level call, where filling ten slots from
    # Python cost three times as much (one Event per request). Immutable without a __setattr__
    # override: every public attribute is a read-only property and there is no __dict__, so
    # setting or deleting one raises AttributeError, and the slot is set by a plain store
    # (through an overridden __setattr__ it took a descriptor call, ~700 instructions).
    __slots__ = ("_s",)

    _s: _State

    def __init__(
        self,
        *,
        kind: Kind,
        type: str,
        header: EventHeader,
        payload: Mapping[str, Any],
        raw: bytes,
        request_id: str | None = None,
        model: builtins.type[T] | None = None,
    ) -> None:
        self._s = _State(kind, type, header, payload, raw, request_id, model, None)

    @property
    def kind(self) -> Kind:
        """What the request was classified as."""
        return self._s.kind

    @property
    def type(self) -> str:
        """The plain event type, the dispatch key."""
        return self._s.type

    @property
    def header(self) -> EventHeader:
        """The header fields (v2 ``header``; for v1 filled from ``uuid``, ``ts`` and ``event``)."""
        return self._s.header

    @property
    def raw(self) -> bytes:
        """The decrypted plaintext JSON exactly as received."""
        return self._s.raw

    @property
    def request_id(self) -> str | None:
        """The request's ``X-Tt-Logid`` or ``X-Request-Id`` header, if any."""
        return self._s.request_id

    @property
    def event_id(self) -> str | None:
        """``header.event_id`` (v2) or ``uuid`` (v1); ``None`` for legacy card callbacks."""
        return self._s.header.event_id

    @property
    def event_type(self) -> str:
        """The plain event type, the dispatch key (same as :attr:`type`)."""
        return self._s.type

    @property
    def tenant_key(self) -> str | None:
        """The tenant the event belongs to."""
        return self._s.header.tenant_key

    @property
    def app_id(self) -> str | None:
        """The app the event was sent to."""
        return self._s.header.app_id

    @property
    def create_time(self) -> str | None:
        """``header.create_time`` (epoch ms, v2) or ``ts`` (epoch seconds, v1), as sent."""
        return self._s.header.create_time

    @property
    def payload(self) -> Mapping[str, Any]:
        """The whole decrypted body as a ``dict`` (parsed from :attr:`raw` on first access)."""
        s = self._s
        payload = s.payload
        if payload is _UNSET:
            payload = _json.decode_object(s.raw)
            data = s.data
            if data is not _UNSET and type(payload.get("event")) is dict:
                payload["event"] = data  # one object, whichever was asked for first
            s.payload = payload
        result: Mapping[str, Any] = payload
        return result

    @property
    def data(self) -> Mapping[str, Any]:
        """The raw ``event`` object (the whole body for legacy card callbacks)."""
        s = self._s
        data = s.data
        if data is _UNSET:
            source = s.source
            if s.kind is Kind.LEGACY_CARD:
                data = self.payload
            elif source is not None and s.payload is _UNSET:
                data = _json.decode_skipped(source)  # only the event object, not the whole body
                if type(data) is not dict:
                    data = {}
            else:
                inner = self.payload.get("event")
                data = inner if type(inner) is dict or isinstance(inner, Mapping) else {}
            s.data = data
        result: Mapping[str, Any] = data
        return result

    @property
    def event(self) -> T:
        """The typed body, built once on first access."""
        s = self._s
        body = s.body
        if body is _UNSET:
            model = s.model
            if model is None:
                body = self.data
            else:
                source = s.source
                decode = None if source is None else _DECODERS.get(model) or _decoder(model)
                if decode is not None:
                    try:
                        body = decode(source)
                    except _json.DECODE_FAILURES:  # a field of another type: the tolerant builder
                        body = from_dict(model, self.data)
                else:
                    body = from_dict(model, self.data)
            s.body = body
        result: T = body
        return result

    def __repr__(self) -> str:
        return (
            f"Event(type={self.type!r}, event_id={self.event_id!r}, "
            f"tenant_key={self.tenant_key!r}, app_id={self.app_id!r})"
        )


#: An :class:`Event` or ``Envelope`` payload not parsed yet (it is parsed from the plaintext).
UNPARSED = _UNSET
_Struct = msgspec.Struct
_DECODERS: dict[type[Any], Callable[[Any], Any] | None] = {}


def _decoder(model: type[Any]) -> Callable[[Any], Any] | None:
    """A strict msgspec decoder into ``model`` (a Struct), made once; ``None`` for others."""
    try:
        return _DECODERS[model]
    except KeyError:
        pass
    decode: Callable[[Any], Any] | None = None
    if isinstance(model, type) and issubclass(model, _Struct):
        decode = msgspec.json.Decoder(model).decode
    _DECODERS[model] = decode
    return decode


def new_event(
    envelope: Any, raw: bytes, request_id: str | None, model: builtins.type[Any] | None
) -> Event[Any]:
    """The :class:`Event` of a classified envelope (:class:`~lark_events_core.envelope.Envelope`),
    fast: its state made in one call, its payload still unparsed when the envelope's is."""
    event: Event[Any] = _new(Event)
    event._s = _State(
        envelope.kind,
        envelope.type,
        envelope.header,
        envelope._payload,
        raw,
        request_id,
        model,
        envelope.source,
    )
    return event


_new = object.__new__
