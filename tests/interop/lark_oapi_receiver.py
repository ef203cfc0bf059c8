"""The official Python SDK's webhook receiver (lark-oapi + Flask), as its docs show it.

Run as ``python tests/interop/lark_oapi_receiver.py`` with ``PORT``, ``LARK_ENCRYPT_KEY`` (may be
empty) and ``LARK_VERIFICATION_TOKEN``. Every handler prints one line
``HANDLED {"key": <dispatch key>, "data": <what the SDK handed it, as JSON>}``; callbacks answer
a toast. ``/webhook/event`` takes events, v2 callbacks and URL verification, ``/webhook/card``
legacy card callbacks.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import lark_oapi as lark
from flask import Flask
from lark_oapi.adapter.flask import parse_req, parse_resp
from lark_oapi.event.callback.model.p2_card_action_trigger import P2CardActionTriggerResponse
from lark_oapi.event.callback.model.p2_url_preview_get import P2URLPreviewGetResponse

V2_EVENTS = (
    "im.message.receive_v1",
    "im.message.message_read_v1",
    "im.chat.member.bot.added_v1",
    "im.chat.member.bot.deleted_v1",
    "contact.user.created_v3",
    "application.bot.menu_v6",
)
V1_EVENTS = ("message", "app_ticket")
TOAST = {"toast": {"type": "info", "content": "handled by lark-oapi"}}


def report(key: str, data: Any) -> None:
    print("HANDLED " + json.dumps({"key": key, "data": json.loads(lark.JSON.marshal(data))}))
    sys.stdout.flush()


def build() -> Flask:
    key = os.environ.get("LARK_ENCRYPT_KEY", "")
    token = os.environ["LARK_VERIFICATION_TOKEN"]
    builder = lark.EventDispatcherHandler.builder(key, token, lark.LogLevel.INFO)
    for event_type in V2_EVENTS:
        register = getattr(builder, "register_p2_" + event_type.replace(".", "_"))
        register(lambda data, t=event_type: report(t, data))
    for event_type in V1_EVENTS:
        builder.register_p1_customized_event(event_type, lambda data, t=event_type: report(t, data))

    def card_action(data: Any) -> P2CardActionTriggerResponse:
        report("card.action.trigger", data)
        return P2CardActionTriggerResponse(TOAST)

    def url_preview(data: Any) -> P2URLPreviewGetResponse:
        report("url.preview.get", data)
        return P2URLPreviewGetResponse({"inline": {"title": "handled by lark-oapi"}})

    events = (
        builder.register_p2_card_action_trigger(card_action)
        .register_p2_url_preview_get(url_preview)
        .build()
    )

    def legacy_card(card: lark.Card) -> dict[str, Any]:
        card.raw = None  # the request object, not part of the callback
        report("legacy_card", card)
        return TOAST

    cards = lark.CardActionHandler.builder(key, token, lark.LogLevel.INFO).register(legacy_card)
    card_handler = cards.build()
    app = Flask(__name__)

    @app.post("/webhook/event")
    def event() -> Any:
        return parse_resp(events.do(parse_req()))

    @app.post("/webhook/card")
    def card() -> Any:
        return parse_resp(card_handler.do(parse_req()))

    return app


if __name__ == "__main__":
    build().run(host="127.0.0.1", port=int(os.environ["PORT"]), threaded=True)
