"""Core benchmark: lark-events' core against the official Python SDK (lark-oapi), one run.

1. Cost per encrypted, signed ``im.message.receive_v1`` request, on the same bytes:
   - ours: ``Request.build`` + ``Dispatcher.handle`` (deduplication disabled, so the handler runs
     for every request) with a handler that reads ``event.event.message.text``;
   - lark-oapi: a ``RawRequest`` built as its Flask adapter does + ``EventDispatcherHandler.do``
     with a handler that reads the same text (``json.loads(message.content)["text"]``);
   - the floor: signature hash + base64 + AES-CBC + unpadding + JSON parse, and nothing else.
   The variants run in interleaved rounds; each figure is the median round.
2. Import time and peak RSS of ``import lark_events_core`` in a fresh interpreter (several runs,
   median) against ``import lark_oapi``, and a bare interpreter for reference.

Targets: the core at least 4x faster than lark-oapi per request; its import under 150 ms and its
process under 40 MB. The ratio is printed last.

    .venv/bin/python benchmarks/bench_core.py [--requests 3000] [--rounds 15] [--imports 5]

lark-oapi comes only with the ``bench`` dependency group: ``.venv/bin/pip install --group bench``.
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import hmac
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from lark_events_core import Dispatcher, Event, Request, _json
from lark_events_core.testing import make_event, sign_event

ENCRYPT_KEY = "bench-encrypt-key"
VERIFICATION_TOKEN = "bench-verification-token"
TEXT = "hello from the benchmark"


def sample_request() -> tuple[dict[str, str], bytes]:
    """One realistic message event, encrypted and signed exactly as the platform sends it."""
    body = {
        "sender": {
            "sender_id": {"open_id": "ou_1a2b3c", "user_id": "u_1a2b3c", "union_id": "on_1a2b3c"},
            "sender_type": "user",
            "tenant_key": "736588c9260f175d",
        },
        "message": {
            "message_id": "om_5ce6d572455d361153b7cb51da133945",
            "root_id": "",
            "parent_id": "",
            "create_time": "1609073151345",
            "update_time": "1609073151345",
            "chat_id": "oc_5ce6d572455d361153b7cb51da133945",
            "thread_id": "",
            "chat_type": "p2p",
            "message_type": "text",
            "content": json.dumps({"text": TEXT}),
            "mentions": [],
            "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Lark/7.1.0",
        },
    }
    payload = make_event(
        "im.message.receive_v1",
        body,
        token=VERIFICATION_TOKEN,
        event_id="5e3702a84e847582be8db7fb73283c02",
        app_id="cli_9e28cb7ba56a100e",
        tenant_key="736588c9260f175d",
    )
    signed = sign_event(payload, encrypt_key=ENCRYPT_KEY)
    headers = {
        **signed.headers,
        "X-Tt-Logid": "02170000000000000000000000000000000000000000000",
        "User-Agent": "Go-http-client/1.1",
        "Accept-Encoding": "gzip",
    }
    return headers, signed.body


def ours(headers: dict[str, str], body: bytes) -> tuple[Callable[[], Any], list[Any]]:
    """Our core as an adapter drives it; deduplication off so every request runs the handler."""
    dispatcher = Dispatcher(ENCRYPT_KEY, VERIFICATION_TOKEN, dedup=False)
    seen: list[Any] = []

    @dispatcher.on("im.message.receive_v1")
    def handler(event: Event[Any]) -> None:
        seen.append(event.event.message.text)

    def one() -> Any:
        return dispatcher.handle(Request.build("POST", headers, body, "/webhook/event"))

    return one, seen


def lark_oapi_sdk(headers: dict[str, str], body: bytes) -> tuple[Callable[[], Any], list[Any]]:
    """lark-oapi's EventDispatcherHandler, called the way its Flask adapter calls it."""
    import lark_oapi
    from lark_oapi.core.model import RawRequest

    seen: list[Any] = []

    def handler(data: Any) -> None:
        seen.append(json.loads(data.event.message.content)["text"])

    sdk = (
        lark_oapi.EventDispatcherHandler.builder(ENCRYPT_KEY, VERIFICATION_TOKEN)
        .register_p2_im_message_receive_v1(handler)
        .build()
    )

    def one() -> Any:
        req = RawRequest()
        req.uri = "/webhook/event"
        req.body = body
        req.headers = dict(headers)
        return sdk.do(req)

    return one, seen


