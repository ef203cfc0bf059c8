"""Tenant access tokens: cached, refreshed once under concurrency, invalidated and retried once."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from lark_events_core.events import Event
from lark_events_core.outbound import InvalidTokenError, TokenRequestError
from lark_events_core.outbound.tokens import TokenCache
from lark_events_core.testing.fake_openapi import FakeOpenAPI

from .helpers import APP_ID, APP_SECRET, client_for, dispatcher, message_body, signed

APPS = {APP_ID: APP_SECRET}


def test_token_is_fetched_once_and_reused() -> None:
    async def main() -> None:
        async with FakeOpenAPI(APPS) as fake, client_for(fake.base_url) as client:
            for _ in range(3):
                await client.send_text("ou_user", "hi")
            assert len(fake.token_requests) == 1
            assert len(fake.sent) == 3
            assert fake.token_requests[0].json == {"app_id": APP_ID, "app_secret": APP_SECRET}

    asyncio.run(main())


def test_fifty_concurrent_async_handlers_share_one_token_request() -> None:
    async def main() -> None:
        async with FakeOpenAPI(APPS, token_delay=0.3) as fake, client_for(fake.base_url) as client:
            d = dispatcher()

            @d.on("im.message.receive_v1")
            async def echo(event: Event[Any]) -> None:
                await client.for_event(event).reply_text("echo")

            requests = [signed(message_body(f"om_{i}")) for i in range(50)]
            responses = await asyncio.gather(*(d.handle_async(r) for r in requests))
            assert [r.status for r in responses] == [200] * 50
            assert len(fake.token_requests) == 1
            replied_to = sorted(r.path.split("/")[5] for r in fake.sent)
            assert replied_to == sorted(f"om_{i}" for i in range(50))

    asyncio.run(main())


def test_fifty_concurrent_sync_handlers_in_threads_share_one_token_request() -> None:
    with FakeOpenAPI(APPS, token_delay=0.3) as fake, client_for(fake.base_url) as client:
        d = dispatcher()
        threads: set[str] = set()

        @d.on("im.message.receive_v1")
        def echo(event: Event[Any]) -> None:
            threads.add(threading.current_thread().name)
            client.for_event(event).reply_text_sync("echo")

        requests = [signed(message_body(f"om_{i}")) for i in range(50)]
        with ThreadPoolExecutor(max_workers=50) as pool:
            responses = list(pool.map(d.handle, requests))
        assert [r.status for r in responses] == [200] * 50
        assert len(threads) > 1
        assert len(fake.token_requests) == 1
        assert len(fake.sent) == 50


def test_token_is_refreshed_shortly_before_it_expires() -> None:
    async def main() -> None:
        async with FakeOpenAPI(APPS, token_ttl=1) as fake, client_for(fake.base_url) as client:
            await client.send_text("ou_user", "one")
            await client.send_text("ou_user", "two")
            assert len(fake.token_requests) == 1
            await asyncio.sleep(0.6)  # past half of the 1 s lifetime, before it expires
            await client.send_text("ou_user", "three")
            assert len(fake.token_requests) == 2
            assert [r.code for r in fake.calls("messages.create")] == [0, 0, 0]

    asyncio.run(main())


def test_invalid_token_is_dropped_refreshed_and_the_call_retried_once() -> None:
    async def main() -> None:
        async with FakeOpenAPI(APPS) as fake, client_for(fake.base_url) as client:
            await client.send_text("ou_user", "before")
            fake.revoke_tokens()
            data = await client.send_text("ou_user", "after")
            assert data["message_id"]
            assert [r.code for r in fake.calls("messages.create")] == [0, 99991663, 0]
            assert len(fake.token_requests) == 2

    asyncio.run(main())


def test_token_refused_twice_raises_invalid_token_error_without_a_third_try() -> None:
    async def main() -> None:
        async with FakeOpenAPI(APPS) as fake, client_for(fake.base_url) as client:
            fake.inject("messages.create", status=400, code=99991663, msg="invalid", times=5)
            with pytest.raises(InvalidTokenError) as info:
                await client.send_text("ou_user", "hi")
            assert info.value.code == 99991663
            assert len(fake.calls("messages.create")) == 2
            assert info.value.log_id == fake.calls("messages.create")[-1].log_id

    asyncio.run(main())


def test_token_expiring_mid_flight_is_refreshed_and_the_call_succeeds() -> None:
    async def main() -> None:
        async with FakeOpenAPI(APPS) as fake, client_for(fake.base_url) as client:
            await client.send_text("ou_user", "warm the cache")
            # The client still believes its token is good for two hours; the platform does not.
            fake.expire_tokens()
            results = await asyncio.gather(
                *(client.send_text("ou_user", f"{i}") for i in range(20))
            )
            assert all(r["message_id"] for r in results)
            codes = [r.code for r in fake.calls("messages.create")]
            assert codes.count(99991677) == 20
            assert codes.count(0) == 21
            assert len(fake.token_requests) == 2  # one refresh for all twenty callers

    asyncio.run(main())


def test_wrong_app_secret_is_a_token_request_error_with_the_log_id() -> None:
    async def main() -> None:
        async with FakeOpenAPI({APP_ID: "another-secret"}) as fake:
            async with client_for(fake.base_url) as client:
                with pytest.raises(TokenRequestError) as info:
                    await client.send_text("ou_user", "hi")
            assert info.value.code == 10014
            assert info.value.log_id == fake.token_requests[0].log_id
            assert not fake.calls("messages.create")

    asyncio.run(main())


def test_a_failed_refresh_is_not_cached_and_the_next_call_tries_again() -> None:
    async def main() -> None:
        async with FakeOpenAPI(APPS) as fake, client_for(fake.base_url) as client:
            fake.server_error("tenant_access_token_internal")
            with pytest.raises(Exception, match="internal error"):
                await client.send_text("ou_user", "hi")
            await client.send_text("ou_user", "hi again")
            assert len(fake.token_requests) == 2

    asyncio.run(main())


def test_cancelled_caller_does_not_cancel_the_refresh_others_wait_for() -> None:
    async def main() -> None:
        calls = 0
        release = asyncio.Event()

        async def fetch() -> tuple[str, int]:
            nonlocal calls
            calls += 1
            await release.wait()
            return "t-value", 7200

        cache = TokenCache()
        first = asyncio.ensure_future(cache.get("k", fetch))
        second = asyncio.ensure_future(cache.get("k", fetch))
        await asyncio.sleep(0.01)
        first.cancel()
        release.set()
        token = await second
        assert token.reveal() == "t-value"
        assert calls == 1
        assert first.cancelled()

    asyncio.run(main())


def test_invalidate_only_drops_the_token_that_was_refused() -> None:
    async def main() -> None:
        values = iter(["t-one", "t-two"])

        async def fetch() -> tuple[str, int]:
            return next(values), 7200

        cache = TokenCache()
        old = await cache.get("k", fetch)
        cache.invalidate("k", old)
        new = await cache.get("k", fetch)
        cache.invalidate("k", old)  # a late caller that used the old token
        assert (await cache.get("k", fetch)) == new
        assert new.reveal() == "t-two"

    asyncio.run(main())
