"""Shared builders for the core tests: a configured dispatcher and signed requests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from lark_events_core import Dispatcher, Request, Response
from lark_events_core.testing import make_event, sign_event, sign_legacy_card

KEY = "k-core-test-encrypt-key"
TOKEN = "t-core-test-verification-token"
MESSAGE_TYPE = "im.message.receive_v1"

T = TypeVar("T")


def dispatcher(
    encrypt_key: Any = KEY, verification_token: Any = TOKEN, **options: Any
) -> Dispatcher:
    """A dispatcher configured like a real app (key and token), deduplicating in memory."""
    return Dispatcher(encrypt_key=encrypt_key, verification_token=verification_token, **options)


def text_message(text: str = "hello", **event_options: Any) -> dict[str, Any]:
    """An ``im.message.receive_v1`` body carrying a text message."""
    body = {
        "sender": {
            "sender_id": {"open_id": "ou_sender", "user_id": "u_sender", "union_id": "on_sender"},
            "sender_type": "user",
            "tenant_key": "tenant_test",
        },
        "message": {
            "message_id": "om_1",
            "chat_id": "oc_1",
            "chat_type": "p2p",
            "message_type": "text",
            "content": json.dumps({"text": text}),
            "create_time": "1700000000000",
        },
    }
    return make_event(MESSAGE_TYPE, body, token=event_options.pop("token", TOKEN), **event_options)


def signed(
    payload: Mapping[str, Any] | bytes | str,
    *,
    encrypt_key: str | None = KEY,
    method: str = "POST",
    **options: Any,
) -> Request:
    """The payload encrypted and signed like the platform does, as a core request."""
    req = sign_event(payload, encrypt_key=encrypt_key, **options)
    return Request.build(method, req.headers, req.body)


def signed_card(
    payload: Mapping[str, Any] | bytes | str, *, token: str | None = TOKEN, **options: Any
) -> Request:
    """A legacy card callback signed with SHA-1 and the verification token."""
    req = sign_legacy_card(payload, verification_token=token, **options)
    return Request.build("POST", req.headers, req.body)


def body_of(response: Response) -> Any:
    """The response's JSON body, asserting the JSON content type on the way."""
    assert dict(response.headers)["Content-Type"] == "application/json; charset=utf-8"
    return json.loads(response.body)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a fresh event loop."""
    return asyncio.run(coro)
