"""The plain :class:`ASGIApp` that ``test_uvicorn.py`` serves with a real uvicorn process."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lark_events_core import Dispatcher, Event, Toast
from lark_events_core.asgi import ASGIApp

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
log = logging.getLogger("served_app")

dispatcher = Dispatcher.from_env()


def handled(event: Event[Any]) -> None:
    log.info("handled event_type=%s event_id=%s", event.type, event.event_id or "-")


@dispatcher.on("im.message.receive_v1")
async def on_message(event: Event[Any]) -> None:
    handled(event)


@dispatcher.on("message", deferred=True)  # answered first, run after: drained on shutdown
async def on_v1_message(event: Event[Any]) -> None:
    await asyncio.sleep(1.0)
    handled(event)


@dispatcher.on("card.action.trigger")
def on_click(event: Event[Any]) -> Toast:  # sync: runs in a worker thread
    handled(event)
    return Toast("clicked")


app = ASGIApp(dispatcher)
