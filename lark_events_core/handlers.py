"""Registered handlers, the registry that holds them, and one prepared call of a handler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from time import monotonic
from typing import Any, TypeVar, overload

from . import _invoke
from ._log import logger, safe
from .errors import ConfigurationError
from .events import LEGACY_CARD_TYPE, MODELS
from .events.base import Event

__all__ = [
    "PLATFORM_DEADLINE",
    "Handler",
    "HandlerCall",
    "HandlerRegistry",
    "Registrar",
    "ainvoke",
    "invoke",
]

F = TypeVar("F", bound=Callable[..., Any])

#: The platform counts a push as failed when it is not answered within this many seconds.
PLATFORM_DEADLINE = 3.0


@dataclass(frozen=True, slots=True)
class Handler:
    """A registered handler and how to call it."""

    event_type: str
    fn: Callable[[Any], Any]
    is_async: bool
    model: type[Any] | None
    callback: bool
    deferred: bool = False


@dataclass(slots=True)
class HandlerCall:
    """One handler call prepared by :meth:`Dispatcher.prepare`: the handler, its event, its key.

    ``owner`` is the token of the deduplication claim this call holds (``None``: no claim).
    """

    handler: Handler
    event: Event[Any]
    dedup_key: str | None = None
    owner: str | None = None
    #: Observer bookkeeping (:mod:`.observe`): the observer's token, the start time, an outcome
    #: decided before the answer (``duplicate``), and whether this process counted it as queued.
    trace: object = None
    started: float = 0.0
    outcome: str | None = None
    queued: bool = False

    @property
    def claimed(self) -> bool:
        """Whether this call holds a deduplication claim that must be settled."""
        return self.owner is not None


class HandlerRegistry:
    """One handler per plain event type, and which types are callbacks.

    ``callback_types`` grows when a custom type is registered with ``callback=True``; the
    dispatcher classifies requests with it.
    """

    __slots__ = ("by_type", "callback_types", "defer")

    def __init__(self, callback_types: frozenset[str], *, defer: bool) -> None:
        self.by_type: dict[str, Handler] = {}
        self.callback_types = callback_types
        self.defer = defer

    def register(
        self,
        event_type: str,
        fn: Callable[[Any], Any],
        *,
        model: type[Any] | None = None,
        callback: bool | None = None,
        deferred: bool | None = None,
    ) -> Handler:
        """Validate and add a handler; a second handler for one type is an error."""
        if not isinstance(event_type, str) or not event_type:
            raise ConfigurationError("event_type must be a non-empty string")
        if not callable(fn):
            raise ConfigurationError("a handler must be callable")
        if event_type in self.by_type:
            raise ConfigurationError(f"a handler for {event_type!r} is already registered")
        is_callback = (
            bool(callback) or event_type in self.callback_types or event_type == LEGACY_CARD_TYPE
        )
        if is_callback and deferred:
            raise ConfigurationError(
                f"{event_type!r} is a callback: its answer is the handler's result, so it cannot "
                "be deferred (callback_deadline answers slow callbacks with a fallback instead)"
            )
        if callback:
            self.callback_types = self.callback_types | {event_type}
        handler = Handler(
            event_type=event_type,
            fn=fn,
            is_async=_invoke.is_async_callable(fn),
            model=model if model is not None else MODELS.get(event_type),
            callback=is_callback,
            deferred=not is_callback and (self.defer if deferred is None else deferred),
        )
        self.by_type[event_type] = handler
        return handler


class Registrar:
    """The registration API of :class:`~lark_events_core.Dispatcher`, over its registry."""

    _registry: HandlerRegistry

    @property
    def callback_types(self) -> frozenset[str]:
        """The v2 types answered with their handler's result (built-in plus custom ones)."""
        return self._registry.callback_types

    @property
    def defer(self) -> bool:
        """Whether event handlers run after the response unless registered otherwise."""
        return self._registry.defer

    # -- registration -----------------------------------------------------------------------

    @overload
    def on(
        self,
        event_type: str,
        fn: F,
        *,
        model: type[Any] | None = ...,
        callback: bool | None = ...,
        deferred: bool | None = ...,
    ) -> F: ...

    @overload
    def on(
        self,
        event_type: str,
        fn: None = ...,
        *,
        model: type[Any] | None = ...,
        callback: bool | None = ...,
        deferred: bool | None = ...,
    ) -> Callable[[F], F]: ...

    def on(
        self,
        event_type: str,
        fn: F | None = None,
        *,
        model: type[Any] | None = None,
        callback: bool | None = None,
        deferred: bool | None = None,
    ) -> F | Callable[[F], F]:
        """Register ``fn`` for the plain ``event_type``; usable as ``@dispatcher.on("type")``.

        ``model`` overrides the typed body (a dataclass) for custom or newer types; ``callback``
        marks a custom type as a callback (answered with the handler's result); ``deferred``
        runs the handler after the 200 answer (default: the dispatcher's ``defer``).
        """

        def register(func: F) -> F:
            self.register(event_type, func, model=model, callback=callback, deferred=deferred)
            return func

        return register if fn is None else register(fn)

    def register(
        self,
        event_type: str,
        fn: Callable[[Any], Any],
        *,
        model: type[Any] | None = None,
        callback: bool | None = None,
        deferred: bool | None = None,
    ) -> Handler:
        """Register ``fn`` for ``event_type``; a second handler for one type is an error."""
        return self._registry.register(
            event_type, fn, model=model, callback=callback, deferred=deferred
        )

    def on_legacy_card(self, fn: F) -> F:
        """Register the handler of legacy message-card callbacks (the card request URL)."""
        self.register(LEGACY_CARD_TYPE, fn)
        return fn

    def handler_for(self, event_type: str) -> Handler | None:
        """The handler registered for ``event_type``, if any."""
        return self._registry.by_type.get(event_type)

    @property
    def event_types(self) -> frozenset[str]:
        """The types that have a handler."""
        return frozenset(self._registry.by_type)


def invoke(call: HandlerCall, slow_after: float | None) -> Any:
    """Call the handler from a thread; warn when it takes longer than ``slow_after`` seconds."""
    handler = call.handler
    if slow_after is None:
        return _invoke.call_sync(handler.fn, handler.is_async, call.event)
    start = monotonic()
    try:
        return _invoke.call_sync(handler.fn, handler.is_async, call.event)
    finally:
        elapsed = monotonic() - start
        if elapsed > slow_after:
            _warn_slow(call, elapsed)


async def ainvoke(call: HandlerCall, slow_after: float | None, pool: Any = None) -> Any:
    """Call the handler from a coroutine (a sync one in a thread of ``pool``, default: the loop's
    executor); warn when it is slow. A sync handler is timed in its thread, so the time it waited
    for a free thread does not count against it."""
    handler = call.handler
    if not handler.is_async:
        return await _invoke.call_async(lambda _: invoke(call, slow_after), False, None, pool)
    if slow_after is None:
        return await handler.fn(call.event)
    start = monotonic()
    try:
        return await handler.fn(call.event)
    finally:
        elapsed = monotonic() - start
        if elapsed > slow_after:
            _warn_slow(call, elapsed)


def _warn_slow(call: HandlerCall, elapsed: float) -> None:
    logger.warning(
        "handler for %s took %.1fs, over the platform's %.0fs deadline: the platform "
        "counts the push as failed and sends it again; consider deferred=True "
        "(event_id=%s, request_id=%s)",
        safe(call.event.type),
        elapsed,
        PLATFORM_DEADLINE,
        safe(call.event.event_id),
        safe(call.event.request_id),
    )
