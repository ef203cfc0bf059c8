"""A small real aiohttp server the CLI tests talk to (run with ``python -m tests.cli.echo_app``).

Besides the webhook routes it has misbehaving ones: ``/slow`` (answers after ``?delay=`` seconds),
``/html`` (a 200 that is not JSON), ``/empty`` (a 200 with no body, as the Node SDK answers),
``/wrong-challenge``, and ``/flaky`` (500 for the first
``?fail=`` requests with one ``?id=``, then the real endpoint). Handlers print
``handled event_type=<type> event_id=<id> text=<text>`` like the sample projects.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from typing import Any

from aiohttp import web
from lark_events_aiohttp import make_handler, setup

from lark_events_core import Dispatcher, Event
from lark_events_core.testing import EVENT_TYPES


def build() -> web.Application:
    dispatcher = Dispatcher.from_env()

    def handle(event: Event[Any]) -> dict[str, Any] | None:
        text = ""
        if event.type == "im.message.receive_v1":
            text = event.event.message.text or ""
        print(f"handled event_type={event.type} event_id={event.event_id} text={text}", flush=True)
        return {"toast": {"type": "info", "content": "ok"}} if event.kind.is_callback else None

    for event_type in EVENT_TYPES:
        dispatcher.register(event_type, handle)
    app = web.Application()
    setup(app, dispatcher)
    event_handler = make_handler(dispatcher)
    attempts: Counter[str] = Counter()

    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(float(request.query.get("delay", "1.5")))
        return await event_handler(request)

    async def html(request: web.Request) -> web.StreamResponse:
        return web.Response(text="<html><body>Welcome</body></html>", content_type="text/html")

    async def empty(request: web.Request) -> web.StreamResponse:
        return web.Response(status=200)

    async def wrong_challenge(request: web.Request) -> web.StreamResponse:
        return web.json_response({"challenge": "something-else"})

    async def flaky(request: web.Request) -> web.StreamResponse:
        key = request.query.get("id", "")
        attempts[key] += 1
        if attempts[key] <= int(request.query.get("fail", "2")):
            return web.json_response({"msg": "not yet"}, status=500)
        return await event_handler(request)

    app.router.add_post("/slow", slow)
    app.router.add_post("/html", html)
    app.router.add_post("/empty", empty)
    app.router.add_post("/wrong-challenge", wrong_challenge)
    app.router.add_post("/flaky", flaky)
    return app


if __name__ == "__main__":
    web.run_app(build(), host="127.0.0.1", port=int(os.environ["PORT"]), access_log=None)
