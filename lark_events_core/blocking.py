"""Async handlers that block the event loop, named in a warning.

An ``async def`` handler that calls blocking code (``time.sleep``, ``requests.get``, a sync
database driver) stalls every other request, ping and handler on its event loop, silently. Each
async handler is therefore driven step by step: the time from one resumption to its next
``await`` that suspends is measured, and a step longer than :data:`BLOCKING_WARNING` seconds is
logged once per handler (``lark_events`` logger, WARNING) with the handler's name. The first 100
calls of each handler are watched, then one in 64: a handler that blocks is named soon, and a
busy one pays almost nothing.
"""

from __future__ import annotations

import contextlib
import threading
import types
from collections.abc import Awaitable, Callable, Generator
from time import perf_counter
from typing import Any, TypeVar

from ._log import logger, safe

__all__ = ["BLOCKING_WARNING", "held_loop", "watch"]

T = TypeVar("T")

#: Seconds an async handler may run without yielding to the event loop before a warning
#: (asyncio's own debug threshold, ``slow_callback_duration``, is 0.1 s). ``None`` disables it.
BLOCKING_WARNING: float | None = 0.1

#: Every call of a handler is watched at first, then one call in :data:`_THEN_ONE_IN`, so that
#: a busy handler pays the driving cost (about 2 µs a call) only now and then.
_ALWAYS = 100
_THEN_ONE_IN = 64
_MAX_TRACKED = 10_000

_warned: set[str] = set()
_lock = threading.Lock()
_calls: dict[Callable[..., Any], int] = {}


def _name(fn: Callable[..., Any]) -> str:
    target = getattr(fn, "func", fn)  # functools.partial
    module = getattr(target, "__module__", None) or "?"
    qualname = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"{module}.{qualname}"


def _first(name: str) -> bool:
    """Whether ``name`` is named now for the first time: each is named once per process."""
    with _lock:
        if name in _warned:
            return False
        _warned.add(name)
        return True


def _blocked(fn: Callable[..., Any], seconds: float) -> None:
    name = _name(fn)
    with _lock, contextlib.suppress(TypeError):
        _calls[fn] = -(2**62)  # named once: never watched again
    if not _first(name):
        return
    logger.warning(
        "async handler %s blocked the event loop for %.2f s without awaiting: every other "
        "request on this loop waited. Await non-blocking calls, wrap blocking ones in "
        "asyncio.to_thread(...), or make the handler a plain def (it then runs in a thread)",
        name,
        seconds,
    )


def held_loop(event_type: str, seconds: float) -> None:
    """Name, once per event type, the sync ``blocking=False`` handler that held the loop for
    ``seconds`` (the caller compares them with :data:`BLOCKING_WARNING`)."""
    # A space never occurs in the module-qualified names _blocked() records: no clash.
    if not _first(f"blocking=False {event_type}"):  # registered types only: a bounded set
        return
    logger.warning(
        "the sync handler for %s, registered with blocking=False, held the event loop for "
        "%.2f s: every other request on this loop waited. Drop blocking=False (it then runs in "
        "a worker thread) or make it async def",
        safe(event_type),
        seconds,
    )


@types.coroutine
def _watched(coro: Any, fn: Callable[..., Any], limit: float) -> Generator[Any, Any, Any]:
    """Drive ``coro`` as ``await`` would, timing each step it runs on the loop."""
    send, throw = coro.send, coro.throw
    value: Any = None
    error: BaseException | None = None
    while True:
        start = perf_counter()
        try:
            step = send(value) if error is None else throw(error)
        except StopIteration as stop:
            elapsed = perf_counter() - start
            if elapsed > limit:
                _blocked(fn, elapsed)
            return stop.value
        except BaseException:
            elapsed = perf_counter() - start
            if elapsed > limit:
                _blocked(fn, elapsed)
            raise
        elapsed = perf_counter() - start
        if elapsed > limit:
            _blocked(fn, elapsed)
        value, error = None, None
        try:
            value = yield step
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # cancellation, thrown into the handler
            error = exc


def watch(awaitable: Awaitable[T], fn: Callable[..., Any]) -> Awaitable[T]:
    """``awaitable`` (the coroutine ``fn`` returned), timed step by step when sampled; itself when
    the warning is off, ``fn`` was already named, or it is not a coroutine."""
    limit = BLOCKING_WARNING
    if limit is None or type(awaitable) is not types.CoroutineType:
        return awaitable
    try:
        calls = _calls.get(fn, 0) + 1  # a lost update between threads only shifts the sampling
    except TypeError:  # an unhashable callable object: watch every call
        calls = 1
    else:
        if calls == 1 and len(_calls) >= _MAX_TRACKED:
            _calls.clear()  # handlers made on the fly: forget them rather than grow
        _calls[fn] = calls
        if (calls > _ALWAYS and calls % _THEN_ONE_IN) or calls < 0:
            return awaitable
    watched: Awaitable[T] = _watched(awaitable, fn, limit)
    return watched
