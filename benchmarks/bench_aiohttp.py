"""Requests/s of the aiohttp adapter on a real aiohttp server, against aiohttp's own floor.

    .venv/bin/python benchmarks/bench_aiohttp.py            # about a minute
    .venv/bin/python benchmarks/bench_aiohttp.py --count 20000 --rounds 5

Each server is one process on aiohttp's own runner (``web.run_app``, access log off):

- ``floor``: aiohttp's minimal endpoint, ``await request.read()`` and a constant JSON answer;
- ``floor+crypto``: the same endpoint doing the unavoidable work too (``benchmarks/_floor.py``),
  so ``lark-async / floor+crypto`` measures only what lark-events adds (target >= 0.9);
- ``lark-async``: ``lark_events_aiohttp.setup`` with an async handler (decrypt, verify, dedup);
- ``lark-sync``: the same with a sync handler (one thread hop per event);
- ``lark-sync-inline``: a sync handler registered with ``blocking=False`` (called on the loop);
- ``lark-plain``: an async handler, no Encrypt Key (plain bodies, token checked), vs a floor fed
  the same plain bytes;
- ``lark-shell``: the adapter alone, over a dispatcher that answers at once (no core work).

All three receive the same bytes: distinct, encrypted, signed ``im.message.receive_v1`` requests
from ``benchmarks/_load.py`` (wrk when installed, else its asyncio generator), 32 connections.
The modes alternate in every round so that each ratio compares runs made close together on a
shared machine; the ratios (median over rounds) are printed last. Target: lark-async >= 0.85x.
The server's CPU time per request (user + system, from psutil) is printed too: on a machine
shared with other work it is steadier than req/s, and ``floor cpu / mode cpu`` is the ratio a
CPU-bound server would reach.

``--inner`` also times the per-request work inside the servers (``benchmarks/_inner.py``: the
floor's checks in ``floor+crypto``, ``Dispatcher.handle_async`` in ``lark-async``; this thread's
CPU time) and the same work on the same kind of bytes in this process, in a hot loop and with
``--evict-kb`` KiB of other memory traffic between two requests (about the L2 cache of one core
here, as a server's own work between two of our calls), and prints each against the in-server
figure; and it adds a ``floor+crypto+evict`` server (``--server-evict-kb`` KiB of memory traffic
per request, timed), whose extra CPU beyond the traffic's own time is what colder caches cost
aiohttp's own code.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make ``benchmarks._load`` importable
    sys.path.insert(0, str(ROOT))

ENCRYPT_KEY = "bench_key"
VERIFICATION_TOKEN = "bench_token"
PATH = "/webhook/event"
EVICT_ENV = "BENCH_EVICT_KB"
#: (scenario, server mode): every scenario's modes receive the same bytes as its floor.
RUNS = (
    ("encrypted", "floor"),
    ("encrypted", "floor+crypto"),
    ("encrypted", "lark-async"),
    ("encrypted", "lark-sync"),
    ("encrypted", "lark-sync-inline"),
    ("encrypted", "lark-shell"),
    ("plain", "floor"),
    ("plain", "lark-plain"),
)
#: With ``--inner``: the floor+crypto server doing ``--server-evict-kb`` KiB of other memory
#: traffic per request too (timed), to show what colder caches cost the framework's own code.
EVICT_RUN = ("encrypted", "floor+crypto+evict")
MODES = (
    "floor",
    "floor+crypto",
    "floor+crypto+evict",
    "lark-async",
    "lark-sync",
    "lark-sync-inline",
    "lark-plain",
    "lark-shell",
)


def create_app(mode: str) -> Any:
    """The benchmarked application for ``mode``."""
    from aiohttp import web

    from benchmarks import _inner

    app = web.Application()
    timer = _inner.Timer() if _inner.enabled() else None
    if timer is not None:

        async def inner(request: web.Request) -> web.Response:
            return web.Response(text=timer.take())

        app.router.add_get(_inner.PATH, inner)
    if mode == "floor":
        body = b'{"msg":"success"}'

        async def floor(request: web.Request) -> web.Response:
            await request.read()
            return web.Response(body=body, content_type="application/json", charset="utf-8")

        app.router.add_post(PATH, floor)
        return app
    if mode in ("floor+crypto", "floor+crypto+evict"):  # the floor doing the unavoidable work too
        from benchmarks._floor import crypto_floor

        check = crypto_floor(ENCRYPT_KEY, VERIFICATION_TOKEN)
        evict: Any = None
        if mode == "floor+crypto+evict":  # the memory traffic is what is timed
            evict = _inner.Evictor(int(os.environ.get(EVICT_ENV, "1024")))
            evict = evict if timer is None else timer.wrap(evict)
        elif timer is not None:
            check = timer.wrap(check)
        success = b'{"msg":"success"}'

        async def floor_crypto(request: web.Request) -> web.Response:
            check(request.headers.get, await request.read())
            if evict is not None:
                evict()
            return web.Response(body=success, content_type="application/json", charset="utf-8")

        app.router.add_post(PATH, floor_crypto)
        return app

    from lark_events_aiohttp import setup

    from lark_events_core import Dispatcher, Event

    if mode == "lark-shell":  # the adapter alone: a dispatcher that answers without any work
        from lark_events_core import Request, Response

        answer = Response(200, b'{"msg":"success"}')

        class Shell(Dispatcher):
            async def handle_async(self, request: Request, *, card: bool = False) -> Response:
                return answer

        setup(app, Shell(verification_token=VERIFICATION_TOKEN), event_path=PATH)
        return app
    if mode == "lark-plain":  # no Encrypt Key: plain, unsigned bodies; the token is checked
        dispatcher = Dispatcher(verification_token=VERIFICATION_TOKEN)
    else:
        dispatcher = Dispatcher(encrypt_key=ENCRYPT_KEY, verification_token=VERIFICATION_TOKEN)
    if mode == "lark-sync":

        @dispatcher.on("im.message.receive_v1")
        def on_message_sync(event: Event[Any]) -> None:
            return None

    elif mode == "lark-sync-inline":

        @dispatcher.on("im.message.receive_v1", blocking=False)
        def on_message_inline(event: Event[Any]) -> None:
            return None

    elif mode in ("lark-async", "lark-plain"):

        @dispatcher.on("im.message.receive_v1")
        async def on_message_async(event: Event[Any]) -> None:
            return None

    else:
        raise SystemExit(f"unknown mode {mode!r}")
    if timer is not None:
        dispatcher.handle_async = timer.wrap_async(dispatcher.handle_async)  # type: ignore[method-assign,assignment]
    setup(app, dispatcher, event_path=PATH)
    return app


def serve(mode: str, port: int) -> None:
    """Run one benchmarked server in this process (the ``--serve`` entry point)."""
    from aiohttp import web

    logging.basicConfig(level=logging.WARNING)
    web.run_app(create_app(mode), host="127.0.0.1", port=port, access_log=None, print=None)


def hot_loops(requests: list[Any], evict_kb: int) -> dict[tuple[str, int], float]:
    """Microseconds per request of the floor's checks and of ``Dispatcher.handle_async`` on
    ``requests`` (unused ids) with aiohttp's header type, outside any server: in a hot loop, as
    a microbenchmark measures them (``0``), and with ``evict_kb`` KiB of other memory traffic
    between two requests (not timed), as a server's own work between two of ours."""
    import asyncio

    from multidict import CIMultiDict, CIMultiDictProxy

    from benchmarks._floor import crypto_floor
    from benchmarks._inner import Evictor, Timer
    from lark_events_core import Dispatcher, Event, Request
    from lark_events_core.http import CaseInsensitiveHeaders

    items = [(CIMultiDictProxy(CIMultiDict(r.headers)), r.body) for r in requests]
    quarter = len(items) // 4
    out: dict[tuple[str, int], float] = {}

    async def run(index: int, kb: int) -> None:
        evict = Evictor(kb) if kb else None
        floor_timer, core_timer = Timer(), Timer()
        check = floor_timer.wrap(crypto_floor(ENCRYPT_KEY, VERIFICATION_TOKEN))
        dispatcher = Dispatcher(encrypt_key=ENCRYPT_KEY, verification_token=VERIFICATION_TOKEN)

        @dispatcher.on("im.message.receive_v1")
        async def on_message(event: Event[Any]) -> None:
            return None

        handle = core_timer.wrap_async(dispatcher.handle_async)
        first = (2 * index) * quarter
        for headers, body in items[first : first + quarter]:
            if evict is not None:
                evict()
            check(headers.get, body)
        for headers, body in items[first + quarter : first + 2 * quarter]:
            if evict is not None:
                evict()
            await handle(Request("POST", CaseInsensitiveHeaders(headers), body, PATH))
        out["floor+crypto", kb] = float(floor_timer.take().split()[0])
        out["lark-async", kb] = float(core_timer.take().split()[0])

    for index, kb in enumerate((0, evict_kb)):
        asyncio.run(run(index, kb))
    return out


