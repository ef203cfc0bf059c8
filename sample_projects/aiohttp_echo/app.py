"""aiohttp_echo: receive Lark events and callbacks in an aiohttp app, log one line per event.

Start it (``$PORT``, default 9999; ``LARK_ENCRYPT_KEY`` / ``LARK_VERIFICATION_TOKEN`` from the
environment)::

    python sample_projects/aiohttp_echo/app.py

or with aiohttp's own command line, from the repository root::

    python -m aiohttp.web -H 127.0.0.1 -P 9999 sample_projects.aiohttp_echo.app:create_app
"""

from __future__ import annotations

import logging
import os
from typing import Any

from aiohttp import web
from lark_events_aiohttp import setup

from lark_events_core import Dispatcher, Event, HandlerContext, Toast
from lark_events_core.events.cards import CardActionTrigger
from lark_events_core.events.im import MessageReceive
from lark_events_core.events.v1 import AppTicket, MessageV1
from lark_events_core.logs import printable
from lark_events_core.outbound import OutboundError, client_from_env

log = logging.getLogger("aiohttp_echo")

# With LARK_APP_ID / LARK_APP_SECRET set, the bot replies through the Open API (base URL from
# LARK_OPENAPI_BASE_URL or LARK_DOMAIN, default Feishu); without them it only logs.
OPENAPI = client_from_env()


def handled(event: Event[Any]) -> None:
    """The one line per handled event: its type and id (escaped: they come from the network),
    never its body, key or token."""
    log.info("handled event_type=%s event_id=%s", printable(event.type), printable(event.event_id))


def build_dispatcher() -> Dispatcher:
    """A dispatcher configured from the environment, with the sample's handlers."""
    dispatcher = Dispatcher.from_env()
    tickets: dict[str, str] = {}

    @dispatcher.on("im.message.receive_v1")
    async def on_message(event: Event[MessageReceive]) -> None:
        message = event.event.message
        if message is not None and message.text is not None:
            log.info(
                "echo message_id=%s chars=%d", printable(message.message_id), len(message.text)
            )
            if OPENAPI is not None:
                try:
                    await OPENAPI.for_event(event).reply_text(message.text)
                except OutboundError as exc:  # code, message and log id; never a token
                    log.warning(
                        "reply to message_id=%s failed: %s",
                        printable(message.message_id),
                        printable(exc, 300),
                    )
        handled(event)

    @dispatcher.on("card.action.trigger")
    async def on_card_action(event: Event[CardActionTrigger]) -> Toast:
        handled(event)
        action = event.event.action
        value = action.value if action is not None else None
        return Toast(f"Received {value!r}", type="success", i18n={"zh_cn": "已收到"})

    @dispatcher.on("message")  # a v1 event: the old-style message event
    async def on_v1_message(event: Event[MessageV1]) -> None:
        if event.event.text is not None:
            message_id = event.event.open_message_id
            log.info(
                "echo v1 open_message_id=%s chars=%d", printable(message_id), len(event.event.text)
            )
        handled(event)

    @dispatcher.on("app_ticket")  # a v1 event, handled by a sync handler (runs in a thread)
    def on_app_ticket(event: Event[AppTicket]) -> None:
        if event.event.app_id and event.event.app_ticket:
            tickets[event.event.app_id] = event.event.app_ticket  # never logged
            if OPENAPI is not None:
                OPENAPI.set_app_ticket(event.event.app_ticket)
        handled(event)

    @dispatcher.on_legacy_card
    async def on_legacy_card(event: Event[Any]) -> dict[str, Any]:
        handled(event)
        return {}  # keep the card as it is

    add_routes(dispatcher)
    return dispatcher


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


def add_routes(dispatcher: Dispatcher) -> None:
    """Routes beyond the event type (docs/routing.md): ``/help`` and one handler per button.

    ``on_message`` and ``on_card_action`` stay the fallbacks for everything else.
    """
    dispatcher.openapi = dispatcher.openapi or OPENAPI  # ctx.areply needs a client

    @dispatcher.message("/help")
    async def on_help(event: Event[MessageReceive], ctx: HandlerContext) -> None:
        if ctx.client is not None:
            try:
                await ctx.areply(APPROVAL_CARD)
            except OutboundError as exc:  # code, message and log id; never a token
                ctx.logger.warning("help reply failed: %s", exc)
        handled(event)

    @dispatcher.action({"action": "approve"})
    async def on_approve(event: Event[CardActionTrigger]) -> Toast:
        handled(event)
        return Toast("Approved", type="success", i18n={"zh_cn": "已批准"})

    @dispatcher.action({"action": "reject"})
    async def on_reject(event: Event[CardActionTrigger]) -> Toast:
        handled(event)
        return Toast("Rejected", type="info", i18n={"zh_cn": "已拒绝"})


def create_app(argv: list[str] | None = None) -> web.Application:
    """The application; ``argv`` is what ``python -m aiohttp.web`` passes on (unused)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = web.Application()
    setup(app, build_dispatcher())  # POST /webhook/event and /webhook/card
    if OPENAPI is not None:
        app.on_cleanup.append(_close_openapi)
    return app


async def _close_openapi(app: web.Application) -> None:
    if OPENAPI is not None:
        await OPENAPI.aclose()


def main() -> None:
    """Run on aiohttp's own runner; SIGINT/SIGTERM stop it after draining handler work."""
    port = int(os.environ.get("PORT", "9999"))
    host = os.environ.get("HOST", "0.0.0.0")
    web.run_app(create_app(), host=host, port=port)


if __name__ == "__main__":
    main()
