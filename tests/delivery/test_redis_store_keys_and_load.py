"""RedisDedupStore against the real Redis: every key reaches Redis, and a healthy but busy Redis
(a burst, a busy event loop) never counts as down."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from lark_events_core import _json
from lark_events_core.redis_store import RedisDedupStore, StoreUnavailable
from lark_events_core.testing import make_event, sign_event

from .helpers import KEY, MESSAGE, dispatcher, messages

pytestmark = pytest.mark.services


@pytest.fixture
def redis_url() -> str:
    from tests.support.services import service_url

    return service_url("REDIS_URL")


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards."""
    value = f"lark-test:{uuid.uuid4().hex}:"
    yield value
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=value + "*"))
    if keys:
        client.delete(*keys)
    client.close()


# -- every key reaches the store -------------------------------------------------------------


@pytest.mark.parametrize("key", ["\ud800", "ev-\udfff-x", "\ud83d\ude00 pair of halves", "é"])
def test_keys_with_lone_surrogates_are_claimed_sync_and_async(
    redis_url: str, prefix: str, key: str
) -> None:
    store = RedisDedupStore(redis_url, prefix=prefix)
    assert store.claim(key, "a", 60)
    assert not store.claim(key, "b", 60)
    assert store.claim(key + "2", "a", 60)  # a different string: a different key

    async def main() -> tuple[bool, bool]:
        first = await store.aclaim("async" + key, "a", 60)
        second = await store.aclaim("async" + key, "b", 60)
        await store.acomplete("async" + key, "a", 60)
        await store.aclose()
        return first, second

    assert asyncio.run(main()) == (True, False)
    store.close()


def test_a_surrogate_event_id_is_deduplicated_not_handled_on_every_delivery(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stdlib parser (the core's JSON without the ``fast`` extra) accepts a lone surrogate;
    # orjson refuses the body before any store sees it.
    monkeypatch.setattr(_json, "loads", json.loads)
    store = RedisDedupStore(redis_url, prefix=prefix)
    d = dispatcher(dedup=store, on_store_error="retry")
    calls: list[str | None] = []
    d.register(MESSAGE, lambda e: calls.append(e.event_id))
    event = make_event(MESSAGE, {}, event_id="\ud800-forged")
    body = json.dumps(event).encode("ascii")  # valid JSON: "\ud800-forged"
    statuses = [d.handle(sign_event(body, encrypt_key=KEY).as_request()).status for _ in range(3)]
    assert statuses == [200, 200, 200]  # not 503 forever
    assert calls == ["\ud800-forged"]
    assert not [m for m in messages(caplog) if "store failed" in m]
    store.close()


def test_a_long_key_is_stored_as_a_bounded_digest(redis_url: str, prefix: str) -> None:
    store = RedisDedupStore(redis_url, prefix=prefix)
    long_key = "\U0001f600" * 100_000  # 400 KB of UTF-8
    assert store.claim(long_key, "a", 60)
    assert not store.claim(long_key, "b", 60)
    assert store.claim(long_key[:-1] + "x", "a", 60)
    client = redis.Redis.from_url(redis_url)
    sizes = [len(k) for k in client.scan_iter(match=prefix + "*")]
    client.close()
    assert len(sizes) == 2
    assert max(sizes) < len(prefix) + 100
    assert store.redis_key("short") == prefix.encode() + b"short"  # short keys stay readable
    store.close()


# -- busy is not down ------------------------------------------------------------------------


def test_a_burst_of_300_concurrent_async_claims_all_get_a_verdict(
    redis_url: str, prefix: str
) -> None:
    async def main() -> list[bool]:
        store = RedisDedupStore(redis_url, prefix=prefix)
        keys = [f"k{i // 2}" for i in range(300)]  # each key claimed twice at once
        try:
            return await asyncio.gather(*(store.aclaim(k, f"o{i}", 60) for i, k in enumerate(keys)))
        finally:
            await store.aclose()

    won = asyncio.run(main())  # no StoreUnavailable: the pool is never exhausted
    assert [won[i] + won[i + 1] for i in range(0, 300, 2)] == [1] * 150


def test_a_connect_slowed_by_a_busy_event_loop_is_not_a_failure(
    redis_url: str, prefix: str
) -> None:
    async def hog() -> None:
        await asyncio.sleep(0)  # let the claim start connecting first
        time.sleep(0.8)  # a busy loop: longer than the command timeout

    async def main() -> bool:
        store = RedisDedupStore(redis_url, prefix=prefix)  # timeout 0.5 s
        try:
            claimed, _ = await asyncio.gather(store.aclaim("k", "a", 60), hog())
            return bool(claimed)
        finally:
            await store.aclose()

    assert asyncio.run(main())


def test_a_timeout_while_redis_just_answered_fails_that_call_only(prefix: str) -> None:
    # A real redis-server of this test alone, paused (SIGSTOP) for one call: a slow server.
    import shutil
    import signal
    import subprocess

    from tests.support.servers import free_port, wait_for_port

    binary = shutil.which("redis-server")
    assert binary is not None, "redis-server is not installed"
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, server, 10)
    store = RedisDedupStore(f"redis://127.0.0.1:{port}/0", prefix=prefix, timeout=0.3)
    try:
        assert store.claim("warm", "a", 60)
        server.send_signal(signal.SIGSTOP)
        with pytest.raises(StoreUnavailable, match="answered other calls"):
            store.claim("k", "a", 60)
        server.send_signal(signal.SIGCONT)
        assert store.claim("next", "a", 60)  # no cooldown: the very next call reaches Redis
    finally:
        store.close()
        server.send_signal(signal.SIGCONT)
        server.kill()
        server.wait(5)


def test_a_dead_redis_still_fails_fast_for_every_caller() -> None:
    from tests.support.servers import free_port

    async def main() -> float:
        store = RedisDedupStore(f"redis://127.0.0.1:{free_port()}/0")
        started = time.monotonic()
        results = await asyncio.gather(
            *(store.aclaim(f"k{i}", "a", 60) for i in range(200)), return_exceptions=True
        )
        assert all(isinstance(r, StoreUnavailable) for r in results)
        await store.aclose()
        return time.monotonic() - started

    assert asyncio.run(main()) < 2.0
