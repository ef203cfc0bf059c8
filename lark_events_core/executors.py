"""Where deferred handlers run after the response: executors.

A deferred event is acknowledged with 200 first and handled afterwards by an :class:`Executor`:

- :class:`ThreadExecutor` — a bounded thread pool, the default for sync callers (WSGI). When all
  workers are busy and the queue is full, ``submit`` waits up to ``submit_timeout`` seconds for a
  slot, then refuses: the dispatcher releases the claim and answers 503, so the platform re-pushes
  the event later. Nothing is dropped silently and memory stays bounded.
- :class:`AsyncioExecutor` — tracked asyncio tasks, the default for async callers (aiohttp, ASGI,
  long connection), bounded in the same way and drained by ``aclose()``.
- ``lark_events_core.contrib.celery.CeleryExecutor`` — a Celery task with late acknowledgement.

An executor only schedules: the :class:`DeferredJob` it receives knows how to run the handler,
retry it and settle the deduplication claim.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor as _Pool
from concurrent.futures import wait as _wait_futures
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from . import _invoke

if TYPE_CHECKING:
    from .dispatcher import HandlerCall

__all__ = ["AsyncioExecutor", "DeferredJob", "Executor", "ThreadExecutor"]

logger = logging.getLogger("lark_events")


@dataclass(frozen=True, slots=True)
class DeferredJob:
    """One handler call to make after the response.

    ``run`` (from a thread) and ``run_async`` (on an event loop) make every attempt, log, and
    settle the deduplication claim; executors call exactly one of them once.
    """

    call: HandlerCall
    run: Callable[[], None]
    run_async: Callable[[], Awaitable[None]]

    @property
    def event_id(self) -> str | None:
        """The event's id, for log lines."""
        return self.call.event.event_id


@runtime_checkable
class Executor(Protocol):
    """Runs deferred jobs in the background. ``submit*`` return ``False`` to refuse a job."""

    def submit(self, job: DeferredJob) -> bool:
        """Schedule ``job`` from a thread without a running loop (WSGI)."""
        ...

    async def submit_async(self, job: DeferredJob) -> bool:
        """Schedule ``job`` from a coroutine (aiohttp, ASGI, long connection)."""
        ...

    def close(self, timeout: float | None = None) -> bool:
        """Stop accepting jobs, wait up to ``timeout`` s for running ones; ``True`` if drained."""
        ...

    async def aclose(self, timeout: float | None = None) -> bool:
        """The awaitable twin of :meth:`close`."""
        ...


class ThreadExecutor:
    """A bounded thread pool: ``max_workers`` threads, at most ``max_pending`` jobs held.

    The pool is created on first use, so a dispatcher built before a fork (gunicorn ``--preload``)
    gets fresh threads in each worker.
    """

    def __init__(
        self,
        max_workers: int = 8,
        max_pending: int = 256,
        submit_timeout: float = 1.0,
        name: str = "lark-events-bg",
    ) -> None:
        if max_workers < 1 or max_pending < max_workers:
            raise ValueError("need max_workers >= 1 and max_pending >= max_workers")
        if submit_timeout < 0:
            raise ValueError("submit_timeout must be >= 0")
        self.max_workers = max_workers
        self.max_pending = max_pending
        self.submit_timeout = submit_timeout
        self.name = name
        self._slots = threading.BoundedSemaphore(max_pending)
        self._lock = threading.Lock()
        self._pool: _Pool | None = None
        self._pending: set[Future[Any]] = set()
        self._closed = False

    @property
    def pending(self) -> int:
        """Jobs queued or running."""
        return len(self._pending)

    def submit(self, job: DeferredJob) -> bool:
        """Queue ``job.run``; waits up to ``submit_timeout`` s for a slot, ``False`` if none."""
        return self.submit_call(job.run) is not None

    async def submit_async(self, job: DeferredJob) -> bool:
        """Queue ``job.run`` from a coroutine; the wait for a slot happens off the loop."""
        if self._slots.acquire(blocking=False):
            return self._start(job.run) is not None
        return await asyncio.get_running_loop().run_in_executor(None, self.submit, job)

    def submit_call(
        self, fn: Callable[[], Any], timeout: float | None = None
    ) -> Future[Any] | None:
        """Run ``fn`` in the pool; the future, or ``None`` when closed or full after ``timeout``."""
        wait = self.submit_timeout if timeout is None else timeout
        if self._closed or not self._slots.acquire(timeout=wait):
            return None
        return self._start(fn)

    def _start(self, fn: Callable[[], Any]) -> Future[Any] | None:
        # Called with a slot held; gives it back when the job ends (or cannot start).
        with self._lock:
            if self._closed:
                self._slots.release()
                return None
            if self._pool is None:
                self._pool = _Pool(self.max_workers, thread_name_prefix=self.name)
            future = self._pool.submit(fn)
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)
        self._slots.release()

    def close(self, timeout: float | None = None) -> bool:
        """Refuse new jobs, wait up to ``timeout`` s for queued and running ones."""
        with self._lock:
            self._closed = True
            pending = set(self._pending)
            pool = self._pool
        _, not_done = _wait_futures(pending, timeout=timeout)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=False)
        if not_done:
            logger.warning(
                "%s: %d background job(s) still running after %ss at shutdown",
                self.name,
                len(not_done),
                timeout,
            )
        return not not_done

    async def aclose(self, timeout: float | None = None) -> bool:
        """:meth:`close` without blocking the running loop."""
        return await asyncio.get_running_loop().run_in_executor(None, self.close, timeout)


