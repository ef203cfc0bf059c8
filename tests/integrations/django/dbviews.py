"""Views whose handlers use Django's database connection, and controls that bypass the adapter.

The controls call the core directly (``handle`` / ``handle_async``), which runs handlers where
Django never closes connections: they show what the adapter prevents.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import HttpRequest, HttpResponse
from lark_events_django.views import make_async_view, make_sync_view, read_request, to_django

from lark_events_core import Dispatcher, Event
from tests.support.vectors import receiver

QUERIES: list[str] = []


def _query() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        QUERIES.append(str(cursor.fetchone()))


def _dispatcher() -> Dispatcher:
    rec = receiver()
    return Dispatcher(rec["encrypt_key"], rec["verification_token"], dedup=False)


SYNC_HANDLERS = _dispatcher()
ASYNC_HANDLERS = _dispatcher()


@SYNC_HANDLERS.on("im.message.receive_v1")
def sync_handler(event: Event[Any]) -> None:
    _query()


@ASYNC_HANDLERS.on("im.message.receive_v1")
async def async_handler(event: Event[Any]) -> None:
    await sync_to_async(_query)()  # Django's idiom for the ORM in async code


def core_sync_view(request: HttpRequest) -> HttpResponse:
    req = read_request(request, ASYNC_HANDLERS.settings.max_body_bytes)
    assert not isinstance(req, HttpResponse)
    return to_django(ASYNC_HANDLERS.handle(req))


async def core_async_view(request: HttpRequest) -> HttpResponse:
    req = read_request(request, SYNC_HANDLERS.settings.max_body_bytes)
    assert not isinstance(req, HttpResponse)
    return to_django(await SYNC_HANDLERS.handle_async(req))


views = {
    "adapter-asgi-sync-handler": make_async_view(SYNC_HANDLERS),
    "adapter-wsgi-async-handler": make_sync_view(ASYNC_HANDLERS),
    "adapter-asgi-async-handler": make_async_view(ASYNC_HANDLERS),
    "adapter-wsgi-sync-handler": make_sync_view(SYNC_HANDLERS),
    "core-asgi-sync-handler": core_async_view,
    "core-wsgi-async-handler": core_sync_view,
}
for _view in (core_sync_view, core_async_view):
    _view.__dict__.update(csrf_exempt=True, login_required=False)
