"""The per-request work timed inside a benchmark server, and the same work in a hot loop.

With ``BENCH_INNER=1`` in its environment, a benchmark server wraps the work of each request (the
floor's ``check``, or ``Dispatcher.handle`` / ``handle_async``) in a :class:`Timer` and serves
``GET /_bench/inner``: the mean microseconds per call since the last read (``"<us> <calls>"``),
then resets. The driver compares that with :func:`hot_loop_us`, the same work on the same bytes
repeated in one process (what a microbenchmark measures), so that "the core costs more inside a
server" can be told apart from "everything costs more inside a server".

Both measure this thread's CPU time (``thread_time_ns``, as ``bench_core.py`` does): wall time
would count the moments another process had the core, which on a shared machine is most of the
difference. The timed code never awaits in these benchmarks (the handlers return at once).
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["ENV", "PATH", "Evictor", "Timer", "enabled", "fetch", "hot_loop_us"]

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
        #: What one reading of the clock adds to each timed call (a system call), taken off.
        clock = time.thread_time_ns
        self.overhead_ns = min(-clock() + clock() for _ in range(1000))

    def wrap(self, fn: Callable[..., T]) -> Callable[..., T]:
        """``fn``, timed."""
        clock = time.thread_time_ns

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
        clock = time.thread_time_ns

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
        mean = max(self.total_ns / max(self.calls, 1) - self.overhead_ns, 0) / 1000
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
    start = time.thread_time_ns()
    for i in range(count):
        one(i)
    return (time.thread_time_ns() - start) / count / 1000


class Evictor:
    """Other work between two requests, as a server does: ``kb`` KiB of memory copied and about
    as much in small Python objects read, so that each request starts with colder caches."""

    def __init__(self, kb: int) -> None:
        half = kb * 512
        self._src, self._dst = bytearray(half), bytearray(half)
        self._objects = [{"n": i} for i in range(kb * 2)]

    def __call__(self) -> None:
        self._dst[:] = self._src  # a copy without an allocation (no page faults)
        for obj in self._objects:
            obj["n"]
