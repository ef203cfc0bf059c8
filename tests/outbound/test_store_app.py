"""Store apps: the app_ticket event feeds the app access token, then one tenant token per tenant."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lark_events_core.events import Event
from lark_events_core.outbound import AppTicketMissing, OpenAPIClient
from lark_events_core.testing import make_v1_event
from lark_events_core.testing.fake_openapi import FakeOpenAPI

from .helpers import (
    APP_ID,
    APP_SECRET,
    FAST_RETRY,
    VERIFICATION_TOKEN,
    dispatcher,
    message_body,
    signed,
)

STORE = {APP_ID: APP_SECRET}


def store_client(base_url: str, **kwargs: Any) -> OpenAPIClient:
    return OpenAPIClient(
        APP_ID, APP_SECRET, app_type="store", domain=base_url, retry=FAST_RETRY, **kwargs
    )


def ticket_event(ticket: str) -> Any:
    body = make_v1_event(
        "app_ticket", {"app_ticket": ticket}, token=VERIFICATION_TOKEN, app_id=APP_ID
    )
    return signed(body)


def test_store_app_replies_after_the_platform_pushes_an_app_ticket_event() -> None:
    async def main() -> None:
        d = dispatcher()

        async def push_ticket(app_id: str) -> None:
            # What the platform does after app_ticket/resend: a signed app_ticket event.
            response = await d.handle_async(ticket_event(fake.issue_app_ticket(app_id)))
            assert response.status == 200

        async with FakeOpenAPI(store_apps=STORE, on_ticket_resend=push_ticket) as fake:
            async with store_client(fake.base_url) as client:
                client.attach(d)

                @d.on("im.message.receive_v1")
                async def echo(event: Event[Any]) -> None:
                    await client.for_event(event).reply_text("echo")

                for tenant, message in [("tenant_a", "om_a1"), ("tenant_b", "om_b1")]:
                    body = message_body(message, tenant_key=tenant)
                    assert (await d.handle_async(signed(body))).status == 200
                body = message_body("om_a2", tenant_key="tenant_a")
                assert (await d.handle_async(signed(body))).status == 200

            assert len(fake.calls("app_ticket_resend")) == 1
            assert len(fake.calls("app_access_token")) == 1
            tenant_tokens = fake.calls("tenant_access_token")
            assert sorted(r.json["tenant_key"] for r in tenant_tokens) == ["tenant_a", "tenant_b"]
            replies = {r.path.split("/")[5]: r.tenant_key for r in fake.sent}
            assert replies == {"om_a1": "tenant_a", "om_b1": "tenant_b", "om_a2": "tenant_a"}

    asyncio.run(main())


def test_ticket_delivered_before_the_first_call_needs_no_resend() -> None:
    async def main() -> None:
        d = dispatcher()
        async with FakeOpenAPI(store_apps=STORE) as fake, store_client(fake.base_url) as client:
            client.attach(d)
            ticket = fake.issue_app_ticket(APP_ID)
            assert (await d.handle_async(ticket_event(ticket))).status == 200
            await client.send_text("ou_user", "hi", tenant_key="tenant_a")
            assert fake.calls("app_ticket_resend") == []
            assert fake.calls("app_access_token")[0].json["app_ticket"] == ticket
            assert fake.sent[0].tenant_key == "tenant_a"

    asyncio.run(main())


def test_no_ticket_in_time_raises_app_ticket_missing_after_asking_for_a_resend() -> None:
    async def main() -> None:
        async with FakeOpenAPI(store_apps=STORE) as fake:
            async with store_client(fake.base_url, ticket_wait=0.3) as client:
                with pytest.raises(AppTicketMissing):
                    await client.send_text("ou_user", "hi", tenant_key="tenant_a")
            assert len(fake.calls("app_ticket_resend")) == 1
            assert fake.calls("messages.create") == []

    asyncio.run(main())


def test_store_app_call_without_a_tenant_key_is_refused() -> None:
    async def main() -> None:
        async with FakeOpenAPI(store_apps=STORE) as fake, store_client(fake.base_url) as client:
            with pytest.raises(AppTicketMissing, match="tenant_key"):
                await client.send_text("ou_user", "hi")
            assert fake.requests == []

    asyncio.run(main())


def test_invalid_app_token_is_refreshed_when_getting_a_tenant_token() -> None:
    async def main() -> None:
        d = dispatcher()
        async with FakeOpenAPI(store_apps=STORE) as fake, store_client(fake.base_url) as client:
            client.attach(d)
            await d.handle_async(ticket_event(fake.issue_app_ticket(APP_ID)))
            await client.send_text("ou_user", "one", tenant_key="tenant_a")
            fake.revoke_tokens()  # app and tenant tokens alike
            await client.send_text("ou_user", "two", tenant_key="tenant_a")
            assert [r.code for r in fake.calls("tenant_access_token")] == [0, 99991664, 0]
            assert len(fake.calls("app_access_token")) == 2
            assert len(fake.sent) == 2

    asyncio.run(main())


def test_attach_twice_is_a_configuration_error() -> None:
    from lark_events_core import ConfigurationError

    d = dispatcher()
    client = store_client("http://127.0.0.1:9")
    client.attach(d)
    with pytest.raises(ConfigurationError):
        client.attach(d)


def test_redis_ticket_store_shares_the_ticket_between_workers() -> None:
    import uuid

    import redis

    from lark_events_core.outbound.redis_tickets import RedisTicketStore
    from tests.support.services import service_url

    url = service_url("REDIS_URL")
    prefix = f"test:outbound:{uuid.uuid4().hex}:"
    conn = redis.Redis.from_url(url)

    async def main() -> None:
        worker_a_dispatcher = dispatcher()
        async with FakeOpenAPI(store_apps=STORE) as fake:
            worker_a = store_client(
                fake.base_url, ticket_store=RedisTicketStore(url, prefix=prefix)
            )
            worker_b = store_client(
                fake.base_url, ticket_store=RedisTicketStore(conn, prefix=prefix), ticket_wait=0.5
            )
            worker_a.attach(worker_a_dispatcher)
            ticket = fake.issue_app_ticket(APP_ID)
            response = await worker_a_dispatcher.handle_async(ticket_event(ticket))
            assert response.status == 200
            # Worker B never saw the event, yet finds the ticket in Redis.
            await worker_b.send_text("ou_user", "hi", tenant_key="tenant_a")
            assert fake.calls("app_ticket_resend") == []
            assert fake.calls("app_access_token")[0].json["app_ticket"] == ticket
            await worker_a.aclose()
            await worker_b.aclose()
        assert conn.ttl(prefix + APP_ID) > 3600
        assert ticket not in repr(RedisTicketStore(conn, prefix=prefix))

    try:
        asyncio.run(main())
    finally:
        conn.delete(prefix + APP_ID)
        conn.close()


def test_stale_ticket_is_replaced_by_a_resent_one_and_the_call_succeeds() -> None:
    async def main() -> None:
        d = dispatcher()

        async def push_ticket(app_id: str) -> None:
            await d.handle_async(ticket_event(fake.issue_app_ticket(app_id)))

        async with FakeOpenAPI(store_apps=STORE, on_ticket_resend=push_ticket) as fake:
            async with store_client(fake.base_url) as client:
                client.attach(d)
                client.set_app_ticket("ticket-from-before-a-restart")
                await client.send_text("ou_user", "hi", tenant_key="tenant_a")
            assert [r.code for r in fake.calls("app_access_token")] == [10012, 0]
            assert len(fake.calls("app_ticket_resend")) == 1
            assert len(fake.sent) == 1

    asyncio.run(main())


def test_wrong_store_app_secret_fails_fast_with_a_token_request_error() -> None:
    from lark_events_core.outbound import TokenRequestError

    async def main() -> None:
        async with FakeOpenAPI(store_apps={APP_ID: "the-real-secret"}) as fake:
            async with store_client(fake.base_url, ticket_wait=5.0) as client:
                client.set_app_ticket(fake.issue_app_ticket(APP_ID))
                started = asyncio.get_running_loop().time()
                with pytest.raises(TokenRequestError) as info:
                    await client.send_text("ou_user", "hi", tenant_key="tenant_a")
                assert asyncio.get_running_loop().time() - started < 2.0
            assert info.value.code == 10014
            assert fake.calls("messages.create") == []

    asyncio.run(main())
