"""``ctx.reply`` / ``send`` / ``update_card`` against the fake Open API over real sockets."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

pytest.importorskip("aiohttp", reason="the outbound client needs the 'outbound' extra")

from lark_events_core import ConfigurationError, Dispatcher, Event, HandlerContext
from lark_events_core.outbound import OpenAPIClient, RetryPolicy
from lark_events_core.testing import make_event, sign_event
from lark_events_core.testing.fake_openapi import FakeOpenAPI

APP_ID = "cli_context_test"
APP_SECRET = "context-app-secret-5b2e"
KEY = "context-encrypt-key"
TOKEN = "context-verification-token"


def _client(base_url: str) -> OpenAPIClient:
    retry = RetryPolicy(max_retries=1, base_delay=0.01, max_delay=0.02)
    return OpenAPIClient(APP_ID, APP_SECRET, domain=base_url, retry=retry)


def _message(text: str, message_id: str = "om_ctx_1") -> Any:
    body = {
        "sender": {"sender_id": {"open_id": "ou_ctx"}, "sender_type": "user", "tenant_key": "tk"},
        "message": {
            "message_id": message_id,
            "chat_id": "oc_ctx",
            "chat_type": "p2p",
            "message_type": "text",
            "content": json.dumps({"text": text}),
        },
    }
    payload = make_event("im.message.receive_v1", body, token=TOKEN, app_id=APP_ID, tenant_key="tk")
    return sign_event(payload, encrypt_key=KEY).as_request("/webhook/event")


def _card(value: dict[str, Any]) -> Any:
    body = {
        "operator": {"open_id": "ou_ctx", "tenant_key": "tk"},
        "token": "c-card-update-token",
        "action": {"value": value, "tag": "button"},
        "context": {"open_message_id": "om_card", "open_chat_id": "oc_ctx"},
    }
    payload = make_event("card.action.trigger", body, token=TOKEN, app_id=APP_ID, tenant_key="tk")
    return sign_event(payload, encrypt_key=KEY).as_request("/webhook/event")


def test_sync_handler_replies_sends_and_updates_the_card() -> None:
    with FakeOpenAPI(apps={APP_ID: APP_SECRET}) as fake:
        client = _client(fake.base_url)
        d = Dispatcher(KEY, TOKEN, openapi=client)

        @d.message("/help")
        def help_(event: Event[Any], ctx: HandlerContext) -> None:
            ctx.reply("Commands: /help")
            ctx.send({"elements": [{"tag": "markdown", "content": "**card**"}]})

        @d.action({"action": "approve"})
        def approve(event: Event[Any], ctx: HandlerContext) -> Any:
            ctx.update_card({"elements": [{"tag": "markdown", "content": "approved"}]})
            return {"toast": {"type": "success", "content": "Approved"}}

        assert d.handle(_message("/help")).status == 200
        answer = d.handle(_card({"action": "approve"}))
        assert b"Approved" in answer.body
        client.close()
    (reply,) = fake.calls("messages.reply")
    assert reply.path == "/open-apis/im/v1/messages/om_ctx_1/reply"
    assert reply.content == {"text": "Commands: /help"}
    (sent,) = fake.calls("messages.create")
    assert sent.json["receive_id"] == "oc_ctx"
    assert sent.json["msg_type"] == "interactive"
    (update,) = fake.calls("card.update")
    assert update.json["token"] == "c-card-update-token"


def test_async_handler_awaits_the_same_calls() -> None:
    async def main() -> FakeOpenAPI:
        async with FakeOpenAPI(apps={APP_ID: APP_SECRET}) as fake:
            async with _client(fake.base_url) as client:
                d = Dispatcher(KEY, TOKEN, openapi=client)

                @d.message(prefix="/echo ")
                async def echo(event: Event[Any], ctx: HandlerContext) -> None:
                    assert ctx.text is not None
                    await ctx.areply(ctx.text.removeprefix("/echo "))

                answer = await d.handle_async(_message("/echo hi there"))
                assert answer.status == 200
            return fake

    fake = asyncio.run(main())
    (reply,) = fake.calls("messages.reply")
    assert reply.content == {"text": "hi there"}


def test_reply_without_a_client_names_the_setting() -> None:
    d = Dispatcher(KEY, TOKEN)
    errors: list[BaseException] = []

    @d.message("/help")
    def help_(event: Event[Any], ctx: HandlerContext) -> None:
        try:
            ctx.reply("x")
        except ConfigurationError as exc:
            errors.append(exc)

    d.handle(_message("/help"))
    (error,) = errors
    assert "Dispatcher(openapi=OpenAPIClient.from_env())" in str(error)


def test_context_logger_carries_the_event_id(caplog: pytest.LogCaptureFixture) -> None:
    d = Dispatcher(KEY, TOKEN)

    @d.on("im.message.receive_v1")
    def handler(event: Event[Any], ctx: HandlerContext) -> None:
        ctx.logger.info("handled\nforged line")

    with caplog.at_level(logging.INFO, logger="lark_events"):
        d.handle(_message("x"))
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("handled")]
    assert "(event_id=" in line
    assert "event_type=im.message.receive_v1" in line
