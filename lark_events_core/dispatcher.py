"""The dispatcher: registration of handlers and one request → one response.

Sync callers (WSGI) use :meth:`Dispatcher.handle`, asyncio callers :meth:`Dispatcher.handle_async`;
both share :meth:`Dispatcher.prepare` (everything up to the handler) and :meth:`Dispatcher.finish`
(the handler's outcome → the response), so the two paths cannot drift apart.

Delivery (docs/delivery.md): each event is *claimed* in the deduplication store before its handler
runs and *settled* (completed or released) when the handler has finished, inline or deferred.
A deferred handler is acknowledged first and run by an executor afterwards, with retries.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, overload

from . import _invoke
from .background import BackgroundContext, BackgroundRunner, Executors, GiveUpHook
from .background import safe as _safe
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
from .executors import Executor
from .http import Request, Response
from .pipeline import ParsedRequest, challenge_body, parse_request
from .results import result_to_body
from .settings import DEFAULT_MAX_BODY_BYTES, SecretInput, Settings, env_settings

__all__ = ["BackgroundContext", "Dispatcher", "Handler", "HandlerCall", "StoreErrorPolicy"]

logger = logging.getLogger("lark_events")

F = TypeVar("F", bound=Callable[..., Any])
StoreErrorPolicy = Literal["process", "retry"]

SUCCESS = Response(200, b'{"msg":"success"}')
INTERNAL_ERROR = Response(500, b'{"msg":"internal error"}')
STORE_UNAVAILABLE = Response(503, b'{"msg":"deduplication store unavailable, retry later"}')
BUSY = Response(503, b'{"msg":"busy, retry later"}')
#: The platform counts a push as failed when it is not answered within this many seconds.
PLATFORM_DEADLINE = 3.0
_MAX_LOGGED_TYPES = 1024
_CALLBACK_KINDS = frozenset(kind for kind in Kind if kind.is_callback)


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
    owner: str | None = field(default=None)

    @property
    def claimed(self) -> bool:
        """Whether this call holds a deduplication claim that must be settled."""
        return self.owner is not None


class _Owners:
    """Claim owner tokens: a random prefix per process plus a counter (cheap, unique).

    The prefix is drawn again in a forked child, so gunicorn workers never share tokens.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.prefix = secrets.token_hex(6) + "-"
        self.counter = itertools.count(1)

    def new(self) -> str:
        return self.prefix + str(next(self.counter))


_OWNERS = _Owners()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_OWNERS.reset)
_new_owner = _OWNERS.new


