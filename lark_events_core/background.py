"""Background work of a dispatcher: deferred handlers with retries, and the executors they use.

:class:`BackgroundRunner` makes every attempt of a deferred handler (inside the configured
``background_context``), waits ``retry_backoff * 2**(attempt-1)`` seconds between attempts, logs
each failure with the event id (never the body), and settles the deduplication claim at the end.
:class:`Executors` holds the executor passed by the user or the built-in ones, created on first use
and drained by ``close``/``aclose``.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from . import _invoke
from ._log import logger, safe
from .blocking import watch
from .errors import AbandonedAtShutdown
from .events.base import Event
from .observe import atimed_call, timed_call

if TYPE_CHECKING:
    # Imported on first use: executors pull in asyncio, queues and thread pools.
    from concurrent.futures import ThreadPoolExecutor

    from .dispatcher import Dispatcher
    from .executors import AsyncioExecutor, DeferredJob, Executor, ThreadExecutor
    from .handlers import HandlerCall
    from .journal import JournalEntry, SQLiteJournal
    from .observe import Observer

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
        #: Told about queue depth, attempts and outcomes (set by the dispatcher).
        self.observer: Observer | None = None
        #: Set while the dispatcher shuts down: back-offs end at once so retries run now.
        self.stopping = threading.Event()
        #: Whether deferred events are kept in a journal (set by the dispatcher).
        self.journaled = False
        #: Where sync handlers run for async callers (``None``: the loop's default executor).
        self.pool: Callable[[], Any] = lambda: None

    def job(self, call: HandlerCall) -> DeferredJob:
        """The job an executor runs for ``call``."""
        from .executors import DeferredJob

        return DeferredJob(
            call,
            run=lambda: self.run(call),
            run_async=lambda: self.run_async(call),
            abandon=lambda started: self.abandon(call, started),
        )

    def invoke(self, call: HandlerCall) -> Any:
        """One attempt from a thread, inside the background context."""
        if self.observer is None:
            return self._attempt(call)
        return timed_call(self.observer, call, True, self._attempt, call)

    def _attempt(self, call: HandlerCall) -> Any:
        handler = call.handler
        if self.context is None:
            return _invoke.call_sync(handler.fn, handler.is_async, call.event)
        with self.context(call.event):
            return _invoke.call_sync(handler.fn, handler.is_async, call.event)

    async def ainvoke(self, call: HandlerCall) -> Any:
        """One attempt from a coroutine; a sync handler (and its context) runs in a thread."""
        handler = call.handler
        if not handler.is_async:
            return await _invoke.call_async(lambda _: self.invoke(call), False, None, self.pool())
        if self.observer is None:
            return await self._aattempt(call)
        return await atimed_call(self.observer, call, True, self._aattempt, call)

    async def _aattempt(self, call: HandlerCall) -> Any:
        handler = call.handler
        if self.context is None:
            return await watch(handler.fn(call.event), handler.fn)
        with self.context(call.event):
            return await watch(handler.fn(call.event), handler.fn)

    def _begin(self, call: HandlerCall) -> None:
        if self.observer is not None and call.queued:
            self.observer.background_changed(-1, 1)

    def _end(self, call: HandlerCall, ok: bool) -> None:
        observer = self.observer
        if observer is None:
            return
        if call.queued:
            call.queued = False
            observer.background_changed(0, -1)
        observer.event_finished(call.event, "done" if ok else "failed", call.trace)

    def _done(self, call: HandlerCall, ok: bool) -> None:
        self._settle(call, ok)
        self._end(call, ok)

    async def _adone(self, call: HandlerCall, ok: bool) -> None:
        await self._asettle(call, ok)
        self._end(call, ok)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based): exponential."""
        return float(self.retry_backoff * 2 ** (attempt - 1))

    def run(self, call: HandlerCall) -> None:
        """Every attempt from a thread, then settle the claim."""
        attempts = self.retries + 1
        self._begin(call)
        for attempt in range(1, attempts + 1):
            try:
                self.invoke(call)
            except Exception as exc:
                if attempt < attempts:
                    self.log_retry(call, attempt, attempts, self.delay(attempt), exc)
                    self.stopping.wait(self.delay(attempt))
                    continue
                self.give_up(call, attempts, exc)
                self._done(call, False)
                return
            self._done(call, True)
            return

    async def run_async(self, call: HandlerCall) -> None:
        """Every attempt on an event loop, then settle the claim; cancellation releases it."""
        import asyncio

        attempts = self.retries + 1
        self._begin(call)
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
                    await self._adone(call, False)
                    return
                await self._adone(call, True)
                return
        except asyncio.CancelledError:
            self.abandon(call, True, cancelled=True)
            await self._adone(call, False)
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

    def abandon(self, call: HandlerCall, started: bool, *, cancelled: bool = False) -> None:
        """Report an acknowledged event that shutdown keeps from running (``started=False``) or
        from finishing: one ERROR line, then ``on_give_up(event, AbandonedAtShutdown)``.

        A job that never started has its claim released, so a re-push is handled; a running
        thread keeps it, since it may still settle it before the process ends. A cancelled
        task (``cancelled``) releases its claim itself.
        """
        if cancelled:
            what = "cancelled at shutdown before its handler finished"
        elif started:
            what = "still running at shutdown, its handler may not finish"
        else:
            what = "not handled: shutdown came before its handler ran"
        logger.error(
            "acknowledged event %s %s%s (event_id=%s, request_id=%s)",
            safe(call.event.type),
            what,
            self.abandon_note(call),
            safe(call.event.event_id),
            safe(call.event.request_id),
        )
        if not started:
            self._done(call, False)
        if self.on_give_up is not None:
            try:
                self.on_give_up(call.event, AbandonedAtShutdown(started))
            except Exception:
                logger.exception("on_give_up failed (event_id=%s)", safe(call.event.event_id))

    def abandon_note(self, call: HandlerCall) -> str:
        """What happens next to an abandoned event (the journal says it is kept)."""
        return "; kept in the journal, replayed on the next start" if self.journaled else ""

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
    """The user's executor, or the built-in ones (created on first use), and their shutdown.

    With a journal, every deferred job goes through a :class:`~.journal.JournaledExecutor` in
    front of the chosen executor, and the journal's thread replays orphaned events on the pool.
    """

    def __init__(
        self,
        explicit: Executor | None,
        callback_workers: int,
        *,
        handler_threads: int | None = None,
        shutdown_timeout: float | None = None,
    ) -> None:
        self.explicit = explicit
        self.callback_workers = callback_workers
        self.handler_threads = handler_threads
        self.shutdown_timeout = shutdown_timeout
        self._lock = threading.Lock()
        self._threads: ThreadExecutor | None = None
        self._tasks: AsyncioExecutor | None = None
        self._callbacks: ThreadExecutor | None = None
        self._handler_pool: tuple[int, ThreadPoolExecutor] | None = None
        self._journal: SQLiteJournal | None = None
        self._dispatcher: Dispatcher | None = None

    def use_journal(self, dispatcher: Dispatcher, journal: SQLiteJournal) -> None:
        """Journal every deferred job of ``dispatcher``; start replaying (not in a gunicorn
        master, which only forks: each worker starts its own replay after the fork)."""
        from .shutdown import in_gunicorn_master

        self._journal = journal
        self._dispatcher = dispatcher
        dispatcher.background.journaled = True
        _JOURNALED.add(self)
        if not in_gunicorn_master():
            self.start()

    def start(self) -> None:
        """Start the journal's heartbeat and replay thread in this process (if journaled)."""
        if self._journal is not None:
            self._journal.start(self._replay)

    def _replay(self, entry: JournalEntry) -> bool:
        from .journal import JournaledExecutor

        target = self.for_sync()
        return isinstance(target, JournaledExecutor) and target.replay(entry)

    def _wrap(self, inner: Executor) -> Executor:
        if self._journal is None or self._dispatcher is None:
            return inner
        from .journal import JournaledExecutor

        return JournaledExecutor(self._dispatcher, self._journal, inner)

    def for_sync(self) -> Executor:
        """Where deferred work from sync callers goes: the user's executor or a thread pool."""
        if self.explicit is not None:
            return self._wrap(self.explicit)
        with self._lock:
            if self._threads is None:
                from .executors import ThreadExecutor

                self._threads = ThreadExecutor()
            threads = self._threads
        return self._wrap(threads)

    def for_async(self) -> Executor:
        """Where deferred work from coroutines goes: the user's executor or asyncio tasks."""
        return self._wrap(self.explicit if self.explicit is not None else self.tasks())

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

    def handler_pool(self) -> ThreadPoolExecutor | None:
        """Where sync handlers run for async callers: ``None`` for the loop's default executor,
        or this dispatcher's own pool of ``handler_threads`` threads."""
        size = self.handler_threads
        if size is None:
            return None
        found = self._handler_pool
        if found is not None and found[0] == os.getpid():
            return found[1]
        with self._lock:
            if self._handler_pool is None or self._handler_pool[0] != os.getpid():
                from concurrent.futures import ThreadPoolExecutor

                pool = ThreadPoolExecutor(size, thread_name_prefix="lark-events-handler")
                self._handler_pool = (os.getpid(), pool)
            return self._handler_pool[1]

    def _take(self) -> list[Executor]:
        with self._lock:
            owned: list[Executor | None] = [self._tasks, self._threads, self._callbacks]
            self._tasks = self._threads = self._callbacks = None
        return [e for e in [*owned, self.explicit] if e is not None]

    def budget(self, timeout: float | None) -> float:
        """The drain budget: ``timeout`` or the configured one, within the server's window."""
        from .shutdown import drain_budget

        return drain_budget(self.shutdown_timeout if timeout is None else timeout)

    def close(self, timeout: float | None) -> None:
        """Drain every executor within the budget in all; built-in ones are dropped."""
        deadline = time.monotonic() + self.budget(timeout)
        for executor in self._take():
            executor.close(_remaining(deadline))

    async def aclose(self, timeout: float | None) -> None:
        """The awaitable twin of :meth:`close`."""
        deadline = time.monotonic() + self.budget(timeout)
        for executor in self._take():
            await executor.aclose(_remaining(deadline))


_JOURNALED: weakref.WeakSet[Executors] = weakref.WeakSet()


def _start_journals_after_fork() -> None:
    # A gunicorn worker (or any forked child) replays on its own; the parent's thread is gone.
    for executors in list(_JOURNALED):
        executors.start()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_start_journals_after_fork)


def _remaining(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())
