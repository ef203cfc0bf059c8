"""Thread-hop benchmark: a sync handler called from a coroutine, one run.

Cost per call of ``await call_async(fn, False, arg)`` (dedicated worker threads fed by a
``SimpleQueue``, what the core uses for sync handlers under aiohttp and ASGI) against
``await loop.run_in_executor(None, functools.partial(ctx.run, fn, arg))`` (what it used before),
both copying the caller's context. Calls are awaited one after another, as one request at a time;
interleaved rounds, median round: wall time (the latency of a hop, mostly waiting for the woken
thread to run) and the process's CPU time, all threads (what a hop costs a busy server). The
ratio is printed last.

    .venv/bin/python benchmarks/bench_thread_hop.py [--calls 5000] [--rounds 9]
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import functools
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from lark_events_core._invoke import call_async


def handler(arg: int) -> int:
    """A handler that does nothing: the hop is all that is measured."""
    return arg + 1


async def executor_hop(arg: int) -> Any:
    """The previous path: the loop's default ThreadPoolExecutor."""
    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()
    return await loop.run_in_executor(None, functools.partial(ctx.run, handler, arg))


async def worker_hop(arg: int) -> Any:
    """The core's path: dedicated worker threads fed by a SimpleQueue."""
    return await call_async(handler, False, arg)


async def measure(calls: int, rounds: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) microseconds per call over interleaved rounds."""
    variants: dict[str, Callable[[int], Awaitable[Any]]] = {
        "run_in_executor": executor_hop,
        "worker threads (core)": worker_hop,
    }
    samples: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for hop in variants.values():
        for i in range(200):
            assert await hop(i) == i + 1
    for round_no in range(rounds):
        order = list(variants.items())
        for name, hop in order if round_no % 2 == 0 else order[::-1]:
            start, cpu_start = time.perf_counter(), time.process_time()
            for i in range(calls):
                await hop(i)
            samples[name].append((time.perf_counter() - start) / calls * 1e6)
            cpu[name].append((time.process_time() - cpu_start) / calls * 1e6)
    return {
        name: (statistics.median(values), statistics.median(cpu[name]))
        for name, values in samples.items()
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the results, the ratio last."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=5000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds")
    args = parser.parse_args(argv)
    results = asyncio.run(measure(args.calls, args.rounds))
    print(f"per call: median of {args.rounds} interleaved rounds x {args.calls} calls")
    for name, (wall, cpu) in results.items():
        print(f"  {name:24s} {wall:8.2f} us wall  {cpu:8.2f} us CPU")
    ratio = results["run_in_executor"][0] / results["worker threads (core)"][0]
    print(f"ratio: the core's hop is {ratio:.2f}x faster than run_in_executor")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