def core_split(requests: list[Any], evict_kb: int) -> dict[tuple[str, int], float]:
    """The core's steps timed apart (``parse_request``; ``route``: the event, the handler call,
    the key; ``run_async``: claim, call, settle), hot and with ``evict_kb`` KiB between requests."""
    import asyncio

    from multidict import CIMultiDict, CIMultiDictProxy

    from benchmarks._inner import Evictor, Timer
    from lark_events_core import Dispatcher, Event, Request
    from lark_events_core.http import CaseInsensitiveHeaders
    from lark_events_core.pipeline import parse_request

    items = [(CIMultiDictProxy(CIMultiDict(r.headers)), r.body) for r in requests]
    half = len(items) // 2
    out: dict[tuple[str, int], float] = {}

    async def run(part: list[Any], kb: int) -> None:
        evict = Evictor(kb) if kb else None
        dispatcher = Dispatcher(encrypt_key=ENCRYPT_KEY, verification_token=VERIFICATION_TOKEN)

        @dispatcher.on("im.message.receive_v1")
        async def on_message(event: Event[Any]) -> None:
            return None

        timers = {"parse_request": Timer(), "route": Timer(), "run_async": Timer()}
        parse = timers["parse_request"].wrap(parse_request)
        route = timers["route"].wrap(dispatcher.route)
        run_async = timers["run_async"].wrap_async(dispatcher.run_async)
        settings, types = dispatcher.settings, dispatcher._registry.callback_types
        for headers, body in part:
            if evict is not None:
                evict()
            request = Request("POST", CaseInsensitiveHeaders(headers), body, PATH)
            await run_async(route(parse(request, settings, callback_types=types)))
        for name, timer in timers.items():
            out[name, kb] = float(timer.take().split()[0])

    asyncio.run(run(items[:half], 0))
    asyncio.run(run(items[half:], evict_kb))
    return out


