"""Events/s acknowledged over the long connection: our client against the official lark-oapi one.

    .venv/bin/pip install --group bench                 # lark-oapi, the official SDK
    .venv/bin/python benchmarks/bench_longconn.py       # about a minute
    .venv/bin/python benchmarks/bench_longconn.py --count 20000 --rounds 3 --window 64

The strict fake platform (``lark_events_core.testing.fake_platform``) runs on loopback in a
process of its own for each run (``--platform``; this process only starts runs and prints), so
the platform's work is never the driver's. Each client runs in its own process, connects to it
like to the real platform (bootstrap, WebSocket, pings) and gets the same number of distinct
``im.message.receive_v1`` events (fresh ids in every run), with an empty handler:

- ``lark-oapi``: ``lark_oapi.ws.Client`` with ``register_p2_im_message_receive_v1`` (its handlers
  are sync and run on its event loop);
- ``lark-async``: :class:`~lark_events_core.longconn.LongConnectionClient` over a default
  :class:`~lark_events_core.Dispatcher` (deduplication on), async handler;
- ``lark-sync``: the same with a sync handler (one thread hop per event, as for webhooks).

The platform keeps ``--window`` events in flight (a new one as each ack arrives, pushed from the
ack's callback rather than a task and a timer per event in flight), so latency is ack latency at
that load: push to ack received, measured by the fake. Every ack is checked by the
fake exactly as in the tests (the run fails on a protocol violation). Modes alternate in every
round; the client process's CPU time per event (psutil) is printed too, steadier than events/s on
a shared machine. The ratio ``lark-async / lark-oapi`` (median over rounds) is printed last.
``--profile DIR`` samples each client process with py-spy during the throughput phase
(``DIR/<mode>-<round>.txt``: the hottest frames) to see where the client spends its time.
Target: >= 3x the official client's throughput, and p99 ack latency < 10 ms with an empty handler.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import signal
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


async def drive(
    platform: object, bodies: list[bytes], window: int, timeout: float | None = None
) -> tuple[float, list[float]]:
    """Push every body keeping ``window`` in flight; the elapsed time and the ack latencies.

    Driven by the acks: each ack's callback (:meth:`PushedMessage.add_ack_callback`) records it
    and wakes one pusher task, which pushes one new event per ack that came in, so a burst of
    acks is refilled in one burst of pushes. One deadline for the whole run (``timeout``, by
    default 30 s plus 10 ms per event) instead of a timer per ack: an ack whose code is not 200,
    a failed push, or acks missing at the deadline (a lost ack) raise.
    """
    from lark_events_core.testing.fake_platform import Ack, FakePlatform

    assert isinstance(platform, FakePlatform)
    loop = asyncio.get_running_loop()
    total = len(bodies)
    latencies: list[float] = []
    finished: asyncio.Future[None] = loop.create_future()
    credit = min(window, total)  # pushes allowed now: the window, then one per ack
    wake: asyncio.Future[None] | None = None

    def on_ack(ack: Ack) -> None:
        nonlocal credit
        if finished.done():
            return
        if ack.code != 200:
            finished.set_exception(RuntimeError(f"ack code {ack.code} for {ack.message_id}"))
            return
        latencies.append(ack.latency * 1000)
        if len(latencies) == total:
            finished.set_result(None)
            return
        credit += 1
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def pusher() -> None:
        nonlocal credit, wake
        try:
            for body in bodies:
                while not credit:
                    wake = loop.create_future()
                    await wake
                credit -= 1
                pushed = await platform.push(body)
                pushed.add_ack_callback(on_ack)
        except Exception as exc:
            if not finished.done():
                finished.set_exception(exc)

    if not total:
        return 0.0, latencies
    limit = 30 + total / 100 if timeout is None else timeout
    started = time.perf_counter()
    task = loop.create_task(pusher())
    try:
        await asyncio.wait_for(finished, limit)
    except asyncio.TimeoutError:
        raise TimeoutError(f"{len(latencies)} of {total} acks within {limit:.0f}s") from None
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return time.perf_counter() - started, latencies


async def measure(
    mode: str,
    bodies: list[bytes],
    warmup: int,
    window: int,
    light: int,
    light_window: int,
    profile: str | None = None,
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
            spy = None if profile is None else await _start_profiler(proc.pid, profile)
            seconds, latencies = await drive(platform, bodies[warmup:-light], window)
            if spy is not None:
                spy.send_signal(signal.SIGINT)  # py-spy writes what it sampled so far
                await spy.wait()
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


async def _start_profiler(pid: int, out: str) -> asyncio.subprocess.Process:
    """py-spy sampling ``pid`` (the client) into ``out`` as raw collapsed stacks."""
    import shutil

    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return await asyncio.create_subprocess_exec(
        spy,
        "record",
        "-p",
        str(pid),
        "-r",
        "250",
        "--format",
        "raw",
        "-o",
        out,
        "--nonblocking",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


def hottest_frames(raw: str, top: int = 15) -> list[str]:
    """The frames with the most samples (own and including callees) from py-spy's raw output."""
    own: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for line in Path(raw).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for frame in set(frames):
            incl[frame] = incl.get(frame, 0) + n
    lines = [f"{total} samples; own time:"]
    lines += [f"  {n / total:6.1%} {f}" for f, n in sorted(own.items(), key=lambda x: -x[1])[:top]]
    lines.append("including callees:")
    lines += [f"  {n / total:6.1%} {f}" for f, n in sorted(incl.items(), key=lambda x: -x[1])[:top]]
    return lines


