"""Async handlers that block the event loop, named in a warning.

An ``async def`` handler that calls blocking code (``time.sleep``, ``requests.get``, a sync
database driver) stalls every other request, ping and handler on its event loop, silently. Each
async handler is therefore driven step by step: the time from one resumption to its next
``await`` that suspends is measured, and a step longer than :data:`BLOCKING_WARNING` seconds is
logged once per handler (``lark_events`` logger, WARNING) with the handler's name. The cost is two
clock reads per suspension.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Generator
from time import perf_counter
from typing import Any, TypeVar

__all__ = ["BLOCKING_WARNING", "watch"]

T = TypeVar("T")

logger = logging.getLogger("lark_events")

#: Seconds an async handler may run without yielding to the event loop before a warning
#: (asyncio's own debug threshold, ``slow_callback_duration``, is 0.1 s). ``None`` disables it.
BLOCKING_WARNING: float | None = 0.1

_warned: set[str] = set()
_lock = threading.Lock()


def _name(fn: Callable[..., Any]) -> str:
    target = getattr(fn, "func", fn)  # functools.partial
    module = getattr(target, "__module__", None) or "?"
    qualname = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"{module}.{qualname}"


def _blocked(fn: Callable[..., Any], seconds: float) -> None:
    name = _name(fn)
    with _lock:
        if name in _warned:
            return
        _warned.add(name)
    logger.warning(
        "async handler %s blocked the event loop for %.2f s without awaiting: every other "
        "request on this loop waited. Await non-blocking calls, wrap blocking ones in "
        "asyncio.to_thread(...), or make the handler a plain def (it then runs in a thread)",
        name,
        seconds,
    )


class _Watched:
    """Awaits ``coro`` and times each step it runs on the loop."""

    __slots__ = ("_coro", "_fn", "_limit")

    def __init__(self, coro: Any, fn: Callable[..., Any], limit: float) -> None:
        self._coro = coro
        self._fn = fn
        self._limit = limit

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, limit = self._coro, self._limit
        value: Any = None
        error: BaseException | None = None
        while True:
            start = perf_counter()
            try:
                step = coro.send(value) if error is None else coro.throw(error)
            except StopIteration as stop:
                self._check(perf_counter() - start, limit)
                return stop.value
            except BaseException:
                self._check(perf_counter() - start, limit)
                raise
            self._check(perf_counter() - start, limit)
            value, error = None, None
            try:
                value = yield step
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation, thrown into the handler
                error = exc

    def _check(self, elapsed: float, limit: float) -> None:
        if elapsed > limit:
            _blocked(self._fn, elapsed)


def watch(awaitable: Awaitable[T], fn: Callable[..., Any]) -> Awaitable[T]:
    """``awaitable`` (the coroutine ``fn`` returned), timed step by step; itself when the
    warning is off or it is not a coroutine."""
    limit = BLOCKING_WARNING
    if limit is None or not hasattr(awaitable, "send") or not hasattr(awaitable, "throw"):
        return awaitable
    return _Watched(awaitable, fn, limit)
