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
import atexit
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from . import _invoke

if TYPE_CHECKING:
    from .handlers import HandlerCall

__all__ = ["AsyncioExecutor", "DeferredJob", "Executor", "ThreadExecutor"]

logger = logging.getLogger("lark_events")


@dataclass(slots=True)  # not frozen: a frozen __init__ costs a microsecond per event
class DeferredJob:
    """One handler call to make after the response.

    ``run`` (from a thread) and ``run_async`` (on an event loop) make every attempt, log, and
    settle the deduplication claim; executors call exactly one of them once. ``abandon`` is for
    an executor that stops before the job ran (``started=False``) or finished (``True``): it logs
    the event at ERROR and hands it to ``on_give_up``, so no acknowledged event goes silently.
    """

    call: HandlerCall
    run: Callable[[], None]
    run_async: Callable[[], Coroutine[Any, Any, None]]
    abandon: Callable[[bool], None] | None = None

    @property
    def event_id(self) -> str | None:
        """The event's id, for log lines."""
        return self.call.event.event_id

    def report_abandoned(self, started: bool) -> None:
        """Call ``abandon`` (if set) without letting it raise."""
        if self.abandon is None:
            return
        try:
            self.abandon(started)
        except Exception:
            logger.exception("reporting an abandoned job failed")


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


class _Task:
    """One queued callable; ``job`` is set for deferred jobs, which are reported if abandoned."""

    __slots__ = ("dropped", "fn", "job", "reported", "started")

    def __init__(self, fn: Callable[[], Any], job: DeferredJob | None) -> None:
        self.fn = fn
        self.job = job
        self.reported = False  # abandoned and reported by a close(): never reported again
        self.started = False
        self.dropped = False


class ThreadExecutor:
    """A bounded thread pool: at most ``max_workers`` threads and ``max_pending`` jobs held.

    Submitting is a lock, a counter and a put on a C queue, so deferring costs the request about a
    microsecond. Threads start on demand (never more than there are pending jobs), so a dispatcher
    built before a fork (gunicorn ``--preload``) gets fresh threads in each worker. Threads are
    daemons, and an exit hook drains every pool (within :func:`~lark_events_core.shutdown.
    drain_budget`) when the interpreter exits, so work acknowledged before a normal exit still
    runs. Jobs still queued or running when a drain ends are reported one by one (ERROR line and
    ``on_give_up``); the queued ones never start.
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
        self._closed = False
        self._reset()
        _LIVE_POOLS.add(self)

    def _reset(self) -> None:
        # Also called in a forked child: the parent's threads do not exist there.
        self._queue: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._pending = 0  # queued or running
        self._waiting = 0  # submitters and closers waiting for _changed
        self._threads = 0
        self._jobs: set[_Task] = set()  # deferred jobs queued or running

    @property
    def pending(self) -> int:
        """Jobs queued or running."""
        return self._pending

    def submit(self, job: DeferredJob) -> bool:
        """Queue ``job.run``; waits up to ``submit_timeout`` s for a slot, ``False`` if none."""
        return self._put(_Task(job.run, job), self.submit_timeout)

    async def submit_async(self, job: DeferredJob) -> bool:
        """Queue ``job.run`` from a coroutine; a wait for a slot happens off the loop."""
        if self._put(_Task(job.run, job), 0.0):
            return True
        if self._closed or self.submit_timeout == 0:
            return False
        return await asyncio.get_running_loop().run_in_executor(None, self.submit, job)

    def submit_call(
        self, fn: Callable[[], Any], timeout: float | None = None
    ) -> Future[Any] | None:
        """Run ``fn`` in the pool; its future, or ``None`` when closed or full after ``timeout``."""
        future: Future[Any] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn()
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)

        accepted = self._put(_Task(run, None), self.submit_timeout if timeout is None else timeout)
        return future if accepted else None

    def _put(self, task: _Task, timeout: float) -> bool:
        with self._lock:
            if self._closed:
                return False
            if self._pending >= self.max_pending:
                if timeout <= 0:
                    return False
                self._waiting += 1
                try:
                    self._changed.wait_for(
                        lambda: self._closed or self._pending < self.max_pending, timeout
                    )
                finally:
                    self._waiting -= 1
                if self._closed or self._pending >= self.max_pending:
                    return False
            self._pending += 1
            if task.job is not None:
                self._jobs.add(task)
            start = self._threads < self.max_workers and self._pending > self._threads
            if start:
                self._threads += 1
                number = self._threads
        if start:
            name = f"{self.name}-{number}"
            threading.Thread(target=self._work, name=name, daemon=True).start()
        self._queue.put(task)
        return True

    def _work(self) -> None:
        get = self._queue.get
        while True:
            task = get()
            if task is None:
                return
            with self._lock:
                run = not task.dropped
                task.started = run
            try:
                if run:
                    task.fn()
            except BaseException:  # jobs handle their own errors; this is a last resort
                logger.exception("%s: a background job raised", self.name)
            finally:
                with self._lock:
                    self._pending -= 1
                    self._jobs.discard(task)
                    if self._waiting:
                        self._changed.notify_all()

    def close(self, timeout: float | None = None) -> bool:
        """Refuse new jobs, wait up to ``timeout`` s for queued and running ones.

        Jobs left after ``timeout`` are reported (one ERROR line each, and ``on_give_up``); the
        queued ones are dropped so they never start in a process that is going away.
        """
        with self._lock:
            self._closed = True
            self._changed.notify_all()  # submitters waiting for a slot give up now
            self._waiting += 1
            try:
                drained = self._changed.wait_for(lambda: self._pending == 0, timeout)
            finally:
                self._waiting -= 1
            threads = self._threads
            # A second close() (two exit hooks) reports only what the first did not.
            left = [t for t in self._jobs if not t.dropped and not t.reported]
            for task in left:
                task.dropped = not task.started
                task.reported = True
        for _ in range(threads):
            self._queue.put(None)  # idle threads exit; busy ones after their job
        if not drained and left:
            logger.error(
                "%s: %d background job(s) still queued or running after %.1fs at shutdown; "
                "each is reported below",
                self.name,
                len(left),
                timeout or 0.0,
            )
            for task in left:
                if task.job is not None:
                    task.job.report_abandoned(task.started)
        _LIVE_POOLS.discard(self)
        return drained

    async def aclose(self, timeout: float | None = None) -> bool:
        """:meth:`close` without blocking the running loop."""
        return await asyncio.get_running_loop().run_in_executor(None, self.close, timeout)


_LIVE_POOLS: weakref.WeakSet[ThreadExecutor] = weakref.WeakSet()


@atexit.register
def _drain_at_exit() -> None:
    from .shutdown import drain_budget

    for pool in list(_LIVE_POOLS):
        if pool.pending:
            pool.close(drain_budget())


def _reset_after_fork() -> None:
    for pool in list(_LIVE_POOLS):
        pool._reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


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
        self.track(asyncio.get_running_loop().create_task(job.run_async()))
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
            logger.error(
                "%d background task(s) still running after %.1fs at shutdown; cancelling them, "
                "each is reported below",
                len(not_done),
                timeout or 0.0,
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
