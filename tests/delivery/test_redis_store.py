"""RedisDedupStore against the real Redis server: atomic claims across processes, expiry, faults."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from lark_events_core import Event
from lark_events_core.redis_store import RedisDedupStore
from lark_events_core.testing import make_event, sign_event
from tests.support.servers import ROOT, free_port
from tests.support.services import service_url

from .helpers import KEY, MESSAGE, dispatcher, event_request

pytestmark = pytest.mark.services


@pytest.fixture
def redis_url() -> str:
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


@pytest.fixture
def store(redis_url: str, prefix: str) -> Iterator[RedisDedupStore]:
    s = RedisDedupStore(redis_url, prefix=prefix)
    yield s
    s.close()


def test_claim_complete_release(store: RedisDedupStore) -> None:
    assert store.claim("k", "a", 60)
    assert not store.claim("k", "b", 60)
    store.release("k", "b")  # not b's claim: nothing happens
    assert not store.claim("k", "b", 60)
    store.release("k", "a")
    assert store.claim("k", "b", 60)
    store.complete("k", "b", 3600)
    assert not store.claim("k", "c", 60)
    store.release("k", "b")  # a done key is not a claim
    assert not store.claim("k", "c", 60)


def test_keys_use_the_prefix_and_done_retention(
    store: RedisDedupStore, redis_url: str, prefix: str
) -> None:
    store.claim("k", "a", 60)
    client = redis.Redis.from_url(redis_url)
    assert client.get(prefix + "k") == b"a"
    assert 0 < client.pttl(prefix + "k") <= 60_000
    store.complete("k", "a", 7.2 * 3600)
    assert client.pttl(prefix + "k") > 7 * 3600 * 1000
    client.close()


def test_expired_claim_is_taken_over_and_the_stale_owner_cannot_touch_it(
    store: RedisDedupStore,
) -> None:
    assert store.claim("k", "slow", 0.2)
    time.sleep(0.3)
    assert store.claim("k", "new", 60)
    store.release("k", "slow")
    assert not store.claim("k", "third", 60)  # the stale release did not drop new's claim
    store.complete("k", "slow", 3600)
    store.release("k", "new")  # new still owns it: the stale complete did not overwrite it
    assert store.claim("k", "third", 60)


def test_async_client(redis_url: str, prefix: str) -> None:
    async def main() -> None:
        s = RedisDedupStore(redis_url, prefix=prefix)
        assert await s.aclaim("k", "a", 60)
        assert not await s.aclaim("k", "b", 60)
        await s.arelease("k", "b")
        assert not await s.aclaim("k", "b", 60)
        await s.arelease("k", "a")
        assert await s.aclaim("k", "b", 60)
        await s.acomplete("k", "b", 60)
        assert not await s.aclaim("k", "c", 60)
        await s.aclose()
        s.close()

    asyncio.run(main())


def test_dispatcher_async_path_uses_redis(redis_url: str, prefix: str) -> None:
    calls: list[int] = []

    async def main() -> None:
        store = RedisDedupStore(redis_url, prefix=prefix)
        d = dispatcher(dedup=store)
        d.register(MESSAGE, lambda e: calls.append(1))
        for _ in range(3):
            assert (await d.handle_async(event_request(event_id="same"))).status == 200
        await store.aclose()
        store.close()

    asyncio.run(main())
    assert calls == [1]


def test_failing_first_attempt_then_the_retry_runs_on_another_process(
    redis_url: str, prefix: str
) -> None:
    # Two dispatchers sharing the Redis store stand for two processes.
    attempts: list[str] = []

    def failing(event: Event[Any]) -> None:
        attempts.append("first")
        raise RuntimeError("first attempt fails")

    first = dispatcher(dedup=RedisDedupStore(redis_url, prefix=prefix))
    first.register(MESSAGE, failing)
    second = dispatcher(dedup=RedisDedupStore(redis_url, prefix=prefix))
    second.register(MESSAGE, lambda e: attempts.append("retry"))
    assert first.handle(event_request(event_id="ev-x")).status == 500
    assert second.handle(event_request(event_id="ev-x")).status == 200
    assert first.handle(event_request(event_id="ev-x")).status == 200
    assert attempts == ["first", "retry"]


def _write_requests(tmp_path: Path, event_ids: list[str]) -> Path:
    specs = []
    for event_id in event_ids:
        signed = sign_event(make_event(MESSAGE, {}, event_id=event_id), encrypt_key=KEY)
        specs.append({"headers": signed.headers, "body": signed.body.decode()})
    path = tmp_path / "requests.json"
    path.write_text(json.dumps(specs))
    return path


def _worker(request_file: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.delivery.redis_worker", str(request_file)],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_n_processes_same_events_same_moment_each_handler_runs_once(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    # Six processes race on each of 30 events, started at the same instant: a check-then-set
    # claim lets some event through twice; SET NX never does.
    event_ids = [f"ev-{uuid.uuid4().hex}" for _ in range(30)]
    request_file = _write_requests(tmp_path, event_ids)
    env = {
        "REDIS_URL": redis_url,
        "LARK_TEST_PREFIX": prefix,
        "LARK_TEST_START_AT": str(time.time() + 4.0),  # every process imported and waiting
        "LARK_TEST_HANDLER_SLEEP": "0.01",
    }
    procs = [_worker(request_file, env) for _ in range(6)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    assert [out.split() for out, _ in outputs] == [["200"] * 30] * 6
    client = redis.Redis.from_url(redis_url)
    runs = [r.decode() for r in client.lrange(prefix + "runs", 0, -1)]
    client.close()
    assert sorted(runs) == sorted(event_ids)


def test_claim_of_a_killed_owner_is_taken_over_after_the_claim_ttl(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    event_id = f"ev-{uuid.uuid4().hex}"
    request_file = _write_requests(tmp_path, [event_id])
    client = redis.Redis.from_url(redis_url)
    ttl = 2.0
    owner = _worker(
        request_file,
        {
            "REDIS_URL": redis_url,
            "LARK_TEST_PREFIX": prefix,
            "LARK_TEST_CLAIM_TTL": str(ttl),
            "LARK_TEST_HANDLER_SLEEP": "60",
        },
    )
    try:
        deadline = time.monotonic() + 30
        while client.get(prefix + "started") is None:
            assert time.monotonic() < deadline, owner.stderr.read() if owner.stderr else ""
            time.sleep(0.05)
        claimed_at = time.monotonic()
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
    finally:
        if owner.poll() is None:
            owner.kill()
        owner.communicate()

    runs: list[str] = []
    other = dispatcher(dedup=RedisDedupStore(redis_url, prefix=prefix), claim_ttl=ttl)
    other.register(MESSAGE, lambda e: runs.append(e.event_id or ""))
    # While the dead owner's claim lives, the re-push is treated as a duplicate...
    assert other.handle(event_request(event_id=event_id)).status == 200
    assert runs == []
    assert time.monotonic() - claimed_at < ttl
    # ...and once it has expired, the next delivery takes the event over.
    time.sleep(max(0.0, ttl - (time.monotonic() - claimed_at)) + 0.3)
    assert other.handle(event_request(event_id=event_id)).status == 200
    assert runs == [event_id]
    client.close()


def _dead_redis_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there


def test_unreachable_redis_default_policy_handles_the_event_quickly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    d = dispatcher(dedup=RedisDedupStore(_dead_redis_url(), timeout=0.3))
    calls: list[int] = []
    d.register(MESSAGE, lambda e: calls.append(1))
    started = time.monotonic()
    statuses = [d.handle(event_request()).status for _ in range(20)]
    elapsed = time.monotonic() - started
    assert statuses == [200] * 20
    assert calls == [1] * 20
    assert elapsed < 3.0
    assert "deduplication store failed to claim" in caplog.text


def test_unreachable_redis_retry_policy_answers_503() -> None:
    d = dispatcher(dedup=RedisDedupStore(_dead_redis_url(), timeout=0.3), on_store_error="retry")
    calls: list[int] = []
    d.register(MESSAGE, lambda e: calls.append(1))
    statuses = [d.handle(event_request()).status for _ in range(5)]
    assert statuses == [503] * 5
    assert calls == []


def test_unreachable_redis_async_path_keeps_the_policy() -> None:
    async def main() -> list[int]:
        d = dispatcher(dedup=RedisDedupStore(_dead_redis_url(), timeout=0.3))
        d.register(MESSAGE, lambda e: None)
        return [(await d.handle_async(event_request())).status for _ in range(5)]

    assert asyncio.run(main()) == [200] * 5


def test_repr_hides_the_url() -> None:
    s = RedisDedupStore("redis://:hunter2@127.0.0.1:1/0", prefix="p:")
    assert "hunter2" not in repr(s)


def test_store_fails_fast_while_redis_is_down_and_recovers_when_it_is_back(prefix: str) -> None:
    import shutil

    from lark_events_core.redis_store import StoreUnavailable
    from tests.support.servers import wait_for_port

    binary = shutil.which("redis-server")
    assert binary is not None, "redis-server is not installed"
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(port, proc, 10)
        return proc

    server = start()
    store = RedisDedupStore(f"redis://127.0.0.1:{port}/0", prefix=prefix, cooldown=0.5)
    try:
        assert store.claim("k", "a", 60)
        server.kill()
        server.wait(5)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.claim("k2", "a", 60)
        for _ in range(100):  # within the cooldown: no network at all
            with pytest.raises(StoreUnavailable):
                store.claim("k2", "a", 60)
        assert time.monotonic() - started < 1.0
        server = start()
        time.sleep(0.6)  # the cooldown has passed
        assert store.claim("k2", "a", 60)
    finally:
        store.close()
        if server.poll() is None:
            server.kill()
        server.wait(5)
