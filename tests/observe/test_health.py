"""Dispatcher.health(): the store, the executor and the long connection, for probes."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from lark_events_core import Dispatcher
from lark_events_core.health import Check
from tests.support.services import service_url

from .mix import KEY, TOKEN


def test_in_memory_dispatcher_is_ready() -> None:
    health = Dispatcher(KEY, TOKEN).health()
    assert health.ready
    assert health.status == 200
    assert health.as_dict()["checks"] == {
        "dedup_store": {"ok": True, "detail": "MemoryDedupStore"},
        "executor": {"ok": True, "detail": "built-in"},
    }


def test_a_failing_source_makes_it_not_ready() -> None:
    dispatcher = Dispatcher(KEY, TOKEN)
    dispatcher.health_sources["queue"] = lambda: Check("queue", False, "full")

    def broken() -> Check:
        raise RuntimeError("bug")

    dispatcher.health_sources["other"] = broken
    health = dispatcher.health()
    assert not health.ready
    assert health.status == 503
    assert health.as_dict()["checks"]["other"] == {"ok": False, "detail": "check failed"}  # type: ignore[index]
    assert b"bug" not in health.body()


@pytest.mark.services
def test_redis_store_reachable_and_unreachable() -> None:
    pytest.importorskip("redis")
    from lark_events_core.redis_store import RedisDedupStore

    url = service_url("REDIS_URL")
    up = RedisDedupStore(url, prefix=f"lark-health:{uuid.uuid4().hex}:")
    ready = Dispatcher(KEY, TOKEN, dedup=up)
    assert ready.health().ready

    async def async_ready() -> bool:
        try:
            return (await ready.ahealth()).ready
        finally:
            await up.aclose()

    assert asyncio.run(async_ready())
    down = RedisDedupStore("redis://127.0.0.1:1/0", timeout=0.2)
    not_ready = Dispatcher(KEY, TOKEN, dedup=down)
    health = not_ready.health()
    assert not health.ready
    assert health.as_dict()["checks"]["dedup_store"] == {  # type: ignore[index]
        "ok": False,
        "detail": "RedisDedupStore unreachable",
    }

    async def async_not_ready() -> bool:
        try:
            return (await not_ready.ahealth()).ready
        finally:
            await down.aclose()

    assert not asyncio.run(async_not_ready())
    up.close()
    down.close()


def test_long_connection_health_and_metrics_follow_the_connection() -> None:
    pytest.importorskip("prometheus_client")
    from prometheus_client import CollectorRegistry

    from lark_events_core.metrics import PrometheusObserver
    from tests.longconn.helpers import StrictPlatform, make_client, quiet_dispatcher, run_clean

    registry = CollectorRegistry()

    async def scenario() -> None:
        async with StrictPlatform() as platform:
            dispatcher = quiet_dispatcher()
            dispatcher.add_observer(PrometheusObserver(registry))
            client = make_client(platform, dispatcher)
            assert dispatcher.health().as_dict()["checks"]["long_connection"]["ok"] is False  # type: ignore[index]
            runner = asyncio.create_task(client.run())
            await platform.wait_for_connections(1)
            await platform.wait_until(lambda: client.connected, 5.0, "client connected")
            assert dispatcher.health().ready
            assert registry.get_sample_value("lark_events_longconn_connected") == 1
            await client.stop()
            assert runner.done()
            health = dispatcher.health()
            assert not health.ready
            assert registry.get_sample_value("lark_events_longconn_connected") == 0

    run_clean(scenario)
