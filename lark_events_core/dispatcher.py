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
from time import perf_counter
from typing import TYPE_CHECKING, Any, Literal

from ._log import logger
from ._log import safe as _safe
from ._responses import BUSY, EMPTY, INTERNAL_ERROR, STORE_UNAVAILABLE, SUCCESS, result_to_body
from .background import BackgroundContext, BackgroundRunner, Executors, GiveUpHook
from .claims import Claims, StoreErrorPolicy
from .deadline import CallbackGuard
from .dedup import DEFAULT_CLAIM_TTL, DEFAULT_DONE_TTL, DedupStore, MemoryDedupStore
from .envelope import CALLBACK_TYPES, classify, decode_plaintext, parse_object
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
from .observe import Observer, atimed_call, combine, members, reason_slug
from .pipeline import ParsedRequest, challenge_body, parse_request
from .settings import DEFAULT_MAX_BODY_BYTES, SecretInput, Settings, env_settings

if TYPE_CHECKING:
    import os

    from .executors import Executor
    from .health import Check, Health, HealthSource
    from .journal import SQLiteJournal

__all__ = ["BackgroundContext", "Dispatcher", "Handler", "HandlerCall", "StoreErrorPolicy"]

_MAX_LOGGED_TYPES = 1024
# The memo of unhandled types keeps this many characters of each (a log line shows fewer), so
# its size is bounded however long the types a sender invents: 1024 x 80 characters at most.
_LOGGED_TYPE_CHARS = 80
_OUTCOME_BY_STATUS = {200: "accepted", 500: "handler_error", 503: "busy"}
# A module constant: an Enum class attribute lookup costs ~0.1 us, on every request.
_URL_VERIFICATION = Kind.URL_VERIFICATION


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
    with the event and the exception when a deferred handler has failed for the last time, or
    with :class:`~.errors.AbandonedAtShutdown` when shutdown kept it from running or finishing).
    Shutdown (docs/delivery.md): ``shutdown_timeout`` (seconds :meth:`close` waits; ``None``:
    30 s, or what is left of the server's graceful window under gunicorn), ``journal`` (an
    :class:`~.journal.SQLiteJournal` or a file path: deferred events survive a crash) and
    ``handler_threads`` (the pool size for sync handlers under async callers; ``None``: the
    event loop's default executor).

    ``observers``: one :class:`~lark_events_core.observe.Observer` or several, told about every
    request, handler call and background job (metrics, traces: docs/observability.md).

    ``openapi`` is the Open API client (``OpenAPIClient.from_env()``) that a handler's context
    replies with (``ctx.reply``, docs/routing.md).
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
        shutdown_timeout: float | None = None,
        journal: SQLiteJournal | str | os.PathLike[str] | None = None,
        handler_threads: int | None = None,
        observers: Observer | Iterable[Observer] | None = None,
        openapi: Any = None,
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
        if shutdown_timeout is not None and shutdown_timeout < 0:
            raise ConfigurationError("shutdown_timeout must be >= 0 seconds, or None")
        if handler_threads is not None and handler_threads < 1:
            raise ConfigurationError("handler_threads must be >= 1, or None")
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
        self._registry = HandlerRegistry(
            CALLBACK_TYPES | frozenset(callback_types), defer=defer, openapi=openapi
        )
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
        self._executors = Executors(
            executor,
            callback_workers,
            handler_threads=handler_threads,
            shutdown_timeout=shutdown_timeout,
        )
        self.background.pool = self._executors.handler_pool
        if journal is not None:
            from .journal import SQLiteJournal

            found = journal if isinstance(journal, SQLiteJournal) else SQLiteJournal(journal)
            self._executors.use_journal(self, found)
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
        #: Told about each step (``None``: no observer, and no call is made).
        self.observer: Observer | None = None
        self._set_observer(combine(observers))
        #: Components reported by :meth:`health` besides the store and executor, by name.
        self.health_sources: dict[str, HealthSource] = {}
        self._logged_types: set[str] = set()
        self._log_lock = threading.Lock()
        # Only a dispatcher served at a URL is open to anyone: the long connection authenticates
        # at connect time. Adapters call warn_if_insecure() when they mount it; prepare() when
        # a webhook request comes anyway.
        self._insecure_unwarned = self.settings.insecure
        bind = getattr(executor, "bind", None)
        if callable(bind):
            bind(self)  # e.g. CeleryExecutor registers its task for this dispatcher

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> Dispatcher:
        """Build from ``LARK_ENCRYPT_KEY`` / ``LARK_VERIFICATION_TOKEN`` plus keyword options."""
        return cls(**{**env_settings(environ), **kwargs})

    def warn_if_insecure(self, stacklevel: int = 2) -> None:
        """Warn (once) that, without a key or a token, anyone who knows the URL can post events.

        The adapters call it when they serve the dispatcher at a URL; the first webhook request
        calls it otherwise. A dispatcher fed only by the long connection never warns.
        """
        if self._insecure_unwarned:
            self._insecure_unwarned = False
            message = (
                "lark-events: neither an encrypt_key nor a verification_token is configured; "
                "anyone who knows the URL can post events"
            )
            # Once, not twice: to the app's logging when it has any, else as a UserWarning
            # (logging's last-resort handler would print the same line a second time).
            if logger.hasHandlers():
                logger.warning(message)
            else:
                warnings.warn(message, stacklevel=stacklevel + 1)

    def __repr__(self) -> str:
        return (
            f"Dispatcher(encrypt_keys={len(self.settings.encrypt_keys)}, "
            f"verification_tokens={len(self.settings.verification_tokens)}, "
            f"handlers={sorted(self._handlers)})"
        )

    # -- prepare: request → final response or handler call ------------------------------------

    def prepare(self, request: Request, *, card: bool = False) -> Response | HandlerCall:
        """Authenticate and classify ``request``: a final response, or a handler call to make."""
        if self._insecure_unwarned:
            self.warn_if_insecure()
        registry = self._registry
        # The registry's frozen set as it is cached (rebuilt by the property after a
        # registration): no property call per request.
        callback_types = registry._callback_frozen or registry.callback_types
        try:
            parsed = parse_request(
                request, self.settings, card_endpoint=card, callback_types=callback_types
            )
        except RequestError as exc:
            logger.info(
                "rejected request: %s %s (request_id=%s)",
                exc.status,
                exc.public_message,
                _safe(request.request_id),
            )
            if self.observer is not None:
                self.observer.request_rejected(reason_slug(exc.public_message), exc.status)
            return Response.json(exc.status, {"msg": exc.public_message})
        except LarkEventsError as exc:
            logger.error(
                "configuration error: %s (request_id=%s)",
                exc.args[0] if exc.args else type(exc).__name__,
                _safe(request.request_id),
            )
            if self.observer is not None:
                self.observer.request_rejected("configuration_error", 500)
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
        registry = self._registry
        callback_types = registry._callback_frozen or registry.callback_types  # as in prepare()
        try:
            envelope = decode_plaintext(plaintext, callback_types) or classify(
                parse_object(plaintext), card_endpoint=card, callback_types=callback_types
            )
        except RequestError as exc:
            if self.observer is not None:
                self.observer.request_rejected(reason_slug(exc.public_message), exc.status)
            return Response.json(exc.status, {"msg": exc.public_message})
        return self.route(ParsedRequest(envelope, plaintext, request_id))

    def route(self, parsed: ParsedRequest) -> Response | HandlerCall:
        """Answer URL verification, acknowledge unknown types, or prepare the handler call."""
        envelope = parsed.envelope
        observer = self.observer
        if envelope.kind is _URL_VERIFICATION:
            if observer is not None:
                observer.answered(None, "url_verification", 200, 0.0)
            return Response(200, challenge_body(envelope))
        handler = self._handlers.get(envelope.type) or self._registry.catch_all_for(
            envelope.type, envelope.kind.is_callback
        )
        if handler is None:
            self._log_unhandled(envelope.type)
            if observer is not None:
                observer.answered(envelope.type, "unhandled", 200, 0.0)
            return EMPTY if envelope.kind.is_callback else SUCCESS
        event = new_event(envelope, parsed.plaintext, parsed.request_id, handler.model)
        call = HandlerCall(handler, event, None if self.dedup is None else self.claims.key(event))
        if observer is not None:
            call.started = perf_counter()
            call.trace = observer.event_received(event)
        return call

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
        kept = event_type[:_LOGGED_TYPE_CHARS]  # a copy: never a reference to a huge type
        with self._log_lock:
            if kept in self._logged_types or len(self._logged_types) >= _MAX_LOGGED_TYPES:
                return
            self._logged_types.add(kept)
        logger.warning("no handler for event type %s; acknowledged with 200", _safe(event_type))

    def _invoke(self, call: HandlerCall) -> Any:
        return invoke(call, self.slow_handler_warning, self.observer)

    def _ainvoke(self, call: HandlerCall) -> Any:
        observer = self.observer
        handler = call.handler
        # Only a sync handler that hops needs the pool (looked up per call: it follows forks).
        pool = None if handler.is_async or not handler.blocking else self._executors.handler_pool()
        if observer is None:
            return ainvoke(call, self.slow_handler_warning, pool)
        return atimed_call(observer, call, False, ainvoke, call, self.slow_handler_warning, pool)

    def _observed(self, call: HandlerCall, response: Response, observer: Observer) -> Response:
        """Report the answer to ``call``; an event whose work is done is finished here."""
        outcome = call.outcome or _OUTCOME_BY_STATUS.get(response.status, "handler_error")
        if response is STORE_UNAVAILABLE:
            outcome = "store_unavailable"
        observer.answered(call.event.type, outcome, response.status, perf_counter() - call.started)
        if not call.queued:  # a queued event is finished when its background work ends
            observer.event_finished(call.event, outcome, call.trace)
        return response

    # -- sync path -------------------------------------------------------------------------------

    def handle(self, request: Request, *, card: bool = False) -> Response:
        """Handle one request from a thread without a running event loop (WSGI, scripts)."""
        step = self.prepare(request, card=card)
        if isinstance(step, Response):
            return step
        return self.run(step)

    def run(self, call: HandlerCall) -> Response:
        """Claim, then call the handler (inline, deferred or deadline-guarded), then answer."""
        # One frame, one exit: the observer (read once) is told the answer, whichever it is.
        observer = self.observer
        handler = call.handler
        claims = self.claims
        key = call.dedup_key
        # The in-memory store (claims.local) is held and finished here, as Claims.claim() and
        # Claims.settle() would, without their two frames: the hot path of deduplication.
        local = None if key is None or handler.deferred else claims.local
        response = None
        if local is not None:
            try:
                token = local.hold(key, claims.claim_ttl)  # type: ignore[arg-type]
            except Exception:
                response = claims.failed(call, "claim")
            else:
                if token is None:
                    response = claims.duplicate(call)
                call.owner = token
        elif key is not None:
            response = claims.claim(call)
        if response is not None:
            pass
        elif handler.deferred:
            response = self._defer(call)
        elif handler.callback and self._guard is not None:
            response = self._guard.run(call)
        else:
            try:
                result = invoke(call, self.slow_handler_warning, observer)
            except Exception as exc:
                claims.settle(call, ok=False)
                response = self.finish(call, error=exc)
            else:
                owner = call.owner
                if owner is None:
                    pass
                elif local is not None:
                    try:
                        local.finish(key, owner, claims.done_ttl)  # type: ignore[arg-type]
                    except Exception:
                        claims.failed(call, "complete")
                else:
                    claims.settle(call, ok=True)
                response = self.finish(call, result) if handler.callback else SUCCESS
        return response if observer is None else self._observed(call, response, observer)

    def _defer(self, call: HandlerCall) -> Response:
        self._queue(call)
        try:
            accepted = self._executors.for_sync().submit(self.background.job(call))
        except Exception:
            logger.exception("executor failed to accept %s", _safe(call.event.event_id))
            accepted = False
        if accepted:
            return SUCCESS
        self._unqueue(call)
        self.claims.settle(call, ok=False)
        return self._refused(call)

    def _queue(self, call: HandlerCall) -> None:
        # Only a job this process runs is counted as queued and finished when it ends; one
        # handed to another process (CeleryExecutor) is done here once it is accepted.
        if self.observer is not None and getattr(self.executor, "in_process", True):
            call.queued = True
            self.observer.background_changed(1, 0)

    def _unqueue(self, call: HandlerCall) -> None:
        if call.queued and self.observer is not None:
            call.queued = False
            self.observer.background_changed(-1, 0)

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
        observer = self.observer
        claims = self.claims
        handler = call.handler
        key = call.dedup_key
        local = None if key is None or handler.deferred else claims.local  # as in run()
        response = None
        if local is not None:
            try:
                token = local.hold(key, claims.claim_ttl)  # type: ignore[arg-type]
            except Exception:
                response = claims.failed(call, "claim")
            else:
                if token is None:
                    response = claims.duplicate(call)
                call.owner = token
        elif key is not None:
            response = claims.claim(call) if claims.inline else await claims.aclaim(call)
        if response is not None:
            pass
        elif handler.deferred:
            response = await self._defer_async(call)
        elif handler.callback and self._guard is not None:
            response = await self._guard.run_async(call)
        else:
            try:
                result = await self._ainvoke(call)
            except Exception as exc:
                await claims.asettle(call, ok=False)
                response = self.finish(call, error=exc)
            else:
                owner = call.owner
                if owner is None:
                    pass
                elif local is not None:
                    try:
                        local.finish(key, owner, claims.done_ttl)  # type: ignore[arg-type]
                    except Exception:
                        claims.failed(call, "complete")
                elif claims.inline:
                    claims.settle(call, ok=True)
                else:
                    await claims.asettle(call, ok=True)
                response = self.finish(call, result) if handler.callback else SUCCESS
        return response if observer is None else self._observed(call, response, observer)

    async def _defer_async(self, call: HandlerCall) -> Response:
        self._queue(call)
        try:
            accepted = await self._executors.for_async().submit_async(self.background.job(call))
        except Exception:
            logger.exception("executor failed to accept %s", _safe(call.event.event_id))
            accepted = False
        if accepted:
            return SUCCESS
        self._unqueue(call)
        await self.claims.asettle(call, ok=False)
        return self._refused(call)

    def add_observer(self, observer: Observer) -> None:
        """Add ``observer`` to those told about each step (metrics, traces); see :mod:`.observe`."""
        self._set_observer(combine((*members(self.observer), observer)))

    def _set_observer(self, observer: Observer | None) -> None:
        self.observer = observer
        self.claims.observer = observer
        self.background.observer = observer

    # -- health --------------------------------------------------------------------------------

    def health(self) -> Health:
        """Check the deduplication store, the executor and every registered source, from a thread.

        A store with a ``ping()`` method (``RedisDedupStore``) is pinged; the in-memory store is
        always up. Sources are added to :attr:`health_sources` (the long-connection client adds
        itself). A source that raises counts as down.
        """
        return self._report(None)

    async def ahealth(self) -> Health:
        """The awaitable twin of :meth:`health` (``aping()`` on stores that have it)."""
        store = self.dedup
        aping = getattr(store, "aping", None)
        if callable(aping):
            try:
                reachable = bool(await aping())
            except Exception:
                reachable = False
            return self._report(reachable)
        if callable(getattr(store, "ping", None)):  # a blocking ping: off the loop
            from ._invoke import call_async

            health: Health = await call_async(lambda _: self.health(), False, None)
            return health
        return self.health()

    def _report(self, reachable: bool | None) -> Health:
        """The health report; ``reachable``: the store's ping already made (``None``: ping now)."""
        from .health import Health  # local: only health probes need the module

        checks = [self._store_check(reachable), self._executor_check()]
        return Health((*checks, *self._source_checks()))

    def _store_check(self, result: bool | None) -> Check:
        from .health import Check

        store = self.dedup
        if store is None:
            return Check("dedup_store", True, "disabled")
        name = type(store).__name__
        ping = getattr(store, "ping", None)
        if result is None and callable(ping):
            try:
                result = bool(ping())
            except Exception:
                result = False
        if result is None:
            return Check("dedup_store", True, name)
        return Check("dedup_store", result, f"{name} {'reachable' if result else 'unreachable'}")

    def _executor_check(self) -> Check:
        from .health import Check

        executor = self.executor
        if executor is None:
            return Check("executor", True, "built-in")
        healthy = getattr(executor, "healthy", None)
        if callable(healthy):
            try:
                ok = bool(healthy())
            except Exception:
                ok = False
            return Check("executor", ok, type(executor).__name__)
        return Check("executor", True, type(executor).__name__)

    def _source_checks(self) -> list[Check]:
        from .health import Check

        checks = []
        for name, source in list(self.health_sources.items()):
            try:
                checks.append(source())
            except Exception:
                checks.append(Check(name, False, "check failed"))
        return checks

    # -- shutdown --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start replaying the journal in this process (adapters call it at server start-up)."""
        self._executors.start()

    def close(self, timeout: float | None = None) -> None:
        """Wait up to ``timeout`` seconds for background handler work, then stop accepting it.

        ``None`` means ``shutdown_timeout``; either way the wait ends before the server's
        graceful window does (gunicorn's ``graceful_timeout``), so that each event still
        unfinished is logged at ERROR and given to ``on_give_up`` before the process is killed.
        Adapters call this on shutdown. Retry back-offs are cut short so pending retries run now.
        The built-in executors are replaced on next use; an ``executor`` you passed stays closed.
        """
        self.background.stopping.set()
        try:
            self._executors.close(timeout)
        finally:
            self.background.stopping.clear()

    async def aclose(self, timeout: float | None = None) -> None:
        """The awaitable twin of :meth:`close` (aiohttp ``on_cleanup``, ASGI lifespan)."""
        self.background.stopping.set()
        try:
            await self._executors.aclose(timeout)
        finally:
            self.background.stopping.clear()
