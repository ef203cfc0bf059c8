"""Events/s acknowledged over the long connection: our client against the official lark-oapi one.

    .venv/bin/pip install --group bench                 # lark-oapi, the official SDK
    .venv/bin/python benchmarks/bench_longconn.py       # about a minute
    .venv/bin/python benchmarks/bench_longconn.py --count 20000 --rounds 3 --window 64

The strict fake platform (``lark_events_core.testing.fake_platform``) runs in this process on
loopback. Each client runs in its own process, connects to it like to the real platform
(bootstrap, WebSocket, pings) and gets the same distinct ``im.message.receive_v1`` events, with an
empty handler:

- ``lark-oapi``: ``lark_oapi.ws.Client`` with ``register_p2_im_message_receive_v1`` (its handlers
  are sync and run on its event loop);
- ``lark-async``: :class:`~lark_events_core.longconn.LongConnectionClient` over a default
  :class:`~lark_events_core.Dispatcher` (deduplication on), async handler;
- ``lark-sync``: the same with a sync handler (one thread hop per event, as for webhooks).

The platform keeps ``--window`` events in flight (a new one as each ack arrives), so latency is
ack latency at that load: push to ack received, measured by the fake. Every ack is checked by the
fake exactly as in the tests (the run fails on a protocol violation). Modes alternate in every
round; the client process's CPU time per event (psutil) is printed too, steadier than events/s on
a shared machine. The ratio ``lark-async / lark-oapi`` (median over rounds) is printed last.
Target: >= 3x the official client's throughput, and p99 ack latency < 10 ms with an empty handler.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script
    sys.path.insert(0, str(ROOT))

MODES = ("lark-oapi", "lark-async", "lark-sync")
EVENT_TYPE = "im.message.receive_v1"
#: Real-world keepalive: no ping traffic to speak of during a run.
PLATFORM_CONFIG = {
    "ReconnectCount": -1,
    "ReconnectInterval": 1,
    "ReconnectNonce": 0,
    "PingInterval": 120,
}


# -- the client processes --------------------------------------------------------------------


def worker(mode: str, domain: str, app_id: str, app_secret: str) -> None:
    """Run one client until SIGTERM (``--worker``)."""
    if mode == "lark-oapi":
        import lark_oapi as lark

        def on_message(data: object) -> None:
            return None

        handler = (
            lark.EventDispatcherHandler.builder("", "")
            .register_p2_im_message_receive_v1(on_message)
            .build()
        )
        client = lark.ws.Client(
            app_id, app_secret, event_handler=handler, domain=domain, log_level=lark.LogLevel.ERROR
        )
        client.start()  # blocks forever; it has no stop, so SIGTERM ends the process
        return

    import logging
    import warnings

    from lark_events_core import Dispatcher, Event

    logging.getLogger("lark_events").setLevel(logging.ERROR)
    from lark_events_core.longconn import LongConnectionClient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no keys: the long connection authenticates at connect
        dispatcher = Dispatcher()
    if mode == "lark-async":

        async def on_event(event: Event[object]) -> None:
            return None

        dispatcher.register(EVENT_TYPE, on_event)
    else:
        dispatcher.register(EVENT_TYPE, lambda event: None)

    async def main() -> None:
        ours = LongConnectionClient(dispatcher, app_id=app_id, app_secret=app_secret, domain=domain)
        loop = asyncio.get_running_loop()
        stops: list[asyncio.Task[None]] = []
        loop.add_signal_handler(signal.SIGTERM, lambda: stops.append(loop.create_task(ours.stop())))
        await ours.run()

    asyncio.run(main())


# -- the platform side -----------------------------------------------------------------------


@dataclass
class Result:
    """One measured run: a throughput phase, then a latency phase at a light load."""

    mode: str
    events: int
    seconds: float
    latencies_ms: list[float]
    cpu_seconds: float
    platform_cpu_seconds: float
    light_latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def cpu_us(self) -> float:
        """The client process's CPU time per event, in microseconds."""
        return self.cpu_seconds / self.events * 1e6

    def pct(self, q: float, light: bool = False) -> float:
        ordered = sorted(self.light_latencies_ms if light else self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    def line(self) -> str:
        return (
            f"{self.mode:<11} {self.rate:>7,.0f} ev/s (p50 {self.pct(50):5.1f} p99 "
            f"{self.pct(99):6.1f} ms)  cpu us/ev: client {self.cpu_us:5.1f}"
            f" platform {self.platform_cpu_seconds / self.events * 1e6:5.1f}  | light load: p50 "
            f"{self.pct(50, True):5.2f} p90 {self.pct(90, True):5.2f} p99 {self.pct(99, True):5.2f}"
            f" max {max(self.light_latencies_ms):6.2f} ms"
        )


def make_bodies(count: int) -> list[bytes]:
    """``count`` distinct v2 message events, as the platform sends them."""
    from lark_events_core.testing import make_event

    bodies = []
    for i in range(count):
        body = make_event(
            EVENT_TYPE,
            {
                "sender": {"sender_id": {"open_id": "ou_bench"}, "sender_type": "user"},
                "message": {
                    "message_id": f"om_bench_{i}",
                    "chat_id": "oc_bench",
                    "chat_type": "p2p",
                    "message_type": "text",
                    "content": json.dumps({"text": f"hello {i}"}),
                },
            },
            event_id=f"bench-{os.getpid()}-{i}-{time.monotonic_ns()}",
        )
        bodies.append(json.dumps(body).encode())
    return bodies


async def drive(platform: object, bodies: list[bytes], window: int) -> tuple[float, list[float]]:
    """Push every body keeping ``window`` in flight; the elapsed time and the ack latencies."""
    from lark_events_core.testing.fake_platform import FakePlatform

    assert isinstance(platform, FakePlatform)
    latencies: list[float] = []
    queue = iter(bodies)

    async def lane() -> None:
        for body in queue:
            pushed = await platform.push(body)
            ack = await pushed.ack(timeout=30)
            if ack.code != 200:
                raise RuntimeError(f"ack code {ack.code}")
            latencies.append(ack.latency * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(window)))
    return time.perf_counter() - started, latencies


