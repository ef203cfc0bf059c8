"""One code path for sync and async handlers, under sync and async callers.

- async caller, async handler: awaited.
- async caller, sync handler: run in a worker thread, so the event loop never blocks. The workers
  are dedicated threads fed by a ``SimpleQueue``: a hop costs 55-60% of ``run_in_executor``'s
  CPU (``benchmarks/bench_thread_hop.py``), with the same semantics: the caller's
  context variables, its exceptions, cancellation of a call not yet started, and a drain of the
  calls in flight at interpreter exit. (A handler registered with ``blocking=False`` never gets
  here: ``handlers.ainvoke`` calls it on the loop.)
- sync caller, sync handler: called.
- sync caller, async handler: run on one long-lived background event loop (so handlers may keep
  loop-bound clients between events), the caller's thread waits for the result.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from .blocking import watch

if TYPE_CHECKING:
    # asyncio and concurrent.futures are imported on first use: a WSGI app with sync handlers
    # never needs them, and they are the largest part of the package's import time.
    import asyncio
    import queue
    from concurrent.futures import Executor, Future

__all__ = [
    "ThreadWorkers",
    "background_loop",
    "call_async",
    "call_sync",
    "is_async_callable",
    "run_coroutine_sync",
]

T = TypeVar("T")


def is_async_callable(obj: object) -> bool:
    """Whether calling ``obj`` returns an awaitable (functions, partials, callable objects)."""
    import inspect  # local: only needed when a handler is registered

    while isinstance(obj, functools.partial):
        obj = obj.func
    if inspect.iscoroutinefunction(obj):
        return True
    call = getattr(obj, "__call__", None)  # noqa: B004 - we want the bound __call__ itself
    return call is not None and not inspect.isfunction(obj) and inspect.iscoroutinefunction(call)


class _LoopThread:
    """A daemon thread running an event loop, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        import asyncio

        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                threading.Thread(target=run, name="lark-events-loop", daemon=True).start()
                ready.wait()
                self._loop = loop
            return self._loop

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self.loop())

    def forget(self) -> None:
        """Drop the loop without touching it: after ``fork()`` its thread does not exist."""
        self._lock = threading.Lock()
        self._loop = None


_LOOP_THREAD = _LoopThread()
# A child forked after the loop started (gunicorn --preload) inherits the loop but not its thread;
# it must start its own on first use instead of waiting forever on a loop nobody runs.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_LOOP_THREAD.forget)


def background_loop() -> asyncio.AbstractEventLoop:
    """The shared background event loop that sync callers run coroutines on (started on demand)."""
    return _LOOP_THREAD.loop()


def run_coroutine_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the shared background loop and wait for its result."""
    return _LOOP_THREAD.submit(coro).result()


def call_sync(fn: Callable[[Any], Any], is_async: bool, arg: Any) -> Any:
    """Call a handler from a thread that is not running an event loop."""
    if is_async:
        return run_coroutine_sync(_await(watch(fn(arg), fn)))
    return fn(arg)


def _set_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.cancelled():
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.cancelled():
        future.set_exception(exc)


class ThreadWorkers:
    """Threads that run sync calls for coroutines, fed by one ``SimpleQueue``.

    A thread is started when a call finds none idle, up to ``max_workers`` (as many as
    ``ThreadPoolExecutor``'s default); beyond that, calls wait in the queue. Each result goes back
    to its loop with ``call_soon_threadsafe``. A call whose future was cancelled before it started
    is skipped. At interpreter exit the calls queued or running are finished first.
    """

    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = max_workers or min(32, (os.cpu_count() or 1) + 4)
        self.reset()

    def reset(self) -> None:
        """Forget every thread (after ``fork()`` they do not exist in the child)."""
        # Made on first use: a WSGI app with sync handlers never needs the queue module.
        self._queue: queue.SimpleQueue[tuple[Any, ...] | None] | None = None
        self._lock = threading.Lock()
        self._idle = 0
        self._threads: list[threading.Thread] = []
        self._exit_hook = False

    def submit(
        self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], call: Any
    ) -> None:
        """Run ``call()`` in a worker thread and settle ``future`` on ``loop`` with its outcome."""
        lock = self._lock
        lock.acquire()
        try:
            if self._idle:
                self._idle -= 1
            elif len(self._threads) < self.max_workers:
                self._spawn()
            work = self._queue
        finally:
            lock.release()
        assert work is not None  # made with the first thread
        work.put((loop, future, call))

    def _spawn(self) -> None:
        if self._queue is None:
            import queue

            self._queue = queue.SimpleQueue()
        thread = threading.Thread(
            target=self._work, name=f"lark-events-worker-{len(self._threads)}", daemon=True
        )
        thread.start()
        self._threads.append(thread)
        if not self._exit_hook:
            self._exit_hook = True
            # As concurrent.futures does: runs before daemon threads are stopped at exit.
            register = getattr(threading, "_register_atexit", None)
            with contextlib.suppress(RuntimeError):  # the interpreter is already shutting down
                if register is not None:
                    register(self.drain)

    def _work(self) -> None:
        assert self._queue is not None
        get = self._queue.get
        lock = self._lock
        while True:
            item = get()
            if item is None:
                return
            loop, future, call = item
            del item
            how: Callable[[asyncio.Future[Any], Any], None] | None = None
            if not future.cancelled():
                try:
                    outcome = call()
                    how = _set_result
                except BaseException as exc:
                    outcome, how = exc, _set_exception  # for the awaiting coroutine, as executors
                    del exc
            # Idle before the result goes back: the caller's next call, submitted as soon as the
            # loop wakes, then finds this thread (its caches warm) instead of starting another.
            lock.acquire()
            self._idle += 1
            lock.release()
            if how is not None:
                try:  # noqa: SIM105 - not contextlib.suppress: a context manager per call
                    loop.call_soon_threadsafe(how, future, outcome)
                except RuntimeError:  # the loop was closed while the call ran: nobody waits
                    pass
                del outcome
            del loop, future, call, how

    def drain(self) -> None:
        """Let every queued and running call finish, then stop the threads."""
        with self._lock:
            threads, self._threads = self._threads, []
            self._idle = 0
        work = self._queue
        if work is None:
            return
        for _ in threads:
            work.put(None)
        for thread in threads:
            thread.join()


_WORKERS = ThreadWorkers()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_WORKERS.reset)


async def call_async(
    fn: Callable[[Any], Any], is_async: bool, arg: Any, pool: Executor | None = None
) -> Any:
    """Call a handler from a coroutine without blocking the running loop: a sync one runs in a
    thread of ``pool`` (default: :class:`ThreadWorkers`, fed by a queue: cheaper than the loop's
    default executor)."""
    if is_async:
        return await watch(fn(arg), fn)
    import asyncio
    import contextvars

    loop = asyncio.get_running_loop()
    if pool is not None:  # a dispatcher's own pool (handler_threads=)
        ctx = contextvars.copy_context()
        return await loop.run_in_executor(pool, functools.partial(ctx.run, fn, arg))
    future = loop.create_future()
    _WORKERS.submit(loop, future, functools.partial(contextvars.copy_context().run, fn, arg))
    return await future


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable
