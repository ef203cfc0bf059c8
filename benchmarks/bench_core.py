"""Core benchmark: lark-events' core against the official Python SDK (lark-oapi), one run.

1. Cost per encrypted, signed ``im.message.receive_v1`` request, on the same bytes:
   - ours: ``Request.build`` + ``Dispatcher.handle`` (deduplication disabled, so the handler runs
     for every request) with a handler that reads ``event.event.message.text``; the same with a
     handler that reads the text from the raw dict (``event.data``: no typed model); and the
     same with the in-memory deduplication store on, each request a new ``event_id``;
   - lark-oapi: a ``RawRequest`` built as its Flask adapter does + ``EventDispatcherHandler.do``
     with a handler that reads the same text (``json.loads(message.content)["text"]``);
   - the floor: the fastest correct implementation of the unavoidable work and nothing else:
     the SHA-256 signature compared in constant time, the outer JSON and the base64 (strict),
     AES-CBC with a cached context, a table PKCS#7 check, the plaintext JSON, the verification
     token compared in constant time, and the content JSON for the text. Twice: with the stdlib
     (``binascii``) + orjson, and with msgspec decoding the outer JSON and base64 in one pass
     (when installed); the ratios use the faster one. Plus the floor with a ``set`` of event
     ids, the least a deduplication check can cost.
   The variants run in interleaved rounds; each figure is the median round of this thread's CPU
   time (``time.thread_time``: steadier than wall time when other work shares the machine).
2. Import time and peak RSS of ``import lark_events_core`` in a fresh interpreter (several runs,
   median) against ``import lark_oapi``, and a bare interpreter for reference; with bytecode
   cached (as installed from a wheel) and, under ``PYTHONDONTWRITEBYTECODE``, compiling the
   sources on every run as a checkout without ``__pycache__`` does.

Targets (issue 16): the core at least 5x faster than lark-oapi per request and within 1.3x of
the fastest floor; deduplication under 5%; import under 80 ms and 30 MB. Ratios are printed last.

    .venv/bin/python benchmarks/bench_core.py [--requests 3000] [--rounds 15] [--imports 5]

lark-oapi comes only with the ``bench`` dependency group: ``.venv/bin/pip install --group bench``.
"""

from __future__ import annotations

import argparse
import binascii
import gc
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from lark_events_core import Dispatcher, Event, MemoryDedupStore, Request, _json
from lark_events_core.testing import make_event, sign_event

Variant = tuple[Callable[[], Any], list[Any]]

ENCRYPT_KEY = "bench-encrypt-key"
VERIFICATION_TOKEN = "bench-verification-token"
TEXT = "hello from the benchmark"


def sample_request(
    event_id: str = "5e3702a84e847582be8db7fb73283c02",
) -> tuple[dict[str, str], bytes]:
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
        event_id=event_id,
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


def ours(headers: dict[str, str], body: bytes) -> Variant:
    """Our core as an adapter drives it; deduplication off so every request runs the handler."""
    dispatcher = Dispatcher(ENCRYPT_KEY, VERIFICATION_TOKEN, dedup=False)
    seen: list[Any] = []

    @dispatcher.on("im.message.receive_v1")
    def handler(event: Event[Any]) -> None:
        seen.append(event.event.message.text)

    def one() -> Any:
        return dispatcher.handle(Request.build("POST", headers, body, "/webhook/event"))

    return one, seen


def ours_raw(headers: dict[str, str], body: bytes) -> Variant:
    """Our core with a handler that reads the raw dict: what the core costs without a model."""
    dispatcher = Dispatcher(ENCRYPT_KEY, VERIFICATION_TOKEN, dedup=False)
    seen: list[Any] = []
    loads = _json.loads

    @dispatcher.on("im.message.receive_v1")
    def handler(event: Event[Any]) -> None:
        seen.append(loads(event.data["message"]["content"])["text"])

    def one() -> Any:
        return dispatcher.handle(Request.build("POST", headers, body, "/webhook/event"))

    return one, seen


