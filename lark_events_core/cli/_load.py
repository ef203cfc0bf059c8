"""Load mode of ``send``: many fresh events at a fixed concurrency, then throughput and latency."""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import TextIO

from ..testing import SignedRequest
from ._http import Outcome, new_session, post

__all__ = ["Progress", "percentile", "run_load"]


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (``fraction`` in 0..1)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class Progress:
    """A progress bar on a terminal, or a plain line every 10 % otherwise."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._next_plain = 0.1
        self._last_draw = 0.0

    def advance(self) -> None:
        """Count one finished request and redraw when due."""
        self.done += 1
        fraction = self.done / self.total
        if self.tty:
            now = time.monotonic()
            if now - self._last_draw >= 0.05 or self.done == self.total:
                self._last_draw = now
                filled = int(30 * fraction)
                bar = "█" * filled + "·" * (30 - filled)
                self.stream.write(f"\r  [{bar}] {self.done}/{self.total}")
                if self.done == self.total:
                    self.stream.write("\n")
                self.stream.flush()
        elif fraction >= self._next_plain or self.done == self.total:
            while self._next_plain <= fraction:
                self._next_plain += 0.1
            self.stream.write(f"  progress: {self.done}/{self.total} ({fraction:.0%})\n")
            self.stream.flush()


async def run_load(
    url: str,
    factory: Callable[[], SignedRequest],
    count: int,
    concurrency: int,
    timeout: float,
) -> int:
    """Send ``count`` fresh events with ``concurrency`` in flight; print the figures.

    Requests are built (encrypted and signed) before the clock starts, so the figures measure the
    app, not this tool. Returns 0 when every answer was a 200.
    """
    requests = [factory() for _ in range(count)]
    workers = min(concurrency, count)
    print(f"sending {count} events to {url} with concurrency {workers}")
    progress = Progress(count)
    outcomes: list[Outcome] = []
    queue: asyncio.Queue[SignedRequest] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)

    async with new_session(workers) as session:

        async def worker() -> None:
            while True:
                try:
                    request = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                outcomes.append(await post(session, url, request, timeout))
                progress.advance()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(workers)))
        wall = time.perf_counter() - start

    latencies = sorted(o.elapsed * 1000 for o in outcomes if o.status is not None)
    statuses = Counter(
        str(o.status) if o.status is not None else (o.error or "?") for o in outcomes
    )
    ok = statuses.get("200", 0)
    print(f"finished in {wall:.2f} s")
    print(f"  throughput  {count / wall:9.1f} req/s")
    if latencies:
        print(
            f"  latency     p50 {percentile(latencies, 0.5):.1f} ms   "
            f"p90 {percentile(latencies, 0.9):.1f} ms   "
            f"p99 {percentile(latencies, 0.99):.1f} ms   max {latencies[-1]:.1f} ms"
        )
    print(f"  ok (200)    {ok}/{count}")
    errors = {k: v for k, v in statuses.items() if k != "200"}
    if errors:
        listed = ", ".join(f"{k} x{v}" for k, v in sorted(errors.items(), key=lambda kv: -kv[1]))
        print(f"  errors      {listed}")
        return 1
    print("  errors      none")
    return 0
