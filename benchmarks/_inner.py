"""The per-request work timed inside a benchmark server, and the same work in a hot loop.

With ``BENCH_INNER=1`` in its environment, a benchmark server wraps the work of each request (the
floor's ``check``, or ``Dispatcher.handle`` / ``handle_async``) in a :class:`Timer` and serves
``GET /_bench/inner``: the mean microseconds per call since the last read (``"<us> <calls>"``),
then resets. The driver compares that with :func:`hot_loop_us`, the same work on the same bytes
repeated in one process (what a microbenchmark measures), so that "the core costs more inside a
server" can be told apart from "everything costs more inside a server".

The timer is wall time (``perf_counter_ns``) around code that never awaits in these benchmarks
(the handlers return at once), so it is the call's CPU time unless the process is preempted.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["ENV", "PATH", "Timer", "enabled", "fetch", "hot_loop_us"]

ENV = "BENCH_INNER"
PATH = "/_bench/inner"
T = TypeVar("T")


def enabled() -> bool:
    """Whether this server process should time its per-request work."""
    return os.environ.get(ENV) == "1"


class Timer:
    """Accumulates the time of the calls it wraps."""

    def __init__(self) -> None:
        self.total_ns = 0
        self.calls = 0

    def wrap(self, fn: Callable[..., T]) -> Callable[..., T]:
        """``fn``, timed."""
        clock = time.perf_counter_ns

        def timed(*args: Any, **kwargs: Any) -> T:
            start = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                self.total_ns += clock() - start
                self.calls += 1

        return timed

    def wrap_async(self, fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
        """The coroutine function ``fn``, timed from its call to its result."""
        clock = time.perf_counter_ns

        async def timed(*args: Any, **kwargs: Any) -> T:
            start = clock()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.total_ns += clock() - start
                self.calls += 1

        return timed

    def take(self) -> str:
        """``"<mean us> <calls>"`` since the last take, then reset."""
        mean = self.total_ns / max(self.calls, 1) / 1000
        out = f"{mean:.3f} {self.calls}"
        self.total_ns = self.calls = 0
        return out


def fetch(port: int) -> tuple[float, int]:
    """Read (and reset) a server's timer: the mean microseconds and the number of calls."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", PATH)
        mean, calls = conn.getresponse().read().decode().split()
    finally:
        conn.close()
    return float(mean), int(calls)


def hot_loop_us(one: Callable[[int], Any], count: int) -> float:
    """Mean microseconds of ``one(i)`` for ``i`` in ``range(count)``, in a hot loop."""
    start = time.perf_counter_ns()
    for i in range(count):
        one(i)
    return (time.perf_counter_ns() - start) / count / 1000
