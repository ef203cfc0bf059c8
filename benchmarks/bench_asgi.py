"""ASGI benchmark: ``lark_events_core.asgi.ASGIApp`` against an ASGI floor doing the crypto too.

Both apps are called through the ASGI interface itself (a scope, ``receive`` and ``send``), in
this process, with no server and no socket, so the figure is what the app costs per request and
nothing else. Each request is distinct (a new event id), built as the platform sends it and with
the headers an ASGI server passes (lower-case names as bytes, in the order received):

- ``floor+crypto``: the least an ASGI endpoint can do to accept the same event correctly: the
  headers it needs found in the scope, the body read from ``receive``, the signature, decryption,
  padding, token and typed decoding of ``benchmarks/_floor.py``, a set of event ids, and the same
  JSON answer sent;
- ``lark``: ``ASGIApp`` over a ``Dispatcher`` (deduplication in memory, the default) with an
  async handler reading ``event.event.message.text``.

The modes run in interleaved rounds; each figure is the median round of process CPU time per
request. The ratio printed last is floor / lark (1.0: the app adds nothing; target of the other
adapters: >= 0.9).

    .venv/bin/python benchmarks/bench_asgi.py [--requests 3000] [--rounds 7]
    # before/after: another tree first (git archive REV | tar -x -C DIR)
    PYTHONPATH=DIR .venv/bin/python benchmarks/bench_asgi.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # appended: a base tree given first on PYTHONPATH wins
    sys.path.append(str(ROOT))

from benchmarks import _cli, _floor  # noqa: E402
from benchmarks.bench_core import ENCRYPT_KEY, VERIFICATION_TOKEN, sample_request  # noqa: E402

Message = MutableMapping[str, Any]
App = Callable[..., Awaitable[None]]
RawRequest = tuple[list[tuple[bytes, bytes]], bytes]
SUCCESS = b'{"msg":"success"}'
_NAMES = {
    "X-Lark-Signature": b"x-lark-signature",
    "X-Lark-Request-Timestamp": b"x-lark-request-timestamp",
    "X-Lark-Request-Nonce": b"x-lark-request-nonce",
}
_WANTED = frozenset(_NAMES.values())


def raw_requests(count: int) -> list[RawRequest]:
    """``count`` distinct events as an ASGI server hands them over: header pairs and body."""
    out: list[RawRequest] = []
    for i in range(count):
        headers, body = sample_request(f"{i:032x}")
        raw = [(b"host", b"127.0.0.1:8000"), (b"content-length", str(len(body)).encode())]
        raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        out.append((raw, body))
    return out


def floor_app() -> App:
    """The ASGI floor that does the unavoidable work, and answers as the core does."""
    check = _floor.crypto_floor(ENCRYPT_KEY, VERIFICATION_TOKEN)
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"content-length", str(len(SUCCESS)).encode()),
        ],
    }
    body = {"type": "http.response.body", "body": SUCCESS}

    async def app(scope: Message, receive: Any, send: Any) -> None:
        wanted: dict[bytes, str] = {}
        for name, value in scope["headers"]:  # the first of each, as a server would pick
            if name in _WANTED and name not in wanted:
                wanted[name] = value.decode("latin-1")
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        check(lambda header: wanted.get(_NAMES[header]), b"".join(chunks))
        await send(start)
        await send(body)

    return app


def lark_app() -> tuple[App, Any]:
    """``ASGIApp`` over a default in-memory-dedup dispatcher, and the dispatcher (to close)."""
    from lark_events_core import Dispatcher, Event
    from lark_events_core.asgi import ASGIApp

    dispatcher = Dispatcher(ENCRYPT_KEY, VERIFICATION_TOKEN)

    @dispatcher.on("im.message.receive_v1")
    async def handler(event: Event[Any]) -> None:
        event.event.message.text  # noqa: B018 - the typed model, as a real handler reads it

    return ASGIApp(dispatcher), dispatcher


async def serve(app: App, requests: list[RawRequest]) -> list[Message]:
    """Call ``app`` for each request in turn; what it sent."""
    sent: list[Message] = []
    append = sent.append

    async def send(message: Message) -> None:
        append(message)

    for headers, body in requests:
        messages: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive(messages: list[Message] = messages) -> Message:
            return messages.pop() if messages else {"type": "http.disconnect"}

        scope = {"type": "http", "method": "POST", "path": "/webhook/event", "headers": headers}
        await app(scope, receive, send)
    return sent


async def run(requests: int, rounds: int) -> dict[str, float]:
    """Median CPU microseconds per request of each mode, interleaved rounds of new events."""
    lark, dispatcher = lark_app()
    apps = {"floor+crypto": floor_app(), "lark": lark}
    warmup = 300
    pool = raw_requests(warmup + rounds * requests)
    samples: dict[str, list[float]] = {name: [] for name in apps}
    for name, app in apps.items():  # each mode answers as the platform expects
        sent = await serve(app, pool[:warmup])
        statuses = {m["status"] for m in sent if m["type"] == "http.response.start"}
        bodies = {m["body"] for m in sent if m["type"] == "http.response.body"}
        if statuses != {200} or bodies != {SUCCESS}:
            raise SystemExit(f"{name} answered {statuses} {bodies}")
    for r in range(rounds):
        chunk = pool[warmup + r * requests : warmup + (r + 1) * requests]
        for name, app in apps.items() if r % 2 == 0 else reversed(apps.items()):
            start = time.process_time()
            await serve(app, chunk)
            samples[name].append((time.process_time() - start) / requests * 1e6)
    await dispatcher.aclose()
    return {name: statistics.median(values) for name, values in samples.items()}


def main(argv: list[str] | None = None) -> int:
    """Run both modes and print each median, then the ratio."""
    args = _cli.rounds_parser(__doc__, requests=3000).parse_args(argv)
    _cli.print_tree()
    results = asyncio.run(run(args.requests, args.rounds))
    print(f"process CPU per request, median of {args.rounds} rounds x {args.requests} requests")
    for name, us in results.items():
        print(f"  {name:14s} {us:8.2f} us")
    floor, lark = results["floor+crypto"], results["lark"]
    print(f"ratio floor+crypto / lark: {floor / lark:.3f}x ({lark - floor:+.2f} us per request)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
