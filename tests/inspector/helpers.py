"""A webhook app that counts what it handles, and an inspector sending to it (in-process)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import web
from lark_events_aiohttp import setup

from lark_events_core import Dispatcher, Event, Toast
from lark_events_core._secrets import Secret
from lark_events_core.inspector import ExchangeStore, Sender
from lark_events_core.testing import EVENT_TYPES

# Deterministic secrets, distinctive enough that a leak is found by a substring search.
KEY = "inspector-test-encrypt-key-7f3a"
TOKEN = "inspector-test-verification-token-91c2"


def webhook_app(handled: Counter[str]) -> web.Application:
    """The app under inspection: key, token, deduplication; callbacks answer a toast.

    ``handled`` counts each event id handled, and each message text as ``text:<text>``.
    """
    dispatcher = Dispatcher(encrypt_key=KEY, verification_token=TOKEN)  # in-memory dedup

    def handle(event: Event[Any]) -> Toast | None:
        handled[event.event_id or event.type] += 1
        if event.type == "im.message.receive_v1" and event.event.message is not None:
            handled[f"text:{event.event.message.text}"] += 1
        if event.kind.is_callback:
            return Toast(f"Clicked {event.type}", type="success")
        return None

    for event_type in EVENT_TYPES:
        dispatcher.register(event_type, handle)
    app = web.Application()
    setup(app, dispatcher)
    return app


def make_sender(base_url: str, db: Path, **options: Any) -> Sender:
    """A sender to the webhook at ``base_url`` with the app's secrets."""
    return Sender(
        ExchangeStore(db, **options),
        url=f"{base_url}/webhook/event",
        card_url=f"{base_url}/webhook/card",
        encrypt_key=Secret(KEY),
        verification_token=Secret(TOKEN),
        timeout=5.0,
    )