def ours_dedup(requests: list[tuple[dict[str, str], bytes]]) -> Variant:
    """Our core with the in-memory deduplication store on; every request is a new event_id.

    The store is sized so that it never rotates out an id within a run; so each claim is a new
    key, as in production.
    """
    store = MemoryDedupStore(max_entries=10_000_000, max_bytes=2**40)
    dispatcher = Dispatcher(ENCRYPT_KEY, VERIFICATION_TOKEN, dedup=store)
    seen: list[Any] = []

    @dispatcher.on("im.message.receive_v1")
    def handler(event: Event[Any]) -> None:
        seen.append(event.event.message.text)

    it = iter(requests)

    def one() -> Any:
        headers, body = next(it)
        return dispatcher.handle(Request.build("POST", headers, body, "/webhook/event"))

    return one, seen


def lark_oapi_sdk(headers: dict[str, str], body: bytes) -> Variant:
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


_PADDING = tuple(bytes([n]) * n for n in range(17))


def _stdlib_outer(body: bytes) -> bytes:
    """The outer JSON with orjson (or json), then strict base64 with binascii."""
    encrypted = _json.loads(body)["encrypt"]
    if sys.version_info >= (3, 11):
        return binascii.a2b_base64(encrypted, strict_mode=True)
    import base64  # pragma: no cover - Python 3.10

    return base64.b64decode(encrypted, validate=True)  # pragma: no cover


def _msgspec_outer() -> Callable[[bytes], bytes] | None:
    """The outer JSON and the base64 in one pass with msgspec, or None when not installed."""
    try:
        import msgspec
    except ImportError:
        return None

    class Outer(msgspec.Struct):
        encrypt: bytes

    decode = msgspec.json.Decoder(Outer).decode
    return lambda body: decode(body).encrypt


def floor(
    headers: dict[str, str],
    body: bytes,
    outer: Callable[[bytes], bytes],
    dedup: list[tuple[dict[str, str], bytes]] | None = None,
) -> Variant:
    """The unavoidable work, done the fastest correct way; with ``dedup``, a set of event ids."""
    decryptor = Cipher(
        algorithms.AES(hashlib.sha256(ENCRYPT_KEY.encode()).digest()), modes.CBC(bytes(16))
    ).decryptor()  # cached: the IV is fed as the first block, whose output is discarded
    loads = _json.loads
    compare = hmac.compare_digest
    seen: list[Any] = []
    ids: set[str] = set()
    it = iter(dedup or ())

    def one() -> Any:
        hdrs, data = (headers, body) if dedup is None else next(it)
        digest = hashlib.sha256(
            (hdrs["X-Lark-Request-Timestamp"] + hdrs["X-Lark-Request-Nonce"] + ENCRYPT_KEY).encode()
        )
        digest.update(data)
        if not compare(digest.hexdigest(), hdrs["X-Lark-Signature"]):
            raise AssertionError("signature")
        out = decryptor.update(outer(data))
        pad = out[-1]
        if not 0 < pad <= 16 or not compare(out[-pad:], _PADDING[pad]):
            raise AssertionError("padding")
        event = loads(out[16:-pad])
        header = event["header"]
        if not compare(header["token"], VERIFICATION_TOKEN):
            raise AssertionError("token")
        if dedup is not None:
            key = f"lark:{header['app_id']}:{header['event_id']}"
            if key in ids:
                return None
            ids.add(key)
        seen.append(loads(event["event"]["message"]["content"])["text"])
        return None

    return one, seen


def per_request_us(
    variants: dict[str, Callable[[], Any]], requests: int, rounds: int
) -> dict[str, float]:
    """Median over interleaved rounds of the CPU time per request, in microseconds.

    CPU time of this thread, not wall time: on a shared machine, time spent descheduled while
    other processes run would otherwise count as ours.
    """
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for fn in variants.values():  # warm up caches and lazy imports
        for _ in range(50):
            fn()
    for _ in range(rounds):
        for name, fn in variants.items():
            gc.collect()
            start = time.thread_time()
            for _ in range(requests):
                fn()
            samples[name].append((time.thread_time() - start) / requests * 1e6)
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


