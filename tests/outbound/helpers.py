"""Shared pieces of the outbound tests: app credentials, event builders, a fast retry policy."""

from __future__ import annotations

import json
from typing import Any

from lark_events_core import Dispatcher
from lark_events_core.outbound import OpenAPIClient, RetryPolicy
from lark_events_core.testing import make_event, sign_event

APP_ID = "cli_outbound_test"
APP_SECRET = "app-secret-never-logged-4f1c"
ENCRYPT_KEY = "outbound-encrypt-key"
VERIFICATION_TOKEN = "outbound-verification-token"
FAST_RETRY = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.05)


def client_for(base_url: str, **kwargs: Any) -> OpenAPIClient:
    """A self-built app's client pointed at the fake, with fast retries unless told otherwise."""
    kwargs.setdefault("retry", FAST_RETRY)
    return OpenAPIClient(APP_ID, APP_SECRET, domain=base_url, **kwargs)


def dispatcher() -> Dispatcher:
    """A dispatcher that checks signatures and the verification token."""
    return Dispatcher(encrypt_key=ENCRYPT_KEY, verification_token=VERIFICATION_TOKEN)


def message_body(
    message_id: str,
    *,
    chat_id: str = "oc_test_chat",
    open_id: str = "ou_test_user",
    tenant_key: str = "tenant_test",
    text: str = "hello",
) -> dict[str, Any]:
    """An ``im.message.receive_v1`` body as the platform sends it."""
    return make_event(
        "im.message.receive_v1",
        {
            "sender": {
                "sender_id": {"open_id": open_id},
                "sender_type": "user",
                "tenant_key": tenant_key,
            },
            "message": {
                "message_id": message_id,
                "chat_id": chat_id,
                "chat_type": "p2p",
                "message_type": "text",
                "content": json.dumps({"text": text}),
            },
        },
        token=VERIFICATION_TOKEN,
        app_id=APP_ID,
        tenant_key=tenant_key,
    )


def signed(body: dict[str, Any]) -> Any:
    """``body`` encrypted and signed, as the core's Request."""
    return sign_event(body, encrypt_key=ENCRYPT_KEY).as_request("/webhook/event")
