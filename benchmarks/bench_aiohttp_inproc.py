"""The servers of ``bench_aiohttp.py`` without sockets or a load generator: CPU per request.

aiohttp's real ``RequestHandler`` (from ``web.AppRunner``) is fed the raw bytes of each request
through a fake transport, one request at a time, and the answer is awaited; the modes are
interleaved in blocks, median block, process CPU time (all threads: a sync handler's worker
counts). Nothing else competes for the cores, so it is steadier than ``bench_aiohttp.py`` on a
shared machine; it leaves out what the kernel's sockets cost, the same for every mode.

    .venv/bin/python benchmarks/bench_aiohttp_inproc.py floor+crypto,lark-async,lark-sync
    # instructions per request, deterministic whatever the load (two runs, subtract):
    valgrind --tool=callgrind --callgrind-out-file=/dev/null --cache-sim=no \\
        .venv/bin/python benchmarks/bench_aiohttp_inproc.py lark-async --only 1000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(ROOT))

WARMUP = 300


class FakeTransport(asyncio.Transport):
    """Swallows what the server writes and wakes the driver at the answer's first write."""

    def __init__(self) -> None:
        super().__init__()
        self.waiter: asyncio.Future[None] | None = None
        self.closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1), "sockname": ("127.0.0.1", 2)}.get(name, default)

    def is_closing(self) -> bool:
        return self.closing

    def write(self, data: Any) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"")

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


def raw_requests(mode: str, count: int, id_prefix: str | None = None) -> list[bytes]:
    """``count`` distinct requests like ``bench_aiohttp.py``'s for ``mode``, as HTTP/1.1 bytes."""
    from benchmarks._load import make_event_requests
    from benchmarks.bench_aiohttp import ENCRYPT_KEY, PATH, VERIFICATION_TOKEN

    key = None if mode == "lark-plain" else ENCRYPT_KEY
    out = []
    for r in make_event_requests(
        count, encrypt_key=key, verification_token=VERIFICATION_TOKEN, id_prefix=id_prefix
    ):
        head = "".join(
            f"{k}: {v}\r\n" for k, v in r.headers.items() if k.lower() != "content-length"
        )
        start = f"POST {PATH} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(r.body)}\r\n"
        out.append(f"{start}{head}\r\n".encode() + r.body)
    return out


class Served:
    """One mode's app behind a runner, a request handler and its fake transport."""

    def __init__(self, mode: str, requests: list[bytes]) -> None:
        self.mode = mode
        self.requests = requests

    async def start(self) -> None:
        from aiohttp import web

        from benchmarks.bench_aiohttp import create_app

        self.runner = web.AppRunner(create_app(self.mode), access_log=None)
        await self.runner.setup()
        server = self.runner.server
        assert server is not None
        self.handler = server()
        self.transport = FakeTransport()
        self.handler.connection_made(self.transport)

    async def feed(self, first: int, end: int) -> None:
        """Send requests ``first`` to ``end`` one after another, each awaited to its answer."""
        loop = asyncio.get_running_loop()
        transport, handler = self.transport, self.handler
        for data in self.requests[first:end]:
            transport.waiter = loop.create_future()
            handler.data_received(data)
            await transport.waiter


async def interleaved(modes: list[str], blocks: int, block: int) -> dict[str, list[float]]:
    """CPU microseconds per request of each mode, one figure per block."""
    served = [Served(m, raw_requests(m, WARMUP + blocks * block)) for m in modes]
    for s in served:
        await s.start()
        await s.feed(0, WARMUP)
    out: dict[str, list[float]] = {m: [] for m in modes}
    clock = time.process_time_ns
    for b in range(blocks):
        first = WARMUP + b * block
        for s in served if b % 2 == 0 else served[::-1]:
            start = clock()
            await s.feed(first, first + block)
            out[s.mode].append((clock() - start) / block / 1000)
    for s in served:
        await s.runner.cleanup()
    return out


async def only(mode: str, count: int) -> None:
    """The warm-up and ``count`` requests of one mode, nothing timed (for instruction counts)."""
    s = Served(mode, raw_requests(mode, WARMUP + count, id_prefix="bench"))
    await s.start()
    await s.feed(0, WARMUP + count)
    await s.runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    """Run the modes and print each median, the ratios to the first mode last."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("modes", help="comma-separated modes of bench_aiohttp.py")
    parser.add_argument("--blocks", type=int, default=30, help="interleaved blocks per mode")
    parser.add_argument("--block", type=int, default=300, help="requests per block")
    parser.add_argument("--only", type=int, metavar="N", help="one mode, N requests, no timing")
    args = parser.parse_args(argv)
    modes = args.modes.split(",")
    if args.only is not None:
        asyncio.run(only(modes[0], args.only))
        return 0
    results = asyncio.run(interleaved(modes, args.blocks, args.block))
    medians = {m: statistics.median(v) for m, v in results.items()}
    print(f"process CPU per request, median of {args.blocks} blocks x {args.block} requests")
    for mode, us in medians.items():
        print(f"  {mode:<18} {us:8.1f} us")
    base = modes[0]
    for mode in modes[1:]:
        print(
            f"ratio {base} / {mode}: {medians[base] / medians[mode]:.3f}x"
            f"  ({medians[mode] - medians[base]:+.1f} us)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
