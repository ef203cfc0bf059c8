"""The sample's handlers. ``lark_events_django`` imports every installed app's ``lark_handlers``
module at startup, so these decorators register them on the dispatcher built from
``settings.LARK_EVENTS``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import lark_events_django

from lark_events_core import Dispatcher, Event, HandlerContext, LarkEventsError, Toast
from lark_events_core.events.cards import CardActionTrigger
from lark_events_core.events.im import MessageReceive
from lark_events_core.events.v1 import AppTicket, MessageV1
from lark_events_core.logs import printable

log = logging.getLogger("echo")
_tickets: dict[str, str] = {}

# With LARK_APP_ID / LARK_APP_SECRET set, the bot replies through the Open API (the ``outbound``
# extra; base URL from LARK_OPENAPI_BASE_URL or LARK_DOMAIN, default Feishu); else it only logs.
OPENAPI = None
if os.environ.get("LARK_APP_ID") and os.environ.get("LARK_APP_SECRET"):
    from lark_events_core.outbound import OpenAPIClient

    OPENAPI = OpenAPIClient.from_env()


def handled(event: Event[Any]) -> None:
    """The one line per handled event: its type and id (escaped: they come from the network),
    never its body, key or token."""
    log.info("handled event_type=%s event_id=%s", printable(event.type), printable(event.event_id))


@lark_events_django.on("im.message.receive_v1")
def on_message(event: Event[MessageReceive]) -> None:
    """A sync handler, as most Django code is; it may use the ORM freely."""
    message = event.event.message
    if message is not None and message.text is not None:
        log.info("echo message_id=%s chars=%d", printable(message.message_id), len(message.text))
        if OPENAPI is not None:
            try:
                OPENAPI.for_event(event).reply_text_sync(message.text)
            except LarkEventsError as exc:  # code, message and log id; never a token
                log.warning(
                    "reply to message_id=%s failed: %s",
                    printable(message.message_id),
                    printable(exc, 300),
                )
    handled(event)


@lark_events_django.on("card.action.trigger")
async def on_card_action(event: Event[CardActionTrigger]) -> Toast:
    """An async handler: awaited under ASGI, run with ``async_to_sync`` under WSGI."""
    handled(event)
    action = event.event.action
    value = action.value if action is not None else None
    return Toast(f"Received {value!r}", type="success", i18n={"zh_cn": "已收到"})


@lark_events_django.on("message")  # a v1 event: the old-style message event
def on_v1_message(event: Event[MessageV1]) -> None:
    if event.event.text is not None:
        message_id = event.event.open_message_id
        log.info(
            "echo v1 open_message_id=%s chars=%d", printable(message_id), len(event.event.text)
        )
    handled(event)


@lark_events_django.on("app_ticket")  # a v1 event store apps receive
def on_app_ticket(event: Event[AppTicket]) -> None:
    if event.event.app_id and event.event.app_ticket:
        _tickets[event.event.app_id] = event.event.app_ticket  # kept, never logged
        if OPENAPI is not None:
            OPENAPI.set_app_ticket(event.event.app_ticket)
    handled(event)


@lark_events_django.on_legacy_card
def on_legacy_card(event: Event[Any]) -> dict[str, Any]:
    handled(event)
    return {}  # keep the card as it is


# A card with one button per decision: each button's value routes to its own handler below.
APPROVAL_CARD: dict[str, Any] = {
    "elements": [
        {"tag": "markdown", "content": "Commands: `/help`. Approve the request?"},
        {
            "tag": "action",
            "actions": [
                {"tag": "button", "text": {"tag": "plain_text", "content": "Approve"},
                 "type": "primary", "value": {"action": "approve"}},
                {"tag": "button", "text": {"tag": "plain_text", "content": "Reject"},
                 "type": "danger", "value": {"action": "reject"}},
            ],
        },
    ]
}  # fmt: skip


@lark_events_django.configure
def add_routes(dispatcher: Dispatcher) -> None:
    """Routes beyond the event type (docs/routing.md): ``/help`` and one handler per button.

    ``on_message`` and ``on_card_action`` stay the fallbacks for everything else.
    """
    dispatcher.openapi = dispatcher.openapi or OPENAPI  # ctx.reply needs a client

    @dispatcher.message("/help")
    def on_help(event: Event[MessageReceive], ctx: HandlerContext) -> None:
        if ctx.client is not None:
            try:
                ctx.reply(APPROVAL_CARD)
            except LarkEventsError as exc:  # code, message and log id; never a token
                ctx.logger.warning("help reply failed: %s", exc)
        handled(event)

    @dispatcher.action({"action": "approve"})
    def on_approve(event: Event[CardActionTrigger]) -> Toast:
        handled(event)
        return Toast("Approved", type="success", i18n={"zh_cn": "已批准"})

    @dispatcher.action({"action": "reject"})
    def on_reject(event: Event[CardActionTrigger]) -> Toast:
        handled(event)
        return Toast("Rejected", type="info", i18n={"zh_cn": "已拒绝"})