def floor(headers: dict[str, str], body: bytes) -> tuple[Callable[[], Any], list[Any]]:
    """The unavoidable work: hash for the signature, base64, AES-CBC, unpad, parse."""
    aes = algorithms.AES(hashlib.sha256(ENCRYPT_KEY.encode()).digest())
    ts, nonce = headers["X-Lark-Request-Timestamp"], headers["X-Lark-Request-Nonce"]
    wanted = headers["X-Lark-Signature"].encode()
    seen: list[Any] = []

    def one() -> Any:
        digest = hashlib.sha256((ts + nonce + ENCRYPT_KEY).encode())
        digest.update(body)
        assert hmac.compare_digest(digest.hexdigest().encode(), wanted)
        raw = base64.b64decode(_json.loads(body)["encrypt"])
        decryptor = Cipher(aes, modes.CBC(raw[:16])).decryptor()
        unpadder = padding.PKCS7(128).unpadder()
        plain = decryptor.update(raw[16:]) + decryptor.finalize()
        return _json.loads(unpadder.update(plain) + unpadder.finalize())

    return one, seen


def per_request_us(
    variants: dict[str, Callable[[], Any]], requests: int, rounds: int
) -> dict[str, float]:
    """Median over interleaved rounds of the time per request, in microseconds."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for fn in variants.values():  # warm up caches and lazy imports
        for _ in range(50):
            fn()
    for _ in range(rounds):
        for name, fn in variants.items():
            gc.collect()
            start = time.perf_counter()
            for _ in range(requests):
                fn()
            samples[name].append((time.perf_counter() - start) / requests * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


# Peak RSS from VmHWM: ru_maxrss survives exec, so a child would report the parent's peak.
_IMPORT_PROBE = """
import time
start = time.perf_counter()
{statement}
elapsed = time.perf_counter() - start
with open("/proc/self/status") as status:
    hwm_kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
print(elapsed, hwm_kb)
"""


def import_cost(statement: str, runs: int) -> tuple[float, float]:
    """Median import time (ms) and peak RSS (MB) of ``statement`` in fresh interpreters."""
    times, rss = [], []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _IMPORT_PROBE.format(statement=statement)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        times.append(float(out[0]) * 1000)
        rss.append(float(out[1]) / 1024)  # VmHWM is in KiB
    return statistics.median(times), statistics.median(rss)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the results, the ratio last."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds")
    parser.add_argument("--imports", type=int, default=5, help="fresh interpreters per import")
    args = parser.parse_args(argv)

    try:
        import lark_oapi  # noqa: F401
    except ImportError:
        print("lark-oapi is not installed: .venv/bin/pip install --group bench", file=sys.stderr)
        return 2

    headers, body = sample_request()
    built = {
        "lark-events core": ours(headers, body),
        "lark-oapi": lark_oapi_sdk(headers, body),
        "floor (hash+decrypt+parse)": floor(headers, body),
    }
    # Both dispatchers must really accept the request and run the handler.
    for name in ("lark-events core", "lark-oapi"):
        fn, seen = built[name]
        response = fn()
        status = getattr(response, "status", None) or getattr(response, "status_code", None)
        content = getattr(response, "body", None) or getattr(response, "content", b"")
        assert status == 200, (name, status, content)
        assert json.loads(content) == {"msg": "success"}, (name, content)
        assert seen == [TEXT], (name, seen)

    print(f"python {sys.version.split()[0]}, JSON backend {_json.BACKEND}, body {len(body)} bytes")
    print(f"per request: median of {args.rounds} interleaved rounds x {args.requests} requests")
    results = per_request_us({n: fn for n, (fn, _) in built.items()}, args.requests, args.rounds)
    for name, us in results.items():
        print(f"  {name:28s} {us:8.2f} us")
    for name in ("lark-events core", "lark-oapi"):
        expected = 1 + 50 + args.rounds * args.requests
        assert len(built[name][1]) == expected, (name, len(built[name][1]))

    print(f"import in a fresh interpreter: median of {args.imports} runs")
    for label, statement in (
        ("bare interpreter", "pass"),
        ("import lark_events_core", "import lark_events_core"),
        ("import lark_oapi", "import lark_oapi"),
    ):
        ms, mb = import_cost(statement, args.imports)
        print(f"  {label:28s} {ms:8.1f} ms   peak RSS {mb:6.1f} MB")

    ratio = results["lark-oapi"] / results["lark-events core"]
    print(f"ratio: lark-events core is {ratio:.2f}x faster than lark-oapi per request (target 4x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