class AsyncioExecutor:
    """Deferred jobs as asyncio tasks: at most ``max_tasks`` at once, tracked until they end.

    From a coroutine, tasks run on the caller's loop. From a thread without a loop (WSGI), they run
    on lark-events' shared background loop. ``aclose()`` waits for the tasks of the current loop
    and cancels the ones still running after ``timeout`` (a cancelled job logs its event id and
    releases its claim); ``close()`` drains the background loop's tasks.
    """

    def __init__(self, max_tasks: int = 1000, submit_timeout: float = 1.0) -> None:
        if max_tasks < 1 or submit_timeout < 0:
            raise ValueError("max_tasks must be >= 1 and submit_timeout >= 0")
        self.max_tasks = max_tasks
        self.submit_timeout = submit_timeout
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def pending(self) -> int:
        """Tasks not finished yet."""
        return len(self._tasks)

    async def submit_async(self, job: DeferredJob) -> bool:
        """Start ``job.run_async()`` as a task; when full, wait up to ``submit_timeout`` s."""
        if self._closed:
            return False
        if len(self._tasks) >= self.max_tasks:
            # Full is rare and brief; polling keeps this free of per-loop synchronisation objects.
            deadline = time.monotonic() + self.submit_timeout
            while len(self._tasks) >= self.max_tasks:
                if time.monotonic() >= deadline:
                    return False
                await asyncio.sleep(0.01)
        self.track(asyncio.ensure_future(job.run_async()))
        return True

    def track(self, task: asyncio.Task[None]) -> None:
        """Keep ``task`` referenced until it ends, and drain it on close."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def submit(self, job: DeferredJob) -> bool:
        """Start ``job`` on the shared background loop (sync callers)."""
        return _invoke.run_coroutine_sync(self.submit_async(job))

    async def aclose(self, timeout: float | None = None) -> bool:
        """Refuse new jobs, wait for this loop's tasks, cancel what is left after ``timeout``."""
        self._closed = True
        loop = asyncio.get_running_loop()
        mine = {t for t in self._tasks if t.get_loop() is loop}
        if not mine:
            return True
        _, not_done = await asyncio.wait(mine, timeout=timeout)
        if not_done:
            logger.warning(
                "%d background task(s) still running after %ss at shutdown; cancelling them",
                len(not_done),
                timeout,
            )
            for task in not_done:
                task.cancel()
            await asyncio.wait(not_done, timeout=5.0)
        return not not_done

    def close(self, timeout: float | None = None) -> bool:
        """Drain the tasks started from sync callers on the shared background loop."""
        if not any(True for _ in self._tasks):
            self._closed = True
            return True
        return _invoke.run_coroutine_sync(self.aclose(timeout))
