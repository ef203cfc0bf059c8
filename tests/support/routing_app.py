"""One dispatcher with message and card routes, a catch-all and middleware, for adapter tests.

Each adapter's routing test sends :data:`CASES` through its framework's test client and checks
the answers and :data:`CALLS`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from lark_events_core import Dispatcher, Event, HandlerContext
from lark_events_core.testing import (
    SignedRequest,
    make_event,
    make_legacy_card,
    sign_event,
    sign_legacy_card,
)

KEY = "routing-adapter-key"
TOKEN = "routing-adapter-token"


def build(calls: list[str]) -> Dispatcher:
    """The routed dispatcher; handlers append what they saw to ``calls``."""
    d = Dispatcher(KEY, TOKEN)

    @d.use
    def tenant_filter(event: Event[Any], call_next: Callable[[], Any]) -> Any:
        if event.tenant_key == "blocked":
            calls.append("blocked")
            return {"toast": {"type": "error", "content": "tenant blocked"}}
        return call_next()

    @d.use
    async def timing(event: Event[Any], call_next: Callable[[], Any]) -> Any:
        calls.append(f"mw:{event.type}")
        return await call_next()

    @d.message("/help")
    def help_(event: Event[Any], ctx: HandlerContext) -> None:
        calls.append("help")

    @d.message(regex=r"^deploy (\w+)$", chat_type="group")
    async def deploy(event: Event[Any], ctx: HandlerContext) -> None:
        assert ctx.match is not None
        calls.append(f"deploy:{ctx.match.group(1)}")

    @d.action({"action": "approve"})
    def approve(event: Event[Any]) -> Any:
        return {"toast": {"type": "success", "content": "Approved"}}

    @d.action({"action": "reject"})
    async def reject(event: Event[Any]) -> Any:
        return {"toast": {"type": "info", "content": "Rejected"}}

    @d.catch_all
    def anything(event: Event[Any]) -> None:
        calls.append(f"catch-all:{event.type}")

    return d


def message(text: str, chat_type: str = "p2p", tenant_key: str = "tk") -> SignedRequest:
    """A signed text message."""
    body = {
        "sender": {"sender_id": {"open_id": "ou_r"}, "sender_type": "user", "tenant_key": "tk"},
        "message": {
            "message_id": "om_r",
            "chat_id": "oc_r",
            "chat_type": chat_type,
            "message_type": "text",
            "content": json.dumps({"text": text}),
        },
    }
    payload = make_event("im.message.receive_v1", body, token=TOKEN, tenant_key=tenant_key)
    return sign_event(payload, encrypt_key=KEY)


def card(action: str, tenant_key: str = "tk") -> SignedRequest:
    """A signed ``card.action.trigger`` for the button ``action``."""
    body = {
        "operator": {"open_id": "ou_r"},
        "token": "c-r",
        "action": {"value": {"action": action}, "tag": "button"},
    }
    payload = make_event("card.action.trigger", body, token=TOKEN, tenant_key=tenant_key)
    return sign_event(payload, encrypt_key=KEY)


def legacy_card(action: str) -> SignedRequest:
    """A legacy card callback for the button ``action`` (to the card URL)."""
    payload = make_legacy_card({"value": {"action": action}, "tag": "button"})
    return sign_legacy_card(payload, verification_token=TOKEN)


def other_event() -> SignedRequest:
    """An event type without a handler of its own."""
    payload = make_event("drive.file.edit_v1", {"file_token": "f"}, token=TOKEN)
    return sign_event(payload, encrypt_key=KEY)


#: (name, request, path, expected answer substring, expected calls)
CASES: list[tuple[str, Callable[[], SignedRequest], str, str, list[str]]] = [
    ("help", lambda: message("/help"), "event", "success", ["mw:im.message.receive_v1", "help"]),
    ("deploy", lambda: message("deploy prod", "group"), "event", "success",
     ["mw:im.message.receive_v1", "deploy:prod"]),
    ("approve", lambda: card("approve"), "event", "Approved", ["mw:card.action.trigger"]),
    ("reject", lambda: card("reject"), "event", "Rejected", ["mw:card.action.trigger"]),
    ("legacy", lambda: legacy_card("approve"), "card", "Approved", ["mw:legacy_card"]),
    ("blocked", lambda: card("approve", tenant_key="blocked"), "event", "tenant blocked",
     ["blocked"]),
    ("catch-all", other_event, "event", "success",
     ["mw:drive.file.edit_v1", "catch-all:drive.file.edit_v1"]),
]  # fmt: skip