async def measure(
    mode: str, bodies: list[bytes], warmup: int, window: int, light: int, light_window: int
) -> Result:
    """Start ``mode``'s client process, warm it up, measure, stop it.

    ``bodies``: ``warmup`` events, then the throughput phase, then ``light`` events for the
    latency phase with ``light_window`` in flight.
    """
    import psutil

    from lark_events_core.testing.fake_platform import FakePlatform

    async with FakePlatform(client_config=PLATFORM_CONFIG, ack_deadline=3.0) as platform:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--worker",
            mode,
            platform.domain,
            platform.app_id,
            platform.app_secret,
            start_new_session=True,
        )
        try:
            await platform.wait_for_connections(1, timeout=30)
            await drive(platform, bodies[:warmup], window)
            cpu_before = psutil.Process(proc.pid).cpu_times()
            own_before = time.process_time()
            seconds, latencies = await drive(platform, bodies[warmup:-light], window)
            own = time.process_time() - own_before
            cpu_after = psutil.Process(proc.pid).cpu_times()
            _, light_latencies = await drive(platform, bodies[-light:], light_window)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
        platform.assert_no_violations()
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    return Result(mode, len(latencies), seconds, latencies, cpu, own, light_latencies)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the results, the ratio last."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=10_000, help="events per run (default 10000)")
    parser.add_argument("--warmup", type=int, default=1_000, help="events before measuring")
    parser.add_argument(
        "--window", type=int, default=256, help="events in flight, throughput (default 256)"
    )
    parser.add_argument(
        "--light", type=int, default=3_000, help="events in the latency phase (default 3000)"
    )
    parser.add_argument(
        "--light-window", type=int, default=4, help="events in flight, latency (default 4)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of all modes (default 3)")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated modes")
    parser.add_argument("--worker", nargs=4, metavar=("MODE", "DOMAIN", "APP_ID", "SECRET"))
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return 0
    modes = [m for m in args.modes.split(",") if m]
    print(
        f"long connection, loopback, empty handlers: {args.count} events with {args.window} in "
        f"flight after {args.warmup} warm-up, then {args.light} events with {args.light_window} "
        f"in flight (light load); latency = push to ack received; {args.rounds} rounds"
    )
    results: dict[str, list[Result]] = {mode: [] for mode in modes}
    for round_no in range(1, args.rounds + 1):
        bodies = make_bodies(args.warmup + args.count + args.light)  # fresh ids every round
        for mode in modes:
            result = asyncio.run(
                measure(mode, bodies, args.warmup, args.window, args.light, args.light_window)
            )
            results[mode].append(result)
            print(f"round {round_no}  {result.line()}", flush=True)
    print("\nmedian over rounds:")
    for mode in modes:
        rates = [r.rate for r in results[mode]]
        p99s = [r.pct(99, light=True) for r in results[mode]]
        cpus = [r.cpu_seconds / r.events * 1e6 for r in results[mode]]
        print(
            f"  {mode:<11} {statistics.median(rates):>7,.0f} ev/s  client cpu "
            f"{statistics.median(cpus):6.1f} us/ev  p99 ack latency at light load "
            f"{statistics.median(p99s):6.2f} ms"
        )
    if "lark-oapi" in results and "lark-async" in results:
        ratios = [
            ours.rate / theirs.rate
            for ours, theirs in zip(results["lark-async"], results["lark-oapi"], strict=True)
        ]
        cpu_ratios = [
            (theirs.cpu_seconds / theirs.events) / (ours.cpu_seconds / ours.events)
            for ours, theirs in zip(results["lark-async"], results["lark-oapi"], strict=True)
        ]
        print(
            f"\nratio lark-async / lark-oapi: throughput {statistics.median(ratios):.2f}x "
            f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}), client cpu per event "
            f"{statistics.median(cpu_ratios):.2f}x less (target: throughput >= 3x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