class Dispatcher:
    """Turns raw Lark requests into handler calls and responses.

    ``encrypt_key`` and ``verification_token`` each take one value, several (the first is the
    current one; the others are accepted during a rotation) or ``None``.

    Delivery options (docs/delivery.md): ``dedup`` (a store, ``None`` for the in-memory default,
    ``False`` for none), ``on_store_error`` (``"process"``: handle anyway and log; ``"retry"``:
    answer 503), ``defer`` (run every event handler after the response), ``executor`` (where
    deferred handlers run; default: a bounded thread pool for sync callers and tracked asyncio
    tasks for async callers), ``retries`` / ``retry_backoff`` (in-process retries of a failed
    deferred handler), ``callback_deadline`` / ``callback_fallback`` (answer a slow callback with
    the fallback and let it finish), ``slow_handler_warning`` (seconds; warn about slow inline
    handlers), ``background_context`` (wraps each background attempt) and ``on_give_up`` (called
    with the event and the exception when a deferred handler has failed for the last time).
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
        defer: bool = False,
        executor: Executor | None = None,
        retries: int = 2,
        retry_backoff: float = 1.0,
        callback_deadline: float | None = 2.5,
        callback_fallback: Any = None,
        callback_workers: int = 16,
        slow_handler_warning: float | None = PLATFORM_DEADLINE,
        background_context: BackgroundContext | None = None,
        on_give_up: GiveUpHook | None = None,
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
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigurationError("retries must be an int >= 0")
        if retry_backoff < 0:
            raise ConfigurationError("retry_backoff must be >= 0")
        if callback_deadline is not None and not callback_deadline > 0:
            raise ConfigurationError("callback_deadline must be positive seconds, or None")
        if callback_workers < 1:
            raise ConfigurationError("callback_workers must be >= 1")
        if executor is not None and not isinstance(executor, Executor):
            raise ConfigurationError("executor must implement submit, submit_async, close, aclose")
        try:
            self._fallback = Response.json(200, result_to_body(callback_fallback))
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                "callback_fallback must be a dict or a result builder"
            ) from exc
        self.dedup: DedupStore | None = (
            MemoryDedupStore() if dedup is None else (None if dedup is False else dedup)
        )
        if self.dedup is not None and not isinstance(self.dedup, DedupStore):
            raise ConfigurationError("dedup must implement claim(), complete() and release()")
        self._async_store = isinstance(self.dedup, AsyncDedupStore)
        self.dedup_by_message_id = dedup_by_message_id
        self.dedup_callbacks = dedup_callbacks
        self.claim_ttl = claim_ttl
        self.done_ttl = done_ttl
        self.on_store_error: StoreErrorPolicy = on_store_error
        self.callback_types = CALLBACK_TYPES | frozenset(callback_types)
        self.defer = defer
        self.executor = executor
        self.callback_deadline = callback_deadline
        self.slow_handler_warning = slow_handler_warning
        #: Runs deferred handler calls (attempts, retries, logging, settlement).
        self.background = BackgroundRunner(
            retries=retries,
            retry_backoff=retry_backoff,
            context=background_context,
            on_give_up=on_give_up,
            settle=lambda call, ok: self.settle(call, ok=ok),
            asettle=lambda call, ok: self.asettle(call, ok=ok),
        )
        self._executors = Executors(executor, callback_workers)
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
        bind = getattr(executor, "bind", None)
        if callable(bind):
            bind(self)  # e.g. CeleryExecutor registers its task for this dispatcher

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
        if not isinstance(event_type, str) or not event_type:
            raise ConfigurationError("event_type must be a non-empty string")
        if not callable(fn):
            raise ConfigurationError("a handler must be callable")
        if event_type in self._handlers:
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
        if self.dedup is None or (event.kind in _CALLBACK_KINDS and not self.dedup_callbacks):
            return None
        header = event.header
        app = header.app_id or "-"
        if self.dedup_by_message_id and event.type == "im.message.receive_v1":
            message = event.data.get("message")
            message_id = message.get("message_id") if isinstance(message, Mapping) else None
            if isinstance(message_id, str) and message_id:
                return f"lark:{app}:msg:{message_id}"
        event_id = header.event_id
        return f"lark:{app}:{event_id}" if event_id else None

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

    # -- claims ----------------------------------------------------------------------------------

    def _claim(self, call: HandlerCall) -> Response | None:
        """Claim ``call``'s key: ``None`` to go on, or the response that ends the request."""
        store = self.dedup
        key = call.dedup_key
        if key is None or store is None:
            return None
        owner = _new_owner()
        try:
            if not store.claim(key, owner, self.claim_ttl):
                return self._duplicate(call)
        except Exception:
            return self._store_failed(call, "claim")
        call.owner = owner
        return None

    async def _aclaim(self, call: HandlerCall) -> Response | None:
        store = self.dedup
        key = call.dedup_key
        if key is None or store is None:
            return None
        owner = _new_owner()
        try:
            if self._async_store:
                claimed = await store.aclaim(key, owner, self.claim_ttl)  # type: ignore[attr-defined]
            else:
                claimed = await _invoke.call_async(
                    lambda k: store.claim(k, owner, self.claim_ttl), False, key
                )
            if not claimed:
                return self._duplicate(call)
        except Exception:
            return self._store_failed(call, "claim")
        call.owner = owner
        return None

    def _duplicate(self, call: HandlerCall) -> Response:
        logger.info(
            "duplicate of %s ignored (event_id=%s)",
            _safe(call.event.type),
            _safe(call.event.event_id),
        )
        return SUCCESS

    def settle(self, call: HandlerCall, *, ok: bool) -> None:
        """Complete (``ok``) or release ``call``'s claim; store errors are logged, not raised."""
        store = self.dedup
        owner = call.owner
        if owner is None or store is None or call.dedup_key is None:
            return
        try:
            if ok:
                store.complete(call.dedup_key, owner, self.done_ttl)
            else:
                store.release(call.dedup_key, owner)
        except Exception:
            self._store_failed(call, "complete" if ok else "release")

    async def asettle(self, call: HandlerCall, *, ok: bool) -> None:
        """The awaitable twin of :meth:`settle`."""
        store = self.dedup
        owner = call.owner
        key = call.dedup_key
        if owner is None or store is None or key is None:
            return
        if not self._async_store:
            await _invoke.call_async(lambda _: self.settle(call, ok=ok), False, None)
            return
        try:
            if ok:
                await store.acomplete(key, owner, self.done_ttl)  # type: ignore[attr-defined]
            else:
                await store.arelease(key, owner)  # type: ignore[attr-defined]
        except Exception:
            self._store_failed(call, "complete" if ok else "release")

    # -- sync path -------------------------------------------------------------------------------

    def handle(self, request: Request, *, card: bool = False) -> Response:
        """Handle one request from a thread without a running event loop (WSGI, scripts)."""
        step = self.prepare(request, card=card)
        if isinstance(step, Response):
            return step
        return self.run(step)

    def run(self, call: HandlerCall) -> Response:
        """Claim, then call the handler (inline, deferred or deadline-guarded), then answer."""
        refusal = self._claim(call)
        if refusal is not None:
            return refusal
        handler = call.handler
        if handler.deferred:
            return self._defer(call)
        if handler.callback and self.callback_deadline is not None:
            return self._run_guarded(call)
        try:
            result = self._invoke_timed(call)
        except Exception as exc:
            self.settle(call, ok=False)
            return self.finish(call, error=exc)
        self.settle(call, ok=True)
        return self.finish(call, result)

    def _invoke_timed(self, call: HandlerCall) -> Any:
        start = time.monotonic()
        try:
            return _invoke.call_sync(call.handler.fn, call.handler.is_async, call.event)
        finally:
            self._warn_if_slow(call, start)

    def _warn_if_slow(self, call: HandlerCall, start: float) -> None:
        limit = self.slow_handler_warning
        elapsed = time.monotonic() - start
        if limit is not None and elapsed > limit:
            logger.warning(
                "handler for %s took %.1fs, over the platform's %.0fs deadline: the platform "
                "counts the push as failed and sends it again; consider deferred=True "
                "(event_id=%s, request_id=%s)",
                _safe(call.event.type),
                elapsed,
                PLATFORM_DEADLINE,
                _safe(call.event.event_id),
                _safe(call.event.request_id),
            )

    def _run_guarded(self, call: HandlerCall) -> Response:
        deadline = self.callback_deadline
        future = self._executors.callbacks().submit_call(
            lambda: self._invoke_timed(call), timeout=0
        )
        if future is None:  # every callback worker busy: run here, unguarded, rather than drop
            logger.warning(
                "callback workers busy; %s handled without a deadline guard (event_id=%s)",
                _safe(call.event.type),
                _safe(call.event.event_id),
            )
            future = Future()
            try:
                future.set_result(self._invoke_timed(call))
            except Exception as exc:
                future.set_exception(exc)
        try:
            result = future.result(timeout=deadline)
        except Exception as exc:
            if future.done():
                self.settle(call, ok=False)
                return self.finish(call, error=exc)
            future.add_done_callback(lambda f: self._late_callback(call, f))
            self._log_fallback(call)
            return self._fallback
        self.settle(call, ok=True)
        return self.finish(call, result)

    def _log_fallback(self, call: HandlerCall) -> None:
        logger.warning(
            "callback %s not answered within %.1fs; answered with the fallback, the handler "
            "goes on in the background (event_id=%s, request_id=%s)",
            _safe(call.event.type),
            self.callback_deadline or 0.0,
            _safe(call.event.event_id),
            _safe(call.event.request_id),
        )

    def _late_callback(self, call: HandlerCall, future: Future[Any]) -> None:
        error = future.exception()
        if error is not None:
            self._log_late_failure(call, error)
        self.settle(call, ok=error is None)

    def _log_late_failure(self, call: HandlerCall, error: BaseException) -> None:
        logger.error(
            "callback handler for %s failed after the fallback answer (event_id=%s)",
            _safe(call.event.type),
            _safe(call.event.event_id),
            exc_info=error,
        )

    def _defer(self, call: HandlerCall) -> Response:
        try:
            accepted = self._executors.for_sync().submit(self.background.job(call))
        except Exception:
            logger.exception("executor failed to accept %s", _safe(call.event.event_id))
            accepted = False
        if accepted:
            return SUCCESS
        self.settle(call, ok=False)
        return self._refused(call)

    def _refused(self, call: HandlerCall) -> Response:
        logger.warning(
            "background executor refused %s (full, closed or its broker down); answered 503 "
            "so the platform retries it (event_id=%s)",
            _safe(call.event.type),
            _safe(call.event.event_id),
        )
        return BUSY

    # -- async path ------------------------------------------------------------------------------

    async def handle_async(self, request: Request, *, card: bool = False) -> Response:
        """Handle one request from a coroutine; sync handlers run in a thread, never on the loop."""
        step = self.prepare(request, card=card)
        if isinstance(step, Response):
            return step
        return await self.run_async(step)

    async def run_async(self, call: HandlerCall) -> Response:
        """The awaitable twin of :meth:`run`."""
        refusal = await self._aclaim(call)
        if refusal is not None:
            return refusal
        handler = call.handler
        if handler.deferred:
            return await self._defer_async(call)
        if handler.callback and self.callback_deadline is not None:
            return await self._run_guarded_async(call)
        try:
            result = await self._ainvoke_timed(call)
        except Exception as exc:
            await self.asettle(call, ok=False)
            return self.finish(call, error=exc)
        await self.asettle(call, ok=True)
        return self.finish(call, result)

    async def _ainvoke_timed(self, call: HandlerCall) -> Any:
        start = time.monotonic()
        try:
            return await _invoke.call_async(call.handler.fn, call.handler.is_async, call.event)
        finally:
            self._warn_if_slow(call, start)

    async def _run_guarded_async(self, call: HandlerCall) -> Response:
        task = asyncio.ensure_future(self._ainvoke_timed(call))
        try:
            done, _ = await asyncio.wait({task}, timeout=self.callback_deadline)
        except asyncio.CancelledError:  # the client went away: let the handler finish anyway
            self._executors.tasks().track(asyncio.ensure_future(self._finish_late(call, task)))
            raise
        if task not in done:
            self._executors.tasks().track(asyncio.ensure_future(self._finish_late(call, task)))
            self._log_fallback(call)
            return self._fallback
        try:
            result = task.result()
        except Exception as exc:
            await self.asettle(call, ok=False)
            return self.finish(call, error=exc)
        await self.asettle(call, ok=True)
        return self.finish(call, result)

    async def _finish_late(self, call: HandlerCall, task: asyncio.Future[Any]) -> None:
        try:
            await task
        except Exception as exc:
            self._log_late_failure(call, exc)
            await self.asettle(call, ok=False)
            return
        await self.asettle(call, ok=True)

    async def _defer_async(self, call: HandlerCall) -> Response:
        try:
            accepted = await self._executors.for_async().submit_async(self.background.job(call))
        except Exception:
            logger.exception("executor failed to accept %s", _safe(call.event.event_id))
            accepted = False
        if accepted:
            return SUCCESS
        await self.asettle(call, ok=False)
        return self._refused(call)

    # -- shutdown --------------------------------------------------------------------------------

    def close(self, timeout: float | None = 30.0) -> None:
        """Wait up to ``timeout`` seconds for background handler work, then stop accepting it.

        Adapters call this on shutdown. Retry back-offs are cut short so pending retries run now.
        The built-in executors are replaced on next use; an ``executor`` you passed stays closed.
        """
        self.background.stopping.set()
        try:
            self._executors.close(timeout)
        finally:
            self.background.stopping.clear()

    async def aclose(self, timeout: float | None = 30.0) -> None:
        """The awaitable twin of :meth:`close` (aiohttp ``on_cleanup``, ASGI lifespan)."""
        self.background.stopping.set()
        try:
            await self._executors.aclose(timeout)
        finally:
            self.background.stopping.clear()

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
