"""Callback benchmark: a card click through the core, with and without the deadline guard.

A signed, encrypted ``card.action.trigger`` taken through ``Dispatcher.handle`` (a sync caller,
as under WSGI) and answered with a ``Toast`` or a dict, against the same core handling a
``im.message.receive_v1`` event of about the same size (the baseline, measured in the same run):

- ``event``: the message event, handled inline (no guard applies to events);
- ``callback, toast`` / ``callback, dict``: the card click answered inline
  (``callback_deadline=None``);
- ``guarded, toast``: the card click under the default deadline guard (``callback_deadline=2.5``):
  the handler runs on the callback pool and the request thread waits for it, so that a slow
  handler can be answered with the fallback in time. It costs a hand-over to a worker thread and
  back on every click.

The variants run in interleaved rounds; each figure is the median round, as process CPU time (all
threads: the guard's worker counts) and wall time per request. Ratios against ``event`` last.

    .venv/bin/python benchmarks/bench_callback.py [--requests 5000] [--rounds 7]
    # before/after: another tree first (git archive REV | tar -x -C DIR)
    PYTHONPATH=DIR .venv/bin/python benchmarks/bench_callback.py
"""

from __future__ import annotations

import functools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # appended: a base tree given first on PYTHONPATH wins
    sys.path.append(str(ROOT))

from benchmarks import _cli  # noqa: E402
from benchmarks.bench_core import ENCRYPT_KEY, VERIFICATION_TOKEN, sample_request  # noqa: E402
from lark_events_core import Dispatcher, Event, Request, Toast  # noqa: E402
from lark_events_core.testing import make_event, sign_event  # noqa: E402

ANSWER = {"toast": {"type": "info", "content": "ok"}}


def card_request() -> Request:
    """One card click, encrypted and signed as the platform sends it."""
    payload = make_event(
        "card.action.trigger",
        {
            "operator": {"open_id": "ou_1a2b3c", "user_id": "u_1a2b3c", "union_id": "on_1a2b3c"},
            "token": "c-1a2b3c",
            "action": {"tag": "button", "value": {"choice": "approve", "ticket": "T-42"}},
            "context": {
                "open_message_id": "om_5ce6d572455d361153b7cb51da133945",
                "open_chat_id": "oc_5ce6d572455d361153b7cb51da133945",
            },
        },
        token=VERIFICATION_TOKEN,
        event_id="5e3702a84e847582be8db7fb73283c02",
        app_id="cli_9e28cb7ba56a100e",
        tenant_key="736588c9260f175d",
    )
    signed = sign_event(payload, encrypt_key=ENCRYPT_KEY)
    return Request.build("POST", signed.headers, signed.body, "/webhook/event")


def _answer(result: Any, event: Event[Any]) -> Any:
    return result


def variants() -> tuple[dict[str, Callable[[], Any]], list[Dispatcher]]:
    """Each variant's one-request function, and the dispatchers to close afterwards."""
    headers, body = sample_request()
    event_request = Request.build("POST", headers, body, "/webhook/event")
    card = card_request()
    made: list[Dispatcher] = []

    def dispatcher(**options: Any) -> Dispatcher:
        d = Dispatcher(ENCRYPT_KEY, VERIFICATION_TOKEN, dedup=False, **options)
        made.append(d)
        return d

    on_event = dispatcher()

    @on_event.on("im.message.receive_v1")
    def handler(event: Event[Any]) -> None:
        event.event.message.text  # noqa: B018 - the typed model, as a real handler reads it

    out: dict[str, Callable[[], Any]] = {"event": lambda: on_event.handle(event_request)}
    answers: tuple[tuple[str, Any, float | None], ...] = (
        ("callback, toast", Toast("ok"), None),
        ("callback, dict", ANSWER, None),
        ("guarded, toast", Toast("ok"), 2.5),
    )
    for name, result, deadline in answers:
        d = dispatcher(callback_deadline=deadline)
        d.on("card.action.trigger", functools.partial(_answer, result))
        out[name] = functools.partial(d.handle, card)
    for name, one in out.items():  # every variant must answer as the platform expects
        response = one()
        expected = b'{"msg":"success"}' if name == "event" else None
        if response.status != 200 or (expected is not None and response.body != expected):
            raise SystemExit(f"{name} answered {response.status} {response.body!r}")
        if expected is None and b'"toast"' not in response.body:
            raise SystemExit(f"{name} answered {response.body!r}, not the toast")
    return out, made


def measure(
    fns: dict[str, Callable[[], Any]], requests: int, rounds: int
) -> dict[str, tuple[float, float]]:
    """Median (process CPU us, wall us) per request of each variant, interleaved rounds."""
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    wall: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():  # warm up caches, lazy imports and the callback pool's threads
        for _ in range(200):
            fn()
    for _ in range(rounds):
        for name, fn in fns.items():
            start_cpu, start_wall = time.process_time(), time.perf_counter()
            for _ in range(requests):
                fn()
            cpu[name].append((time.process_time() - start_cpu) / requests * 1e6)
            wall[name].append((time.perf_counter() - start_wall) / requests * 1e6)
    return {name: (statistics.median(cpu[name]), statistics.median(wall[name])) for name in fns}


def main(argv: list[str] | None = None) -> int:
    """Run the variants and print each median, then the ratios to ``event``."""
    args = _cli.rounds_parser(__doc__, requests=5000).parse_args(argv)
    _cli.print_tree()
    fns, made = variants()
    try:
        results = measure(fns, args.requests, args.rounds)
    finally:
        for d in made:
            d.close()
    print(f"python {sys.version.split()[0]}; per request: median of {args.rounds} rounds")
    print(f"x {args.requests} requests, process CPU (all threads) and wall")
    for name, (cpu, wall) in results.items():
        print(f"  {name:18s} {cpu:8.2f} us CPU {wall:8.2f} us wall")
    base_cpu, base_wall = results["event"]
    print("ratios to event (same run):")
    for name, (cpu, wall) in results.items():
        if name != "event":
            print(f"  {name:18s} {cpu / base_cpu:6.2f}x CPU {wall / base_wall:6.2f}x wall")
    guarded, inline = results["guarded, toast"], results["callback, toast"]
    print(f"the deadline guard adds {guarded[0] - inline[0]:+.1f} us CPU per callback")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
