"""The dispatcher: registration of handlers and one request → one response.

One request flows through :meth:`Dispatcher.prepare` (authenticate, classify: a final response or
a :class:`HandlerCall`), then :meth:`Dispatcher.run` from a thread (WSGI) or
:meth:`Dispatcher.run_async` from a coroutine (claim the deduplication key, call the handler inline,
deferred or under the callback deadline, settle the claim), then :meth:`Dispatcher.finish` (the
handler's outcome → the response). Both paths share every decision; they differ only in awaiting.

The parts live in their own modules: :mod:`.handlers` (registration and calling handlers),
:mod:`.claims` (deduplication claims), :mod:`.deadline` (the callback deadline guard),
:mod:`.background` (deferred handlers and executors), :mod:`.pipeline` (the request checks).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from ._log import logger
from ._log import safe as _safe
from ._responses import BUSY, EMPTY, INTERNAL_ERROR, SUCCESS
from .background import BackgroundContext, BackgroundRunner, Executors, GiveUpHook
from .claims import Claims, StoreErrorPolicy
from .deadline import CallbackGuard
from .dedup import DEFAULT_CLAIM_TTL, DEFAULT_DONE_TTL, DedupStore, MemoryDedupStore
from .envelope import CALLBACK_TYPES, classify, parse_object
from .errors import ConfigurationError, LarkEventsError, RequestError
from .events.base import Event, Kind, new_event
from .handlers import (
    PLATFORM_DEADLINE,
    Handler,
    HandlerCall,
    HandlerRegistry,
    Registrar,
    ainvoke,
    invoke,
)
from .http import Request, Response
from .pipeline import ParsedRequest, challenge_body, parse_request
from .results import result_to_body
from .settings import DEFAULT_MAX_BODY_BYTES, SecretInput, Settings, env_settings

if TYPE_CHECKING:
    from .executors import Executor

__all__ = ["BackgroundContext", "Dispatcher", "Handler", "HandlerCall", "StoreErrorPolicy"]

_MAX_LOGGED_TYPES = 1024


def _is_executor(obj: object) -> bool:
    from .executors import Executor  # local: executors pull in asyncio and thread pools

    return isinstance(obj, Executor)


class Dispatcher(Registrar):
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
        if executor is not None and not _is_executor(executor):
            raise ConfigurationError("executor must implement submit, submit_async, close, aclose")
        try:
            fallback = Response.json(200, result_to_body(callback_fallback))
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                "callback_fallback must be a dict or a result builder"
            ) from exc
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
        self.executor = executor
        self.callback_deadline = callback_deadline
        self.slow_handler_warning = slow_handler_warning
        #: Claims and settles deduplication keys (docs/delivery.md).
        self.claims = Claims(
            self.dedup,
            by_message_id=dedup_by_message_id,
            callbacks=dedup_callbacks,
            claim_ttl=claim_ttl,
            done_ttl=done_ttl,
            on_error=on_store_error,
        )
        self._registry = HandlerRegistry(CALLBACK_TYPES | frozenset(callback_types), defer=defer)
        self._handlers = self._registry.by_type
        #: Runs deferred handler calls (attempts, retries, logging, settlement).
        self.background = BackgroundRunner(
            retries=retries,
            retry_backoff=retry_backoff,
            context=background_context,
            on_give_up=on_give_up,
            settle=lambda call, ok: self.claims.settle(call, ok=ok),
            asettle=lambda call, ok: self.claims.asettle(call, ok=ok),
        )
        self._executors = Executors(executor, callback_workers)
        self._guard = (
            None
            if callback_deadline is None
            else CallbackGuard(
                callback_deadline,
                fallback,
                executors=self._executors,
                claims=self.claims,
                invoke=self._invoke,
                ainvoke=self._ainvoke,
                finish=self.finish,
            )
        )
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

    # -- prepare: request → final response or handler call ------------------------------------

    def prepare(self, request: Request, *, card: bool = False) -> Response | HandlerCall:
        """Authenticate and classify ``request``: a final response, or a handler call to make."""
        try:
            parsed = parse_request(
                request,
                self.settings,
                card_endpoint=card,
                callback_types=self._registry.callback_types,
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

    def prepare_plaintext(
        self, plaintext: bytes, *, request_id: str | None = None, card: bool = False
    ) -> Response | HandlerCall:
        """Route an already-authenticated plain event body (long-connection frames).

        The long connection authenticates at connect time, so no signature or token applies.
        ``card`` classifies like the card endpoint (a flat legacy card body is a callback).
        A body that is not a Lark event is a 400 response.
        """
        try:
            payload = parse_object(plaintext)
            envelope = classify(
                payload, card_endpoint=card, callback_types=self._registry.callback_types
            )
        except RequestError as exc:
            return Response.json(exc.status, {"msg": exc.public_message})
        return self.route(ParsedRequest(envelope, plaintext, request_id))

    def route(self, parsed: ParsedRequest) -> Response | HandlerCall:
        """Answer URL verification, acknowledge unknown types, or prepare the handler call."""
        envelope = parsed.envelope
        if envelope.kind is Kind.URL_VERIFICATION:
            return Response(200, challenge_body(envelope))
        handler = self._handlers.get(envelope.type)
        if handler is None:
            self._log_unhandled(envelope.type)
            return EMPTY if envelope.kind.is_callback else SUCCESS
        event = new_event(
            envelope.kind,
            envelope.type,
            envelope.header,
            envelope.payload,
            parsed.plaintext,
            parsed.request_id,
            handler.model,
        )
        return HandlerCall(handler, event, None if self.dedup is None else self.claims.key(event))

    def dedup_key(self, event: Event[Any]) -> str | None:
        """The deduplication key of ``event``, or ``None`` when it is not deduplicated."""
        return self.claims.key(event)

    # -- finish: the handler's outcome → response -------------------------------------------

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

    def settle(self, call: HandlerCall, *, ok: bool) -> None:
        """Complete (``ok``) or release ``call``'s claim; store errors are logged, not raised."""
        self.claims.settle(call, ok=ok)

    async def asettle(self, call: HandlerCall, *, ok: bool) -> None:
        """The awaitable twin of :meth:`settle`."""
        await self.claims.asettle(call, ok=ok)

    def _log_unhandled(self, event_type: str) -> None:
        with self._log_lock:
            if event_type in self._logged_types or len(self._logged_types) >= _MAX_LOGGED_TYPES:
                return
            self._logged_types.add(event_type)
        logger.warning("no handler for event type %s; acknowledged with 200", _safe(event_type))

    def _invoke(self, call: HandlerCall) -> Any:
        return invoke(call, self.slow_handler_warning)

    def _ainvoke(self, call: HandlerCall) -> Any:
        return ainvoke(call, self.slow_handler_warning)

    # -- sync path -------------------------------------------------------------------------------

    def handle(self, request: Request, *, card: bool = False) -> Response:
        """Handle one request from a thread without a running event loop (WSGI, scripts)."""
        step = self.prepare(request, card=card)
        if isinstance(step, Response):
            return step
        return self.run(step)

    def run(self, call: HandlerCall) -> Response:
        """Claim, then call the handler (inline, deferred or deadline-guarded), then answer."""
        # The ``is not None`` tests skip a call on the hot path; the methods check them too.
        if call.dedup_key is not None:
            refusal = self.claims.claim(call)
            if refusal is not None:
                return refusal
        handler = call.handler
        if handler.deferred:
            return self._defer(call)
        if handler.callback and self._guard is not None:
            return self._guard.run(call)
        try:
            result = invoke(call, self.slow_handler_warning)
        except Exception as exc:
            self.claims.settle(call, ok=False)
            return self.finish(call, error=exc)
        if call.owner is not None:
            self.claims.settle(call, ok=True)
        return self.finish(call, result) if handler.callback else SUCCESS

    def _defer(self, call: HandlerCall) -> Response:
        try:
            accepted = self._executors.for_sync().submit(self.background.job(call))
        except Exception:
            logger.exception("executor failed to accept %s", _safe(call.event.event_id))
            accepted = False
        if accepted:
            return SUCCESS
        self.claims.settle(call, ok=False)
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
        claims = self.claims
        if call.dedup_key is not None:
            refusal = claims.claim(call) if claims.inline else await claims.aclaim(call)
            if refusal is not None:
                return refusal
        handler = call.handler
        if handler.deferred:
            return await self._defer_async(call)
        if handler.callback and self._guard is not None:
            return await self._guard.run_async(call)
        try:
            result = await ainvoke(call, self.slow_handler_warning)
        except Exception as exc:
            await self.claims.asettle(call, ok=False)
            return self.finish(call, error=exc)
        if call.owner is not None:
            if claims.inline:
                claims.settle(call, ok=True)
            else:
                await claims.asettle(call, ok=True)
        return self.finish(call, result) if handler.callback else SUCCESS

    async def _defer_async(self, call: HandlerCall) -> Response:
        try:
            accepted = await self._executors.for_async().submit_async(self.background.job(call))
        except Exception:
            logger.exception("executor failed to accept %s", _safe(call.event.event_id))
            accepted = False
        if accepted:
            return SUCCESS
        await self.claims.asettle(call, ok=False)
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
