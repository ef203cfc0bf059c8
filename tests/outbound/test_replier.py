"""The reply helper: bound to an event's tenant and message; async and sync handlers alike."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from lark_events_core import Card, Dispatcher, Event
from lark_events_core.events import Kind
from lark_events_core.outbound import Replier
from lark_events_core.testing import make_event, make_legacy_card, make_v1_event, sign_event
from lark_events_core.testing.fake_openapi import FakeOpenAPI

from .helpers import (
    APP_ID,
    APP_SECRET,
    ENCRYPT_KEY,
    VERIFICATION_TOKEN,
    client_for,
    dispatcher,
    message_body,
    signed,
)

APPS = {APP_ID: APP_SECRET}


def _event(body: dict[str, Any], kind: Kind, event_type: str) -> Event[Any]:
    from lark_events_core.events import EventHeader

    header = body.get("header", {})
    return Event(
        kind=kind,
        type=event_type,
        header=EventHeader(
            event_id=header.get("event_id"),
            tenant_key=header.get("tenant_key"),
            app_id=header.get("app_id"),
        ),
        payload=body,
        raw=json.dumps(body).encode(),
    )


def test_targets_of_a_received_message() -> None:
    client = client_for("http://127.0.0.1:9")
    body = message_body("om_1", chat_id="oc_9", open_id="ou_7", tenant_key="tenant_x")
    replier = client.for_event(_event(body, Kind.EVENT_V2, "im.message.receive_v1"))
    assert (replier.tenant_key, replier.message_id, replier.chat_id, replier.open_id) == (
        "tenant_x",
        "om_1",
        "oc_9",
        "ou_7",
    )
    assert replier.card_token is None


def test_targets_of_a_card_action_callback() -> None:
    client = client_for("http://127.0.0.1:9")
    body = make_event(
        "card.action.trigger",
        {
            "operator": {"open_id": "ou_op", "tenant_key": "tenant_c"},
            "token": "c-card-token",
            "action": {"value": {"k": "v"}, "tag": "button"},
            "context": {"open_message_id": "om_card", "open_chat_id": "oc_card"},
        },
        tenant_key="tenant_c",
    )
    replier = client.for_event(_event(body, Kind.CALLBACK, "card.action.trigger"))
    assert replier.message_id == "om_card"
    assert replier.chat_id == "oc_card"
    assert replier.open_id == "ou_op"
    assert replier.card_token == "c-card-token"
    assert "c-card-token" not in repr(replier)


def test_targets_of_a_legacy_card_and_a_v1_message() -> None:
    client = client_for("http://127.0.0.1:9")
    legacy = make_legacy_card(open_message_id="om_l", open_chat_id="oc_l", card_token="c-l")
    replier = client.for_event(_event(legacy, Kind.LEGACY_CARD, "legacy_card"))
    assert (replier.message_id, replier.chat_id, replier.card_token) == ("om_l", "oc_l", "c-l")
    assert replier.tenant_key == "tenant_test"
    v1 = make_v1_event("message", {"open_message_id": "om_v1", "open_chat_id": "oc_v1"})
    replier = client.for_event(_event(v1, Kind.EVENT_V1, "message"))
    assert (replier.message_id, replier.chat_id, replier.card_token) == ("om_v1", "oc_v1", None)


def test_calls_an_event_cannot_support_raise_value_error() -> None:
    async def main() -> None:
        client = client_for("http://127.0.0.1:9")
        body = make_event("application.bot.menu_v6", {"event_key": "k"})
        replier = client.for_event(_event(body, Kind.EVENT_V2, "application.bot.menu_v6"))
        with pytest.raises(ValueError, match="message to reply to"):
            await replier.reply_text("x")
        with pytest.raises(ValueError, match="card token"):
            await replier.update_card({"elements": []})

    asyncio.run(main())


def test_async_handler_replies_in_thread_to_the_right_message_and_tenant() -> None:
    async def main() -> None:
        async with FakeOpenAPI(APPS, tenant_key="tenant_z") as fake:
            async with client_for(fake.base_url) as client:
                d = dispatcher()

                @d.on("im.message.receive_v1")
                async def echo(event: Event[Any]) -> None:
                    replier = client.for_event(event)
                    await replier.reply_text(f"you said {event.event.message.text}", in_thread=True)
                    await replier.send_card(Card.template("tpl_1", {"name": "x"}))

                body = message_body("om_42", chat_id="oc_7", text="ping", tenant_key="tenant_z")
                assert (await d.handle_async(signed(body))).status == 200
            reply, card = fake.sent
            assert reply.path == "/open-apis/im/v1/messages/om_42/reply"
            assert reply.json["reply_in_thread"] is True
            assert reply.content == {"text": "you said ping"}
            assert reply.tenant_key == "tenant_z"
            assert card.query == {"receive_id_type": "chat_id"}
            assert card.json["receive_id"] == "oc_7"
            assert card.content == {
                "type": "template",
                "data": {"template_id": "tpl_1", "template_variable": {"name": "x"}},
            }

    asyncio.run(main())


def test_sync_handler_in_a_worker_thread_replies_while_another_loop_runs() -> None:
    # The fake runs on this test's event loop; the WSGI-style dispatcher runs in an executor
    # thread and the sync reply waits there, so neither loop is blocked.
    async def main() -> None:
        async with FakeOpenAPI(APPS) as fake, client_for(fake.base_url) as client:
            d = dispatcher()
            seen: dict[str, Any] = {}

            @d.on("im.message.receive_v1")
            def echo(event: Event[Any]) -> None:
                seen["thread"] = threading.current_thread()
                seen["data"] = client.for_event(event).reply_text_sync("sync reply")

            loop = asyncio.get_running_loop()
            response = await loop.run_in_executor(None, d.handle, signed(message_body("om_s")))
            assert response.status == 200
            assert seen["thread"] is not threading.main_thread()
            assert seen["data"]["message_id"] == fake.sent[0].message_id
            assert fake.sent[0].path.endswith("/om_s/reply")

    asyncio.run(main())


def test_async_handler_under_the_sync_dispatcher_replies_on_the_background_loop() -> None:
    with FakeOpenAPI(APPS) as fake, client_for(fake.base_url) as client:
        d = dispatcher()

        @d.on("im.message.receive_v1")
        async def echo(event: Event[Any]) -> None:
            await client.for_event(event).reply_text("from async under WSGI")

        assert d.handle(signed(message_body("om_w"))).status == 200
        assert fake.sent[0].content == {"text": "from async under WSGI"}


def test_sync_call_from_inside_a_coroutine_is_refused_instead_of_blocking() -> None:
    async def main() -> None:
        client = client_for("http://127.0.0.1:9")
        body = message_body("om_1")
        replier = client.for_event(_event(body, Kind.EVENT_V2, "im.message.receive_v1"))
        with pytest.raises(RuntimeError, match="await the async form"):
            replier.reply_text_sync("x")

    asyncio.run(main())


def test_delayed_card_update_after_a_card_callback() -> None:
    with FakeOpenAPI(APPS) as fake, client_for(fake.base_url) as client:
        d = Dispatcher(encrypt_key=ENCRYPT_KEY, verification_token=VERIFICATION_TOKEN)
        later: list[Replier] = []

        @d.on("card.action.trigger")
        def clicked(event: Event[Any]) -> dict[str, Any]:
            later.append(client.for_event(event))  # update after the callback is answered
            return {"toast": {"type": "info", "content": "working on it"}}

        body = make_event(
            "card.action.trigger",
            {
                "operator": {"open_id": "ou_op"},
                "token": "c-delayed",
                "action": {"value": {}, "tag": "button"},
                "context": {"open_message_id": "om_card", "open_chat_id": "oc_card"},
            },
            token=VERIFICATION_TOKEN,
        )
        request = sign_event(body, encrypt_key=ENCRYPT_KEY).as_request()
        assert d.handle(request).status == 200
        assert fake.calls("card.update") == []
        later[0].update_card_sync({"elements": [{"tag": "markdown", "content": "done"}]})
        (update,) = fake.calls("card.update")
        assert update.code == 0
        assert update.json == {
            "token": "c-delayed",
            "card": {"elements": [{"tag": "markdown", "content": "done"}]},
        }


def test_bot_added_to_a_chat_posts_to_that_chat_from_a_sync_handler() -> None:
    with FakeOpenAPI(APPS) as fake, client_for(fake.base_url) as client:
        d = dispatcher()

        @d.on("im.chat.member.bot.added_v1")
        def welcome(event: Event[Any]) -> None:
            client.for_event(event).send_text_sync("Hello, everyone!")

        body = make_event(
            "im.chat.member.bot.added_v1",
            {"chat_id": "oc_new_chat", "operator_id": {"open_id": "ou_admin"}},
            token=VERIFICATION_TOKEN,
        )
        assert d.handle(signed(body)).status == 200
        (sent,) = fake.sent
        assert sent.query == {"receive_id_type": "chat_id"}
        assert sent.json["receive_id"] == "oc_new_chat"
        assert sent.content == {"text": "Hello, everyone!"}


@pytest.mark.parametrize("bad", ["", "om_1/../../auth", "om_1?x=1", "om 1", "om_1#x"])
def test_message_ids_that_would_change_the_url_are_refused(bad: str) -> None:
    async def main() -> None:
        client = client_for("http://127.0.0.1:9")
        with pytest.raises(ValueError, match="message_id"):
            await client.reply_message(bad, "text", {"text": "x"})
        with pytest.raises(ValueError, match="card_token"):
            await client.update_card("", {"elements": []})

    asyncio.run(main())
