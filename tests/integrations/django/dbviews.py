"""Views whose handlers use Django's database connection, and controls that bypass the adapter.

Every scenario is one way the core can run a handler: inline, as a callback (deadline pool),
deferred (background executor), late (a callback answered with the fallback). The ``core-*``
controls call the core directly (``handle`` / ``handle_async``), where Django never closes the
handler's connections: they show what the adapter prevents.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import HttpRequest, HttpResponse
from lark_events_django.views import make_async_view, make_sync_view, read_request, to_django

from lark_events_core import Dispatcher, Event
from tests.support.vectors import receiver

#: The PostgreSQL backend pid of each handler's query, in order.
QUERIES: list[int] = []
MESSAGE = "im.message.receive_v1"
CARD = "card.action.trigger"


def query() -> None:
    """One query on this thread's connection (opened on first use); records the backend's pid."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        QUERIES.append(int(cursor.fetchone()[0]))


def sync_handler(event: Event[Any]) -> None:
    query()


async def async_handler(event: Event[Any]) -> None:
    await sync_to_async(query)()  # Django's idiom for the ORM in async code


async def late_async_handler(event: Event[Any]) -> None:
    await asyncio.sleep(0.1)  # past the request's end (and the callback deadline below)
    await sync_to_async(query)()


def _dispatcher(
    event_type: str, handler: Callable[[Event[Any]], Any], **options: Any
) -> Dispatcher:
    rec = receiver()
    dispatcher = Dispatcher(rec["encrypt_key"], rec["verification_token"], dedup=False, **options)
    dispatcher.register(event_type, handler)
    return dispatcher


def core_sync_view(dispatcher: Dispatcher) -> Callable[[HttpRequest], HttpResponse]:
    def view(request: HttpRequest) -> HttpResponse:
        req = read_request(request, dispatcher.settings.max_body_bytes)
        assert not isinstance(req, HttpResponse)
        return to_django(dispatcher.handle(req))

    view.__dict__.update(csrf_exempt=True, login_required=False)
    return view


def core_async_view(dispatcher: Dispatcher) -> Callable[[HttpRequest], Any]:
    async def view(request: HttpRequest) -> HttpResponse:
        req = read_request(request, dispatcher.settings.max_body_bytes)
        assert not isinstance(req, HttpResponse)
        return to_django(await dispatcher.handle_async(req))

    view.__dict__.update(csrf_exempt=True, login_required=False)
    return view


@dataclass(frozen=True)
class Scenario:
    """A way handlers run: the event type to send, the dispatcher, whether the server is ASGI."""

    event_type: str
    dispatcher: Dispatcher
    asgi: bool

    def views(self) -> dict[str, Callable[..., Any]]:
        if self.asgi:
            return {
                "adapter": make_async_view(self.dispatcher),
                "core": core_async_view(self.dispatcher),
            }
        return {"adapter": make_sync_view(self.dispatcher), "core": core_sync_view(self.dispatcher)}


SCENARIOS = {
    "wsgi-sync-inline": Scenario(MESSAGE, _dispatcher(MESSAGE, sync_handler), False),
    "wsgi-async-inline": Scenario(MESSAGE, _dispatcher(MESSAGE, async_handler), False),
    "wsgi-sync-callback": Scenario(CARD, _dispatcher(CARD, sync_handler), False),
    "wsgi-sync-deferred": Scenario(MESSAGE, _dispatcher(MESSAGE, sync_handler, defer=True), False),
    "wsgi-async-deferred": Scenario(
        MESSAGE, _dispatcher(MESSAGE, async_handler, defer=True), False
    ),
    "asgi-sync-inline": Scenario(MESSAGE, _dispatcher(MESSAGE, sync_handler), True),
    "asgi-async-inline": Scenario(MESSAGE, _dispatcher(MESSAGE, async_handler), True),
    "asgi-sync-deferred": Scenario(MESSAGE, _dispatcher(MESSAGE, sync_handler, defer=True), True),
    "asgi-async-deferred": Scenario(  # deferred handlers are the slow ones
        MESSAGE, _dispatcher(MESSAGE, late_async_handler, defer=True), True
    ),
    "asgi-async-late-callback": Scenario(
        CARD, _dispatcher(CARD, late_async_handler, callback_deadline=0.02), True
    ),
}

#: ``db/<adapter|core>/<scenario>`` → view
views = {
    f"{kind}/{name}": view
    for name, scenario in SCENARIOS.items()
    for kind, view in scenario.views().items()
}
