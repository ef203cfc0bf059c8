"""One code path for sync and async handlers, under sync and async callers.

- async caller, async handler: awaited.
- async caller, sync handler: run in a worker thread, so the event loop never blocks.
- sync caller, sync handler: called.
- sync caller, async handler: run on one long-lived background event loop (so handlers may keep
  loop-bound clients between events), the caller's thread waits for the result.
"""

from __future__ import annotations

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
    from concurrent.futures import Executor, Future

__all__ = [
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


async def call_async(
    fn: Callable[[Any], Any], is_async: bool, arg: Any, pool: Executor | None = None
) -> Any:
    """Call a handler from a coroutine without blocking the running loop: a sync one runs in a
    thread of ``pool`` (default: the loop's default executor)."""
    if is_async:
        return await watch(fn(arg), fn)
    import asyncio
    import contextvars

    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()
    return await loop.run_in_executor(pool, functools.partial(ctx.run, fn, arg))


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable
