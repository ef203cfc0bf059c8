"""The envelope every handler receives: :class:`Event`, typed or not."""

from __future__ import annotations

import builtins
import enum
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import msgspec

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
    (a frozen dataclass for the types lark-events knows, the raw ``dict`` otherwise), built on first
    access. :attr:`raw` is the plaintext JSON exactly as received, for other libraries' models.
    """

    __slots__ = ("_body", "_model", "header", "kind", "payload", "raw", "request_id", "type")

    kind: Kind
    type: str
    header: EventHeader
    payload: Mapping[str, Any]
    raw: bytes
    request_id: str | None
    _model: builtins.type[T] | None
    _body: Any

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
        # One Event per request: fill the slots through their descriptors, which is cheaper
        # than object.__setattr__ by name (this class refuses plain attribute assignment).
        (
            set_kind,
            set_type,
            set_header,
            set_payload,
            set_raw,
            set_request_id,
            set_model,
            set_body,
        ) = _EVENT_SLOT_SETTERS
        set_kind(self, kind)
        set_type(self, type)
        set_header(self, header)
        set_payload(self, payload)
        set_raw(self, raw)
        set_request_id(self, request_id)
        set_model(self, model)
        set_body(self, _UNSET)

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
    def data(self) -> Mapping[str, Any]:
        """The raw ``event`` object (the whole body for legacy card callbacks)."""
        if self.kind is Kind.LEGACY_CARD:
            return self.payload
        inner = self.payload.get("event")
        return inner if type(inner) is dict or isinstance(inner, Mapping) else {}

    @property
    def event(self) -> T:
        """The typed body, built once on first access."""
        body = self._body
        if body is _UNSET:
            model = self._model
            body = self.data if model is None else from_dict(model, self.data)
            object.__setattr__(self, "_body", body)
        result: T = body
        return result

    def __repr__(self) -> str:
        return (
            f"Event(type={self.type!r}, event_id={self.event_id!r}, "
            f"tenant_key={self.tenant_key!r}, app_id={self.app_id!r})"
        )


_UNSET: Any = object()
_EVENT_SLOT_SETTERS: tuple[Any, ...] = tuple(
    vars(Event)[name].__set__
    for name in ("kind", "type", "header", "payload", "raw", "request_id", "_model", "_body")
)


def _make_event_builder() -> Any:
    # A positional builder generated like the model builders: one Event per request, and
    # binding seven keyword arguments through __init__ costs more than filling the slots.
    setters = dict(zip(("K", "T", "H", "P", "R", "I", "M", "B"), _EVENT_SLOT_SETTERS, strict=True))
    namespace: dict[str, Any] = {"new": object.__new__, "cls": Event, "UNSET": _UNSET, **setters}
    source = (
        "def new_event(kind, type, header, payload, raw, request_id, model):\n"
        "    e = new(cls)\n"
        "    K(e, kind); T(e, type); H(e, header); P(e, payload)\n"
        "    R(e, raw); I(e, request_id); M(e, model); B(e, UNSET)\n"
        "    return e\n"
    )
    exec(source, namespace)  # noqa: S102 - our own generated code
    return namespace["new_event"]


#: ``new_event(kind, type, header, payload, raw, request_id, model)``: an :class:`Event`, fast.
new_event: Callable[
    [Kind, str, EventHeader, Mapping[str, Any], bytes, str | None, builtins.type[Any] | None],
    Event[Any],
] = _make_event_builder()