def measure(
    mode: str,
    requests: list[Any],
    *,
    warmup: int,
    seconds: float,
    engine: str,
    inner: bool = False,
    evict_kb: int = 1024,
) -> tuple[Any, float, float | None]:
    """Load the ``mode`` server for ``seconds``: the result, its CPU microseconds per request and
    (with ``inner``) the microseconds of its timed per-request work."""
    import psutil

    from benchmarks import _inner
    from benchmarks._load import run_load
    from benchmarks._load import serve as serve_cmd

    argv = [sys.executable, str(Path(__file__).resolve()), "--serve", mode, "--port", "{port}"]
    timed = inner and mode in ("floor+crypto", "floor+crypto+evict", "lark-async")
    env = {_inner.ENV: "1" if timed else "0", EVICT_ENV: str(evict_kb)}
    with serve_cmd(argv, env=env) as server:
        url = server.url + PATH
        run_load(url, requests[:warmup], concurrency=32, count=warmup, engine=engine)  # type: ignore[arg-type]
        if timed:
            _inner.fetch(server.port)  # forget the warm-up
        process = psutil.Process(server.proc.pid)
        before = process.cpu_times()
        result = run_load(
            url,
            requests[warmup:],
            concurrency=32,
            duration=seconds,
            engine=engine,  # type: ignore[arg-type]
        )
        after = process.cpu_times()
        inner_us = None
        if timed:
            inner_us = _inner.fetch(server.port)[0]
        if result.errors or result.non_2xx:
            raise SystemExit(f"{mode}: the run had errors: {result.summary()}")
        cpu = (after.user + after.system) - (before.user + before.system)
        return result, cpu / max(result.requests, 1) * 1e6, inner_us


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the ratios last."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--serve", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=4.0, help="timed load per run")
    parser.add_argument("--warmup", type=int, default=1_000, help="untimed requests per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of all runs")
    parser.add_argument("--pool", type=int, default=80_000, help="distinct requests per scenario")
    parser.add_argument("--engine", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument(
        "--inner", action="store_true", help="time the per-request work in-server and hot"
    )
    parser.add_argument(
        "--evict-kb", type=int, default=1024, help="--inner: other memory traffic per request"
    )
    parser.add_argument(
        "--server-evict-kb",
        type=int,
        default=128,
        help="--inner: the memory traffic per request of the floor+crypto+evict server",
    )
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port)
        return 0

    from benchmarks._load import make_event_requests

    # Distinct event ids (each server starts with an empty dedup store); the same bytes for a
    # scenario's floor and its lark modes.
    pools = {
        "encrypted": make_event_requests(
            args.pool, encrypt_key=ENCRYPT_KEY, verification_token=VERIFICATION_TOKEN
        ),
        "plain": make_event_requests(
            args.pool, encrypt_key=None, verification_token=VERIFICATION_TOKEN
        ),
    }
    runs = (*RUNS, EVICT_RUN) if args.inner else RUNS
    rps: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
    cpu_us: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
    ratios: dict[tuple[str, str], list[float]] = {run: [] for run in runs if run[1] != "floor"}
    # What lark-events adds: each encrypted lark mode against the floor that does the crypto.
    vs_crypto: dict[str, list[float]] = {
        mode: [] for scenario, mode in RUNS if scenario == "encrypted" and mode.startswith("lark")
    }
    in_server: dict[str, list[float]] = {"floor+crypto": [], "lark-async": []}
    traffic: list[float] = []  # the memory traffic's own time in floor+crypto+evict
    hot: dict[tuple[str, int], list[float]] = {}
    print(
        f"aiohttp adapter benchmark: {args.rounds} rounds x {args.seconds:g} s per run, "
        "32 connections, one server process"
    )
    for round_no in range(1, args.rounds + 1):
        if args.inner:  # fresh ids, never sent to a server: the hot loop dedups them too
            fresh = make_event_requests(
                20_000, encrypt_key=ENCRYPT_KEY, verification_token=VERIFICATION_TOKEN
            )
            found = hot_loops(fresh[:16_000], args.evict_kb)
            steps = core_split(fresh[16_000:], args.evict_kb)
            for key, value in (*found.items(), *steps.items()):
                hot.setdefault(key, []).append(value)
            print(
                f"  round {round_no} no server: "
                + ", ".join(
                    f"{name} (evict {kb} KiB) {us:.1f} us"
                    for (name, kb), us in (*found.items(), *steps.items())
                )
            )
        floor_rps: dict[str, float] = {}
        crypto_rps = 0.0
        for scenario, mode in runs:
            result, per_request, inner_us = measure(
                mode,
                pools[scenario],
                warmup=args.warmup,
                seconds=args.seconds,
                engine=args.engine,
                inner=args.inner,
                evict_kb=args.server_evict_kb,
            )
            rps[scenario, mode].append(result.rps)
            cpu_us[scenario, mode].append(per_request)
            timed = ""
            if inner_us is not None:
                (traffic if mode == EVICT_RUN[1] else in_server[mode]).append(inner_us)
                timed = f"  in-server work {inner_us:.1f} us/req"
            print(
                f"  round {round_no} {scenario:<9} {mode:<12} {result.summary()}"
                f"  server cpu {per_request:.1f} us/req{timed}"
            )
            if mode == "floor":
                floor_rps[scenario] = result.rps
            else:
                ratios[scenario, mode].append(result.rps / floor_rps[scenario])
            if mode == "floor+crypto":
                crypto_rps = result.rps
            elif mode in vs_crypto:
                vs_crypto[mode].append(result.rps / crypto_rps)
    print()
    for (scenario, mode), values in rps.items():
        cpu = statistics.median(cpu_us[scenario, mode])
        print(
            f"{scenario:<9} {mode:<12} median {statistics.median(values):9.1f} req/s"
            f"  server cpu {cpu:6.1f} us/req"
        )
    for (scenario, mode), values in ratios.items():
        per_round = " ".join(f"{v:.3f}" for v in values)
        target = "  (target >= 0.85)" if mode == "lark-async" else ""
        if mode == "lark-shell":
            target = "  (the adapter alone, no core work)"
        cpu_ratio = statistics.median(cpu_us[scenario, "floor"]) / statistics.median(
            cpu_us[scenario, mode]
        )
        print(
            f"ratio {mode} / floor ({scenario}): {statistics.median(values):.3f}x{target}"
            f"  rounds: {per_round}  cpu-time ratio: {cpu_ratio:.3f}x"
        )
    crypto_cpu = statistics.median(cpu_us["encrypted", "floor+crypto"])
    for mode, values in vs_crypto.items():
        per_round = " ".join(f"{v:.3f}" for v in values)
        cpu_ratio = crypto_cpu / statistics.median(cpu_us["encrypted", mode])
        target = "  (target >= 0.9)" if mode == "lark-async" else ""
        print(
            f"ratio {mode} / floor+crypto: {statistics.median(values):.3f}x{target}"
            f"  rounds: {per_round}  cpu-time ratio: {cpu_ratio:.3f}x"
        )
    async_cpu = statistics.median(cpu_us["encrypted", "lark-async"])
    for mode in ("lark-sync", "lark-sync-inline"):
        extra = statistics.median(cpu_us["encrypted", mode]) - async_cpu
        print(f"a sync handler, {mode} - lark-async: {extra:+.1f} us server CPU per request")
    if args.inner:
        kb = args.evict_kb
        for name in in_server:
            server_us = statistics.median(in_server[name])
            hot_us = statistics.median(hot[name, 0])
            cold_us = statistics.median(hot[name, kb])
            print(
                f"{name} per-request work: in-server {server_us:.1f} us, hot loop {hot_us:.1f} us"
                f" ({server_us / hot_us:.2f}x), hot loop with {kb} KiB of other memory traffic"
                f" between requests {cold_us:.1f} us ({server_us / cold_us:.2f}x)"
            )

        def med(values: list[float]) -> float:
            return statistics.median(values)

        added_server = med(in_server["lark-async"]) - med(in_server["floor+crypto"])
        added_hot = med(hot["lark-async", 0]) - med(hot["floor+crypto", 0])
        added_cold = med(hot["lark-async", kb]) - med(hot["floor+crypto", kb])
        print(
            f"what the core adds over the floor's work: in-server {added_server:.1f} us,"
            f" hot loop {added_hot:.1f} us, with {kb} KiB between requests {added_cold:.1f} us"
        )
        split = ", ".join(
            f"{name} {med(hot[name, 0]):.1f} / {med(hot[name, kb]):.1f} us"
            for name in ("parse_request", "route", "run_async")
        )
        print(f"the core's steps, hot / with {kb} KiB between requests: {split}")
        more = med(cpu_us[EVICT_RUN]) - med(cpu_us["encrypted", "floor+crypto"])
        print(
            f"floor+crypto with {args.server_evict_kb} KiB of other memory traffic per request:"
            f" +{more:.1f} us"
            f" server CPU, of which the traffic itself {med(traffic):.1f} us: the rest"
            f" ({more - med(traffic):.1f} us) is aiohttp's own code running with colder caches"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