def import_cost(statement: str, runs: int, pycache: str | None = None) -> tuple[float, float]:
    """Median import time (ms) and peak RSS (MB) of ``statement`` in fresh interpreters.

    With ``pycache`` (a directory), bytecode is written there by a first, unmeasured run and read
    by the measured ones, as from an installed wheel (pip compiles at install). Without it the
    environment decides: under ``PYTHONDONTWRITEBYTECODE`` and no ``__pycache__`` in the checkout,
    every run compiles the project's sources again.
    """
    env = dict(os.environ)
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    times, rss = [], []
    for run in range(runs + (pycache is not None)):
        out = subprocess.run(
            [sys.executable, "-c", _IMPORT_PROBE.format(statement=statement)],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout.split()
        if pycache is not None and run == 0:
            continue  # the run that wrote the bytecode
        times.append(float(out[0]) * 1000)
        rss.append(float(out[1]) / 1024)  # VmHWM is in KiB
    return statistics.median(times), statistics.median(rss)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the results, the ratios last."""
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
    # One distinct event per request of the deduplicating variants (warm-up and check included).
    total = 1 + 50 + args.rounds * args.requests
    distinct = [sample_request(f"{i:032x}") for i in range(total)]
    built: dict[str, Variant] = {
        "lark-events core": ours(headers, body),
        "core, raw dict handler": ours_raw(headers, body),
        "core, in-memory dedup": ours_dedup(distinct),
        "lark-oapi": lark_oapi_sdk(headers, body),
        "floor, stdlib+orjson": floor(headers, body, _stdlib_outer),
    }
    fast_outer = _msgspec_outer()
    if fast_outer is not None:
        built["floor, msgspec outer"] = floor(headers, body, fast_outer)
    built["floor + dedup set"] = floor(
        headers, body, fast_outer or _stdlib_outer, dedup=list(distinct)
    )
    # Every variant must really accept the request and run the handler.
    for name, (fn, seen) in built.items():
        response = fn()
        if name.startswith("floor"):
            assert seen == [TEXT], (name, seen)
            continue
        status = getattr(response, "status", None) or getattr(response, "status_code", None)
        content = getattr(response, "body", None) or getattr(response, "content", b"")
        assert status == 200, (name, status, content)
        assert json.loads(content) == {"msg": "success"}, (name, content)
        assert seen == [TEXT], (name, seen)

    print(
        f"python {sys.version.split()[0]}, JSON backend {_json.BACKEND}, "
        f"msgspec {'yes' if fast_outer else 'no'}, body {len(body)} bytes"
    )
    print(f"per request: median of {args.rounds} interleaved rounds x {args.requests} requests")
    results = per_request_us({n: fn for n, (fn, _) in built.items()}, args.requests, args.rounds)
    for name, us in results.items():
        print(f"  {name:28s} {us:8.2f} us")
    for name, (_, seen) in built.items():
        assert len(seen) == total, (name, len(seen))

    print(f"import in a fresh interpreter: median of {args.imports} runs")
    with tempfile.TemporaryDirectory() as pycache:
        cases: list[tuple[str, str, str | None]] = [
            ("bare interpreter", "pass", pycache),
            ("import lark_events_core", "import lark_events_core", pycache),
        ]
        if sys.dont_write_bytecode:  # PYTHONDONTWRITEBYTECODE: what this checkout pays
            cases.append(("  ... bytecode not written", "import lark_events_core", None))
        # lark-oapi's bytecode came with its wheel (a prefix would compile its 10,000 files first).
        cases.append(("import lark_oapi", "import lark_oapi", None))
        for label, statement, cache in cases:
            ms, mb = import_cost(statement, args.imports, cache)
            print(f"  {label:28s} {ms:8.1f} ms   peak RSS {mb:6.1f} MB")

    core = results["lark-events core"]
    best_floor = min(v for k, v in results.items() if k.startswith("floor,"))
    print("ratios (same run):")
    print(f"  lark-oapi / core                  {results['lark-oapi'] / core:6.2f}x (target >= 5x)")
    print(f"  core / fastest floor              {core / best_floor:6.2f}x (target <= 1.3x)")
    raw = results["core, raw dict handler"]
    print(f"  core, raw dict / fastest floor    {raw / best_floor:6.2f}x")
    print(f"  core / stdlib floor               {core / results['floor, stdlib+orjson']:6.2f}x")
    dedup = results["core, in-memory dedup"] / core - 1
    floor_dedup = (
        results["floor + dedup set"]
        / results["floor, msgspec outer" if fast_outer else "floor, stdlib+orjson"]
        - 1
    )
    print(f"  in-memory dedup overhead          {dedup:+7.1%} (floor's set: {floor_dedup:+.1%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
