"""Background work of a dispatcher: deferred handlers with retries, and the executors they use.

:class:`BackgroundRunner` makes every attempt of a deferred handler (inside the configured
``background_context``), waits ``retry_backoff * 2**(attempt-1)`` seconds between attempts, logs
each failure with the event id (never the body), and settles the deduplication claim at the end.
:class:`Executors` holds the executor passed by the user or the built-in ones, created on first use
and drained by ``close``/``aclose``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from . import _invoke
from ._log import logger, safe
from .blocking import watch
from .events.base import Event

if TYPE_CHECKING:
    # Imported on first use: executors pull in asyncio, queues and thread pools.
    from .executors import AsyncioExecutor, DeferredJob, Executor, ThreadExecutor
    from .handlers import HandlerCall

__all__ = ["BackgroundContext", "BackgroundRunner", "Executors", "safe"]

#: Wraps every background attempt, e.g. Django's ``close_old_connections`` before and after.
BackgroundContext = Callable[[Event[Any]], AbstractContextManager[Any]]
GiveUpHook = Callable[[Event[Any], BaseException], Any]


class BackgroundRunner:
    """Runs deferred handler calls: attempts, back-off, logging, and the claim's settlement."""

    def __init__(
        self,
        *,
        retries: int,
        retry_backoff: float,
        context: BackgroundContext | None,
        on_give_up: GiveUpHook | None,
        settle: Callable[[HandlerCall, bool], None],
        asettle: Callable[[HandlerCall, bool], Awaitable[None]],
    ) -> None:
        self.retries = retries
        self.retry_backoff = retry_backoff
        self.context = context
        self.on_give_up = on_give_up
        self._settle = settle
        self._asettle = asettle
        #: Set while the dispatcher shuts down: back-offs end at once so retries run now.
        self.stopping = threading.Event()

    def job(self, call: HandlerCall) -> DeferredJob:
        """The job an executor runs for ``call``."""
        from .executors import DeferredJob

        return DeferredJob(call, run=lambda: self.run(call), run_async=lambda: self.run_async(call))

    def invoke(self, call: HandlerCall) -> Any:
        """One attempt from a thread, inside the background context."""
        handler = call.handler
        if self.context is None:
            return _invoke.call_sync(handler.fn, handler.is_async, call.event)
        with self.context(call.event):
            return _invoke.call_sync(handler.fn, handler.is_async, call.event)

    async def ainvoke(self, call: HandlerCall) -> Any:
        """One attempt from a coroutine; a sync handler (and its context) runs in a thread."""
        handler = call.handler
        if not handler.is_async:
            return await _invoke.call_async(lambda _: self.invoke(call), False, None)
        if self.context is None:
            return await watch(handler.fn(call.event), handler.fn)
        with self.context(call.event):
            return await watch(handler.fn(call.event), handler.fn)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based): exponential."""
        return float(self.retry_backoff * 2 ** (attempt - 1))

    def run(self, call: HandlerCall) -> None:
        """Every attempt from a thread, then settle the claim."""
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                self.invoke(call)
            except Exception as exc:
                if attempt < attempts:
                    self.log_retry(call, attempt, attempts, self.delay(attempt), exc)
                    self.stopping.wait(self.delay(attempt))
                    continue
                self.give_up(call, attempts, exc)
                self._settle(call, False)
                return
            self._settle(call, True)
            return

    async def run_async(self, call: HandlerCall) -> None:
        """Every attempt on an event loop, then settle the claim; cancellation releases it."""
        import asyncio

        attempts = self.retries + 1
        try:
            for attempt in range(1, attempts + 1):
                try:
                    await self.ainvoke(call)
                except Exception as exc:
                    if attempt < attempts:
                        self.log_retry(call, attempt, attempts, self.delay(attempt), exc)
                        await asyncio.sleep(0 if self.stopping.is_set() else self.delay(attempt))
                        continue
                    self.give_up(call, attempts, exc)
                    await self._asettle(call, False)
                    return
                await self._asettle(call, True)
                return
        except asyncio.CancelledError:
            logger.error(
                "background handler for %s cancelled at shutdown before it finished; claim "
                "released (event_id=%s)",
                safe(call.event.type),
                safe(call.event.event_id),
            )
            await self._asettle(call, False)
            raise

    def log_retry(
        self, call: HandlerCall, attempt: int, attempts: int, delay: float, error: BaseException
    ) -> None:
        """Log a failed attempt that will be retried (ids only, never the body)."""
        logger.warning(
            "background handler for %s failed (attempt %d of %d), retrying in %.1fs "
            "(event_id=%s, request_id=%s)",
            safe(call.event.type),
            attempt,
            attempts,
            delay,
            safe(call.event.event_id),
            safe(call.event.request_id),
            exc_info=error,
        )

    def give_up(self, call: HandlerCall, attempts: int, error: BaseException) -> None:
        """Log the final failure of an acknowledged event and call ``on_give_up``."""
        logger.error(
            "background handler for %s failed %d time(s); giving up, the event was acknowledged "
            "(event_id=%s, request_id=%s)",
            safe(call.event.type),
            attempts,
            safe(call.event.event_id),
            safe(call.event.request_id),
            exc_info=error,
        )
        if self.on_give_up is not None:
            try:
                self.on_give_up(call.event, error)
            except Exception:
                logger.exception("on_give_up failed (event_id=%s)", safe(call.event.event_id))


class Executors:
    """The user's executor, or the built-in ones (created on first use), and their shutdown."""

    def __init__(self, explicit: Executor | None, callback_workers: int) -> None:
        self.explicit = explicit
        self.callback_workers = callback_workers
        self._lock = threading.Lock()
        self._threads: ThreadExecutor | None = None
        self._tasks: AsyncioExecutor | None = None
        self._callbacks: ThreadExecutor | None = None

    def for_sync(self) -> Executor:
        """Where deferred work from sync callers goes: the user's executor or a thread pool."""
        if self.explicit is not None:
            return self.explicit
        with self._lock:
            if self._threads is None:
                from .executors import ThreadExecutor

                self._threads = ThreadExecutor()
            return self._threads

    def for_async(self) -> Executor:
        """Where deferred work from coroutines goes: the user's executor or asyncio tasks."""
        return self.explicit if self.explicit is not None else self.tasks()

    def tasks(self) -> AsyncioExecutor:
        """The built-in asyncio task tracker (also keeps late callback handlers)."""
        with self._lock:
            if self._tasks is None:
                from .executors import AsyncioExecutor

                self._tasks = AsyncioExecutor()
            return self._tasks

    def callbacks(self) -> ThreadExecutor:
        """The pool that runs callback handlers under a deadline for sync callers (no queue)."""
        with self._lock:
            if self._callbacks is None:
                from .executors import ThreadExecutor

                n = self.callback_workers
                self._callbacks = ThreadExecutor(n, n, 0.0, name="lark-events-callback")
            return self._callbacks

    def _take(self) -> list[Executor]:
        with self._lock:
            owned: list[Executor | None] = [self._tasks, self._threads, self._callbacks]
            self._tasks = self._threads = self._callbacks = None
        return [e for e in [*owned, self.explicit] if e is not None]

    def close(self, timeout: float | None) -> None:
        """Drain every executor within ``timeout`` seconds in all; built-in ones are dropped."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for executor in self._take():
            executor.close(_remaining(deadline))

    async def aclose(self, timeout: float | None) -> None:
        """The awaitable twin of :meth:`close`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for executor in self._take():
            await executor.aclose(_remaining(deadline))


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())
