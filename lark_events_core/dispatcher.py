"""The dispatcher: registration of handlers and one request → one response.

Sync callers (WSGI) use :meth:`Dispatcher.handle`, asyncio callers :meth:`Dispatcher.handle_async`;
both share :meth:`Dispatcher.prepare` (everything up to the handler) and :meth:`Dispatcher.finish`
(the handler's outcome → the response), so the two paths cannot drift apart.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, overload

from . import _invoke
from .dedup import (
    DEFAULT_CLAIM_TTL,
    DEFAULT_DONE_TTL,
    AsyncDedupStore,
    DedupStore,
    MemoryDedupStore,
)
from .envelope import CALLBACK_TYPES
from .errors import ConfigurationError, LarkEventsError, RequestError
from .events import LEGACY_CARD_TYPE, MODELS
from .events.base import Event, Kind
from .http import Request, Response
from .pipeline import ParsedRequest, challenge_body, parse_request
from .results import result_to_body
from .settings import DEFAULT_MAX_BODY_BYTES, SecretInput, Settings, env_settings

__all__ = ["Dispatcher", "Handler", "HandlerCall", "StoreErrorPolicy"]

logger = logging.getLogger("lark_events")

F = TypeVar("F", bound=Callable[..., Any])
StoreErrorPolicy = Literal["process", "retry"]

SUCCESS = Response(200, b'{"msg":"success"}')
INTERNAL_ERROR = Response(500, b'{"msg":"internal error"}')
STORE_UNAVAILABLE = Response(503, b'{"msg":"deduplication store unavailable, retry later"}')
_MAX_LOGGED_TYPES = 1024


@dataclass(frozen=True, slots=True)
class Handler:
    """A registered handler and how to call it."""

    event_type: str
    fn: Callable[[Any], Any]
    is_async: bool
    model: type[Any] | None
    callback: bool


@dataclass(slots=True)
class HandlerCall:
    """One handler call prepared by :meth:`Dispatcher.prepare`: the handler, its event, its key."""

    handler: Handler
    event: Event[Any]
    dedup_key: str | None = None
    claimed: bool = field(default=False)


def _safe(text: str | None, limit: int = 80) -> str:
    """A type or id as it may appear in a log line: bounded and printable."""
    if text is None:
        return "-"
    return text[:limit].encode("ascii", "backslashreplace").decode("ascii")


class Dispatcher:
    """Turns raw Lark requests into handler calls and responses.

    ``encrypt_key`` and ``verification_token`` each take one value, several (the first is the
    current one; the others are accepted during a rotation) or ``None``.
    """

    def __init__(
        self,
        encrypt_key: SecretInput = None,
        verification_token: SecretInput = None,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        timestamp_tolerance: float | None = None,
        dedup: DedupStore | Literal[False] | None = None,
        dedup_by_message_id: bool = False,
        dedup_callbacks: bool = False,
        claim_ttl: float = DEFAULT_CLAIM_TTL,
        done_ttl: float = DEFAULT_DONE_TTL,
        on_store_error: StoreErrorPolicy = "process",
        callback_types: Iterable[str] = (),
    ) -> None:
        self.settings = Settings.build(
            encrypt_key,
            verification_token,
            max_body_bytes=max_body_bytes,
            timestamp_tolerance=timestamp_tolerance,
        )
        if on_store_error not in ("process", "retry"):
            raise ConfigurationError("on_store_error must be 'process' or 'retry'")
        if claim_ttl <= 0 or done_ttl <= 0:
            raise ConfigurationError("claim_ttl and done_ttl must be positive")
        self.dedup: DedupStore | None = (
            MemoryDedupStore() if dedup is None else (None if dedup is False else dedup)
        )
        if self.dedup is not None and not isinstance(self.dedup, DedupStore):
            raise ConfigurationError("dedup must implement claim(), complete() and release()")
        self.dedup_by_message_id = dedup_by_message_id
        self.dedup_callbacks = dedup_callbacks
        self.claim_ttl = claim_ttl
        self.done_ttl = done_ttl
        self.on_store_error: StoreErrorPolicy = on_store_error
        self.callback_types = CALLBACK_TYPES | frozenset(callback_types)
        self._handlers: dict[str, Handler] = {}
        self._logged_types: set[str] = set()
        self._log_lock = threading.Lock()
        if self.settings.insecure:
            message = (
                "lark-events: neither an encrypt_key nor a verification_token is configured; "
                "anyone who knows the URL can post events"
            )
            warnings.warn(message, stacklevel=2)
            logger.warning(message)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> Dispatcher:
        """Build from ``LARK_ENCRYPT_KEY`` / ``LARK_VERIFICATION_TOKEN`` plus keyword options."""
        return cls(**{**env_settings(environ), **kwargs})

    def __repr__(self) -> str:
        return (
            f"Dispatcher(encrypt_keys={len(self.settings.encrypt_keys)}, "
            f"verification_tokens={len(self.settings.verification_tokens)}, "
            f"handlers={sorted(self._handlers)})"
        )

    # -- registration -----------------------------------------------------------------------

    @overload
    def on(self, event_type: str, fn: F, *, model: type[Any] | None = ...) -> F: ...

    @overload
    def on(
        self, event_type: str, fn: None = ..., *, model: type[Any] | None = ...
    ) -> Callable[[F], F]: ...

    def on(
        self,
        event_type: str,
        fn: F | None = None,
        *,
        model: type[Any] | None = None,
        callback: bool | None = None,
    ) -> F | Callable[[F], F]:
        """Register ``fn`` for the plain ``event_type``; usable as ``@dispatcher.on("type")``.

        ``model`` overrides the typed body (a dataclass) for custom or newer types; ``callback``
        marks a custom type as a callback (answered with the handler's result).
        """

        def register(func: F) -> F:
            self.register(event_type, func, model=model, callback=callback)
            return func

        return register if fn is None else register(fn)

    def register(
        self,
        event_type: str,
        fn: Callable[[Any], Any],
        *,
        model: type[Any] | None = None,
        callback: bool | None = None,
    ) -> Handler:
        """Register ``fn`` for ``event_type``; a second handler for one type is an error."""
        if not isinstance(event_type, str) or not event_type:
            raise ConfigurationError("event_type must be a non-empty string")
        if not callable(fn):
            raise ConfigurationError("a handler must be callable")
        if event_type in self._handlers:
            raise ConfigurationError(f"a handler for {event_type!r} is already registered")
        if callback:
            self.callback_types = self.callback_types | {event_type}
        is_callback = event_type in self.callback_types or event_type == LEGACY_CARD_TYPE
        handler = Handler(
            event_type=event_type,
            fn=fn,
            is_async=_invoke.is_async_callable(fn),
            model=model if model is not None else MODELS.get(event_type),
            callback=is_callback,
        )
        self._handlers[event_type] = handler
        return handler

    def on_legacy_card(self, fn: F) -> F:
        """Register the handler of legacy message-card callbacks (the card request URL)."""
        self.register(LEGACY_CARD_TYPE, fn)
        return fn

    def handler_for(self, event_type: str) -> Handler | None:
        """The handler registered for ``event_type``, if any."""
        return self._handlers.get(event_type)

    @property
    def event_types(self) -> frozenset[str]:
        """The types that have a handler."""
        return frozenset(self._handlers)

    # -- the shared steps ---------------------------------------------------------------------

    def prepare(self, request: Request, *, card: bool = False) -> Response | HandlerCall:
        """Authenticate and classify ``request``: a final response, or a handler call to make."""
        try:
            parsed = parse_request(
                request, self.settings, card_endpoint=card, callback_types=self.callback_types
            )
        except RequestError as exc:
            logger.info(
                "rejected request: %s %s (request_id=%s)",
                exc.status,
                exc.public_message,
                _safe(request.request_id),
            )
            return Response.json(exc.status, {"msg": exc.public_message})
        except LarkEventsError as exc:
            logger.error(
                "configuration error: %s (request_id=%s)",
                exc.args[0] if exc.args else type(exc).__name__,
                _safe(request.request_id),
            )
            return INTERNAL_ERROR
        return self.route(parsed)

    def route(self, parsed: ParsedRequest) -> Response | HandlerCall:
        """Answer URL verification, acknowledge unknown types, or prepare the handler call."""
        envelope = parsed.envelope
        if envelope.kind is Kind.URL_VERIFICATION:
            return Response(200, challenge_body(envelope))
        handler = self._handlers.get(envelope.type)
        if handler is None:
            self._log_unhandled(envelope.type)
            return Response(200, b"{}") if envelope.kind.is_callback else SUCCESS
        event: Event[Any] = Event(
            kind=envelope.kind,
            type=envelope.type,
            header=envelope.header,
            payload=envelope.payload,
            raw=parsed.plaintext,
            request_id=parsed.request_id,
            model=handler.model,
        )
        return HandlerCall(handler, event, self.dedup_key(event))

    def dedup_key(self, event: Event[Any]) -> str | None:
        """The deduplication key of ``event``, or ``None`` when it is not deduplicated."""
        if self.dedup is None or (event.kind.is_callback and not self.dedup_callbacks):
            return None
        app = event.app_id or "-"
        if self.dedup_by_message_id and event.type == "im.message.receive_v1":
            message = event.data.get("message")
            message_id = message.get("message_id") if isinstance(message, Mapping) else None
            if isinstance(message_id, str) and message_id:
                return f"lark:{app}:msg:{message_id}"
        if not event.event_id:
            return None
        return f"lark:{app}:{event.event_id}"

    def finish(
        self, call: HandlerCall, result: Any = None, error: BaseException | None = None
    ) -> Response:
        """The response for a handler call that returned ``result`` or raised ``error``."""
        if error is not None:
            logger.error(
                "handler for %s failed (event_id=%s, request_id=%s)",
                _safe(call.event.type),
                _safe(call.event.event_id),
                _safe(call.event.request_id),
                exc_info=error,
            )
            return INTERNAL_ERROR
        if not call.handler.callback:
            return SUCCESS
        try:
            return Response.json(200, result_to_body(result))
        except (TypeError, ValueError) as exc:
            return self.finish(call, error=exc)

    def _log_unhandled(self, event_type: str) -> None:
        with self._log_lock:
            if event_type in self._logged_types or len(self._logged_types) >= _MAX_LOGGED_TYPES:
                return
            self._logged_types.add(event_type)
        logger.warning("no handler for event type %s; acknowledged with 200", _safe(event_type))

    def _store_failed(self, call: HandlerCall, action: str) -> Response | None:
        logger.error(
            "deduplication store failed to %s (event_id=%s); policy %r",
            action,
            _safe(call.event.event_id),
            self.on_store_error,
            exc_info=True,
        )
        return STORE_UNAVAILABLE if self.on_store_error == "retry" else None

    # -- sync path -------------------------------------------------------------------------------

    def handle(self, request: Request, *, card: bool = False) -> Response:
        """Handle one request from a thread without a running event loop (WSGI, scripts)."""
        step = self.prepare(request, card=card)
        if isinstance(step, Response):
            return step
        return self.run(step)

    def run(self, call: HandlerCall) -> Response:
        """Claim, call the handler, complete or release the claim, build the response."""
        store = self.dedup
        if call.dedup_key is not None and store is not None:
            try:
                if not store.claim(call.dedup_key, self.claim_ttl):
                    logger.info("duplicate of %s ignored", _safe(call.event.event_id))
                    return SUCCESS
                call.claimed = True
            except Exception:
                refusal = self._store_failed(call, "claim")
                if refusal is not None:
                    return refusal
        try:
            result = _invoke.call_sync(call.handler.fn, call.handler.is_async, call.event)
        except Exception as exc:
            self._settle(call, ok=False)
            return self.finish(call, error=exc)
        self._settle(call, ok=True)
        return self.finish(call, result)

    def _settle(self, call: HandlerCall, *, ok: bool) -> None:
        store = self.dedup
        if not call.claimed or store is None or call.dedup_key is None:
            return
        try:
            if ok:
                store.complete(call.dedup_key, self.done_ttl)
            else:
                store.release(call.dedup_key)
        except Exception:
            self._store_failed(call, "complete" if ok else "release")

    # -- async path ------------------------------------------------------------------------------

    async def handle_async(self, request: Request, *, card: bool = False) -> Response:
        """Handle one request from a coroutine; sync handlers run in a thread, never on the loop."""
        step = self.prepare(request, card=card)
        if isinstance(step, Response):
            return step
        return await self.run_async(step)

    async def run_async(self, call: HandlerCall) -> Response:
        """The awaitable twin of :meth:`run`."""
        store = self.dedup
        if call.dedup_key is not None and store is not None:
            try:
                claimed = (
                    await store.aclaim(call.dedup_key, self.claim_ttl)
                    if isinstance(store, AsyncDedupStore)
                    else await _invoke.call_async(
                        lambda key: store.claim(key, self.claim_ttl), False, call.dedup_key
                    )
                )
                if not claimed:
                    logger.info("duplicate of %s ignored", _safe(call.event.event_id))
                    return SUCCESS
                call.claimed = True
            except Exception:
                refusal = self._store_failed(call, "claim")
                if refusal is not None:
                    return refusal
        try:
            result = await _invoke.call_async(call.handler.fn, call.handler.is_async, call.event)
        except Exception as exc:
            await self._settle_async(call, ok=False)
            return self.finish(call, error=exc)
        await self._settle_async(call, ok=True)
        return self.finish(call, result)

    async def _settle_async(self, call: HandlerCall, *, ok: bool) -> None:
        store = self.dedup
        if not call.claimed or store is None or call.dedup_key is None:
            return
        key = call.dedup_key
        try:
            if isinstance(store, AsyncDedupStore):
                if ok:
                    await store.acomplete(key, self.done_ttl)
                else:
                    await store.arelease(key)
            else:
                await _invoke.call_async(lambda _: self._settle(call, ok=ok), False, None)
        except Exception:
            self._store_failed(call, "complete" if ok else "release")

    # -- shutdown --------------------------------------------------------------------------------

    def close(self, timeout: float | None = 30.0) -> None:
        """Wait up to ``timeout`` seconds for background handler work, then stop accepting it.

        Adapters call this on shutdown. Until deferred handlers are configured there is no
        background work and this returns at once.
        """

    async def aclose(self, timeout: float | None = 30.0) -> None:
        """The awaitable twin of :meth:`close` (aiohttp ``on_cleanup``, ASGI lifespan)."""

    # -- plaintext entry (long connection) -------------------------------------------------------

    def prepare_plaintext(
        self, plaintext: bytes, *, request_id: str | None = None
    ) -> Response | HandlerCall:
        """Route an already-authenticated plain event body (long-connection frames).

        The long connection authenticates at connect time, so no signature or token applies.
        A body that is not a Lark event is a 400 response.
        """
        from .envelope import classify, parse_object  # local: keeps the import graph flat

        try:
            payload = parse_object(plaintext)
            envelope = classify(payload, callback_types=self.callback_types)
        except RequestError as exc:
            return Response.json(exc.status, {"msg": exc.public_message})
        return self.route(ParsedRequest(envelope, plaintext, request_id))
