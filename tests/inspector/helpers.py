"""A webhook app that counts what it handles, an inspector sending to it, forward --inspect."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import web
from lark_events_aiohttp import setup

from lark_events_core import Dispatcher, Event, Toast
from lark_events_core._secrets import Secret
from lark_events_core.cli.forward import ForwardOptions, forward
from lark_events_core.inspector import ExchangeStore, Sender
from lark_events_core.testing import EVENT_TYPES
from lark_events_core.testing.fake_platform import FakePlatform

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


class Stack:
    """The fake platform, a real webhook app, and ``forward --inspect`` between them."""

    def __init__(self, inspector_port: int, **options: Any) -> None:
        self.options = options
        self.handled: Counter[str] = Counter()
        self.inspector_port = inspector_port
        self.platform = FakePlatform()
        self._runner: web.AppRunner | None = None
        self._forward: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.platform.start()
        self._runner = web.AppRunner(webhook_app(self.handled), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        values: dict[str, Any] = {
            "to": f"{base}/webhook/event",
            "card_to": f"{base}/webhook/card",
            "app_id": self.platform.app_id,
            "app_secret": Secret(self.platform.app_secret),
            "domain": self.platform.domain,
            "encrypt_key": Secret(KEY),
            "verification_token": Secret(TOKEN),
            "timeout": 5.0,
            "inspect": f"127.0.0.1:{self.inspector_port}",
            **self.options,
        }
        options = ForwardOptions(**values)
        self._forward = asyncio.get_running_loop().create_task(forward(options))
        await self.platform.wait_for_connections(1, timeout=15)
        self.base_url = base

    async def push(self, payload: dict[str, Any]) -> int:
        pushed = await self.platform.push(payload)
        return (await pushed.ack(timeout=10)).code

    async def stop(self) -> None:
        if self._forward is not None:
            self._forward.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._forward
        await self.platform.close()
        if self._runner is not None:
            await self._runner.cleanup()
