"""Handlers registered on the default dispatcher (``LARK_EVENTS["HANDLERS"]`` names this module)."""

from __future__ import annotations

import threading
from typing import Any

import lark_events_django

from lark_events_core import Event, Toast

#: Every call, as ``(type, event_id, thread name)``; cleared before each test.
CALLS: list[tuple[str, str | None, str]] = []


def _record(event: Event[Any]) -> None:
    CALLS.append((event.type, event.event_id, threading.current_thread().name))


@lark_events_django.on("im.message.receive_v1")
def on_message(event: Event[Any]) -> None:
    _record(event)


@lark_events_django.on("card.action.trigger")
async def on_card_action(event: Event[Any]) -> Toast:
    _record(event)
    return Toast("clicked", type="success")


@lark_events_django.on_legacy_card
def on_legacy_card(event: Event[Any]) -> dict[str, Any]:
    _record(event)
    return {"toast": {"type": "info", "content": str(event.data.get("open_id"))}}