def platform_run(mode: str, options: dict[str, Any]) -> None:
    """One run in this process (``--platform``): the fake platform, the client, one JSON line."""
    count, warmup, light = (int(options[k]) for k in ("count", "warmup", "light"))
    bodies = make_bodies(warmup + count + light)
    profile = options.get("profile")
    result = asyncio.run(
        measure(
            mode,
            bodies,
            warmup,
            int(options["window"]),
            light,
            int(options["light_window"]),
            None if profile is None else str(profile),
        )
    )
    print(json.dumps(dataclasses.asdict(result)))


def run_in_platform_process(mode: str, options: dict[str, Any]) -> Result:
    """Start a ``--platform`` process for one run of ``mode`` and read its result."""
    import subprocess

    out = subprocess.run(
        [sys.executable, __file__, "--platform", mode, json.dumps(options)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return Result(**json.loads(out.strip().splitlines()[-1]))


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
    parser.add_argument("--profile", metavar="DIR", help="py-spy each client into DIR")
    parser.add_argument("--worker", nargs=4, metavar=("MODE", "DOMAIN", "APP_ID", "SECRET"))
    parser.add_argument("--platform", nargs=2, metavar=("MODE", "OPTIONS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return 0
    if args.platform:
        platform_run(args.platform[0], json.loads(args.platform[1]))
        return 0
    modes = [m for m in args.modes.split(",") if m]
    print(
        f"long connection, loopback, empty handlers: {args.count} events with {args.window} in "
        f"flight after {args.warmup} warm-up, then {args.light} events with {args.light_window} "
        f"in flight (light load); latency = push to ack received; {args.rounds} rounds"
    )
    results: dict[str, list[Result]] = {mode: [] for mode in modes}
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    for round_no in range(1, args.rounds + 1):
        for mode in modes:
            options: dict[str, Any] = {
                "count": args.count,
                "warmup": args.warmup,
                "light": args.light,
                "window": args.window,
                "light_window": args.light_window,
            }
            raw = None
            if args.profile:
                raw = str(Path(args.profile) / f"{mode}-{round_no}.raw")
                options["profile"] = raw
            result = run_in_platform_process(mode, options)  # fresh ids in every run
            results[mode].append(result)
            print(f"round {round_no}  {result.line()}", flush=True)
            if raw is not None and Path(raw).exists():
                report = Path(raw).with_suffix(".txt")
                report.write_text("\n".join(hottest_frames(raw)) + "\n")
                print(f"           client profile: {report}", flush=True)
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
