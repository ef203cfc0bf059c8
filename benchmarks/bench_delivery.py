"""Delivery benchmark: what deduplication and deferral cost, measured in one run.

1. Per-event cost of ``Dispatcher.handle`` with no store, the in-memory store and the Redis store
   (``REDIS_URL``, default ``redis://127.0.0.1:6379/0``; skipped when unreachable), over distinct
   pre-built requests (encrypted and signed as the platform sends them, and plain), each variant
   measured in interleaved rounds; the best round counts.
2. Time to answer with a 1-second handler run inline, the same handler deferred, and an empty
   handler (sync ``handle`` with the thread pool, and ``handle_async`` with asyncio tasks), after
   8 untimed requests that start the pool's threads (a once-per-process cost).

Ratios are printed last. Targets: the in-memory store adds under 5% to the core's per-event cost;
a deferred 1-second handler answers as fast as an empty handler.

    .venv/bin/python benchmarks/bench_delivery.py [--events 2000] [--rounds 25]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lark_events_core import Dispatcher, MemoryDedupStore, Request
from lark_events_core.testing import make_event, sign_event

KEY = "bench-delivery-key"
TOKEN = "bench-delivery-token"
MESSAGE = "im.message.receive_v1"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
#: Requests sent before timing answers: they start the pool's 8 threads (once per process).
WARMUP = 8


def requests_for(n: int, *, encrypted: bool) -> list[Request]:
    out = []
    for _ in range(n):
        body = make_event(MESSAGE, {"message": {"message_id": "om_x"}}, token=TOKEN)
        signed = sign_event(body, encrypt_key=KEY if encrypted else None)
        out.append(signed.as_request())
    return out


def redis_up() -> bool:
    parts = urlsplit(REDIS_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 1):
            return True
    except OSError:
        return False


def build(store: str, encrypted: bool) -> Dispatcher:
    dedup: Any
    if store == "none":
        dedup = False
    elif store == "memory":
        dedup = MemoryDedupStore()
    else:
        from lark_events_core.redis_store import RedisDedupStore

        dedup = RedisDedupStore(REDIS_URL, prefix=f"lark-bench:{uuid.uuid4().hex}:")
    d = Dispatcher(KEY if encrypted else None, TOKEN, dedup=dedup)
    d.register(MESSAGE, lambda e: None)
    return d


def per_event(stores: list[str], encrypted: bool, events: int, rounds: int) -> dict[str, float]:
    reqs = requests_for(events, encrypted=encrypted)
    best = {s: float("inf") for s in stores}
    for _ in range(rounds):
        for store in stores:  # interleaved, so drift on a shared machine hits every variant
            d = build(store, encrypted)
            handle = d.handle
            started = time.perf_counter()
            for r in reqs:
                handle(r)
            elapsed = (time.perf_counter() - started) / events
            best[store] = min(best[store], elapsed)
            cleanup(d)
    return best


def cleanup(d: Dispatcher) -> None:
    store = d.dedup
    client = getattr(store, "client", None)
    prefix = getattr(store, "prefix", None)
    if client is not None and prefix:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for i in range(0, len(keys), 1000):
            client.delete(*keys[i : i + 1000])
        client.close()


def answer_times(kind: str, count: int) -> list[float]:
    d = Dispatcher(KEY, TOKEN)
    handler: Callable[[Any], None] = (
        (lambda e: None) if kind == "empty" else (lambda e: time.sleep(1))
    )
    d.register(MESSAGE, handler, deferred=kind == "deferred")
    warm = 0 if kind == "inline" else WARMUP
    reqs = requests_for(warm + count, encrypted=True)
    times = []
    for r in reqs[:warm]:
        d.handle(r)  # starts the thread pool's threads: a once-per-process cost
    for r in reqs[warm:]:
        started = time.perf_counter()
        status = d.handle(r).status
        times.append(time.perf_counter() - started)
        assert status == 200
    d.close(30)
    return times


def answer_times_async(kind: str, count: int) -> list[float]:
    async def main() -> list[float]:
        d = Dispatcher(KEY, TOKEN)

        async def slow(e: Any) -> None:
            await asyncio.sleep(1)

        async def empty(e: Any) -> None:
            return None

        d.register(MESSAGE, empty if kind == "empty" else slow, deferred=kind == "deferred")
        times = []
        warm = 0 if kind == "inline" else WARMUP
        reqs = requests_for(warm + count, encrypted=True)
        for r in reqs[:warm]:
            await d.handle_async(r)
        for r in reqs[warm:]:
            started = time.perf_counter()
            status = (await d.handle_async(r)).status
            times.append(time.perf_counter() - started)
            assert status == 200
        await d.aclose(30)
        return times

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args()

    stores = ["none", "memory"] + (["redis"] if redis_up() else [])
    if "redis" not in stores:
        print(f"Redis not reachable at {REDIS_URL}: the Redis store is not measured")
    ratios: list[tuple[str, float]] = []
    for encrypted in (True, False):
        label = "encrypted+signed" if encrypted else "plain"
        best = per_event(stores, encrypted, args.events, args.rounds)
        runs = f"{args.events} events, best of {args.rounds} rounds"
        print(f"\nper-event cost of handle(), {label} requests ({runs}):")
        for store in stores:
            print(f"  {store:7s} {best[store] * 1e6:8.1f} us/event")
        for store in stores[1:]:
            ratios.append((f"{store} store / no store ({label})", best[store] / best["none"]))

    print("\ntime to answer (sync handle, thread pool):")
    medians: dict[str, float] = {}
    for kind, count in (("empty", 200), ("deferred", 40), ("inline", 3)):
        times = answer_times(kind, count)
        medians[kind] = statistics.median(times)
        print(
            f"  {kind:8s} 1-second handler: median {medians[kind] * 1e3:9.3f} ms over {count}"
            if kind != "empty"
            else f"  {kind:8s} handler:          median {medians[kind] * 1e3:9.3f} ms over {count}"
        )
    print("time to answer (handle_async, asyncio tasks):")
    amedians: dict[str, float] = {}
    for kind, count in (("empty", 200), ("deferred", 40), ("inline", 3)):
        times = answer_times_async(kind, count)
        amedians[kind] = statistics.median(times)
        print(f"  {kind:8s} median {amedians[kind] * 1e3:9.3f} ms over {count}")
    ratios += [
        ("deferred 1 s / empty handler (sync)", medians["deferred"] / medians["empty"]),
        ("inline 1 s / empty handler (sync)", medians["inline"] / medians["empty"]),
        ("deferred 1 s / empty handler (async)", amedians["deferred"] / amedians["empty"]),
        ("inline 1 s / empty handler (async)", amedians["inline"] / amedians["empty"]),
    ]

    print("\nratios (targets: memory store < 1.05; deferred 1 s / empty ~ 1):")
    for name, value in ratios:
        print(f"  {name:45s} {value:8.3f}")


if __name__ == "__main__":
    main()
