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


class EventHeader(msgspec.Struct, frozen=True):
    """The v2 ``header`` object; for v1 events it is filled from ``uuid``, ``ts`` and ``event``."""

    event_id: str | None = None
    event_type: str | None = None
    create_time: str | None = None
    token: str | None = None
    app_id: str | None = None
    tenant_key: str | None = None

    __repr__ = hiding_repr("token")


class Event(Generic[T]):
    """One delivered event or callback.

    Every event exposes the same header fields whatever its type; :attr:`event` is the typed body
    (a frozen :class:`msgspec.Struct` for the types lark-events knows, the raw ``dict``
    otherwise), built on first access: decoded by msgspec straight from the plaintext's ``event``
    object, or by the tolerant builder when a field has a value of another type. :attr:`raw` is
    the plaintext JSON exactly as received, for other libraries' models; :attr:`payload` and
    :attr:`data` are parsed from it on first access.
    """

    __slots__ = (
        "_body",
        "_data",
        "_model",
        "_payload",
        "_source",
        "header",
        "kind",
        "raw",
        "request_id",
        "type",
    )

    kind: Kind
    type: str
    header: EventHeader
    raw: bytes
    request_id: str | None
    _model: builtins.type[T] | None
    _body: Any
    _payload: Any
    _data: Any
    _source: Any

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
        _fill(self, kind, type, header, payload, raw, request_id, model, None)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Event is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Event is immutable")

    @property
    def event_id(self) -> str | None:
        """``header.event_id`` (v2) or ``uuid`` (v1); ``None`` for legacy card callbacks."""
        return self.header.event_id

    @property
    def event_type(self) -> str:
        """The plain event type, the dispatch key (same as :attr:`type`)."""
        return self.type

    @property
    def tenant_key(self) -> str | None:
        """The tenant the event belongs to."""
        return self.header.tenant_key

    @property
    def app_id(self) -> str | None:
        """The app the event was sent to."""
        return self.header.app_id

    @property
    def create_time(self) -> str | None:
        """``header.create_time`` (epoch ms, v2) or ``ts`` (epoch seconds, v1), as sent."""
        return self.header.create_time

    @property
    def payload(self) -> Mapping[str, Any]:
        """The whole decrypted body as a ``dict`` (parsed from :attr:`raw` on first access)."""
        payload = self._payload
        if payload is _UNSET:
            payload = _json.decode_object(self.raw)
            data = self._data
            if data is not _UNSET and type(payload.get("event")) is dict:
                payload["event"] = data  # one object, whichever was asked for first
            _SET_PAYLOAD(self, payload)
        result: Mapping[str, Any] = payload
        return result

    @property
    def data(self) -> Mapping[str, Any]:
        """The raw ``event`` object (the whole body for legacy card callbacks)."""
        data = self._data
        if data is _UNSET:
            source = self._source
            if self.kind is Kind.LEGACY_CARD:
                data = self.payload
            elif source is not None and self._payload is _UNSET:
                data = _json.decode_skipped(source)  # only the event object, not the whole body
                if type(data) is not dict:
                    data = {}
            else:
                inner = self.payload.get("event")
                data = inner if type(inner) is dict or isinstance(inner, Mapping) else {}
            _SET_DATA(self, data)
        result: Mapping[str, Any] = data
        return result

    @property
    def event(self) -> T:
        """The typed body, built once on first access."""
        body = self._body
        if body is _UNSET:
            model = self._model
            if model is None:
                body = self.data
            else:
                source = self._source
                decode = None if source is None else _DECODERS.get(model) or _decoder(model)
                if decode is not None:
                    try:
                        body = decode(source)
                    except _DecodeError:  # a field of another type: the tolerant builder
                        body = from_dict(model, self.data)
                else:
                    body = from_dict(model, self.data)
            _SET_BODY(self, body)
        result: T = body
        return result

    def __repr__(self) -> str:
        return (
            f"Event(type={self.type!r}, event_id={self.event_id!r}, "
            f"tenant_key={self.tenant_key!r}, app_id={self.app_id!r})"
        )


_UNSET: Any = object()
#: An :class:`Event` or ``Envelope`` payload not parsed yet (it is parsed from the plaintext).
UNPARSED = _UNSET
_Struct = msgspec.Struct
_DecodeError = (msgspec.DecodeError, RecursionError, ValueError)
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


_SLOTS = (
    "kind",
    "type",
    "header",
    "_payload",
    "raw",
    "request_id",
    "_model",
    "_source",
    "_body",
    "_data",
)
_SETTERS = {name: vars(Event)[name].__set__ for name in _SLOTS}
_SET_PAYLOAD = _SETTERS["_payload"]
_SET_DATA = _SETTERS["_data"]
_SET_BODY = _SETTERS["_body"]


def _make_event_builder() -> Any:
    # A positional builder generated like the model builders: one Event per request, and
    # binding keyword arguments through __init__ costs more than filling the slots.
    namespace: dict[str, Any] = {"new": object.__new__, "cls": Event, "UNSET": _UNSET}
    namespace.update({f"S{i}": _SETTERS[n] for i, n in enumerate(_SLOTS)})
    source = (
        "def fill(e, kind, type, header, payload, raw, request_id, model, source):\n"
        "    S0(e, kind); S1(e, type); S2(e, header); S3(e, payload); S4(e, raw)\n"
        "    S5(e, request_id); S6(e, model); S7(e, source); S8(e, UNSET); S9(e, UNSET)\n"
        "    return e\n"
    )
    exec(source, namespace)  # noqa: S102 - our own generated code
    return namespace["fill"]


_fill = _make_event_builder()


def new_event(
    envelope: Any, raw: bytes, request_id: str | None, model: builtins.type[Any] | None
) -> Event[Any]:
    """The :class:`Event` of a classified envelope (:class:`~lark_events_core.envelope.Envelope`),
    fast: its slots filled directly, its payload still unparsed when the envelope's is."""
    event: Event[Any] = _fill(
        _new(Event),
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
