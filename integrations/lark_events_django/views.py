"""The Django views: a Django request in, the core, a Django response out.

Add them to your ``urls.py``::

    from lark_events_django.views import lark_event_view, lark_card_view

    urlpatterns = [
        path("lark/event", lark_event_view),   # events and new-style callbacks
        path("lark/card", lark_card_view),     # the legacy message-card request URL
    ]

``lark_event_view`` / ``lark_card_view`` are sync views (WSGI); ``async_lark_event_view`` /
``async_lark_card_view`` are async views (ASGI). :func:`make_view` builds either for any dispatcher,
and picks one by itself when ``asynchronous`` is ``None``. Every view is CSRF-exempt and exempt
from ``LoginRequiredMiddleware`` (Django 5.1+), and answers JSON, even for 405 and 413.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest, HttpResponse

from lark_events_core import Dispatcher, LarkEventsError, Request, Response
from lark_events_core.errors import BadRequest, MethodNotAllowed, PayloadTooLarge, RequestError
from lark_events_core.http import JSON_CONTENT_TYPE
from lark_events_core.wsgi import EnvironHeaders, read_environ_body

from . import conf
from .execution import RequestThread, for_async_view, for_sync_view

__all__ = [
    "async_lark_card_view",
    "async_lark_event_view",
    "lark_card_view",
    "lark_event_view",
    "make_async_view",
    "make_sync_view",
    "make_view",
    "use_async_views",
]

logger = logging.getLogger("lark_events.django")
INTERNAL_ERROR = Response.json(500, {"msg": "internal error"})

SyncView = Callable[[HttpRequest], HttpResponse]
AsyncView = Callable[[HttpRequest], Coroutine[Any, Any, HttpResponse]]
DispatcherSource = Dispatcher | Callable[[], Dispatcher] | None


def to_django(response: Response, extra: tuple[tuple[str, str], ...] = ()) -> HttpResponse:
    """The core's response as a Django response (always JSON)."""
    out = HttpResponse(response.body, status=response.status, content_type=JSON_CONTENT_TYPE)
    for name, value in (*response.headers, *extra):
        if name.lower() != "content-type":
            out[name] = value
    return out


def _error(exc: RequestError) -> HttpResponse:
    extra = (("Allow", "POST"),) if isinstance(exc, MethodNotAllowed) else ()
    return to_django(Response.json(exc.status, {"msg": exc.public_message}), extra)


def read_request(request: HttpRequest, max_body_bytes: int) -> Request | HttpResponse:
    """The core's request, or the 405/413/400 answer given before (or instead of) the body."""
    if request.method != "POST":
        return _error(MethodNotAllowed())
    if isinstance(request, WSGIRequest) and _chunked(request):
        # Django reads a body without Content-Length as empty; the WSGI server (gunicorn sets
        # wsgi.input_terminated) can give its end, so read it up to the limit and no further.
        try:
            body = read_environ_body(request.environ, _body_limit(max_body_bytes))
        except RequestError as exc:
            return _error(exc)
        return _core_request(request, body)
    length = request.META.get("CONTENT_LENGTH") or "0"
    try:
        declared = int(length)
    except ValueError:
        return _error(BadRequest())
    if declared < 0:
        return _error(BadRequest())
    if declared > max_body_bytes:  # refused before a byte of the body is read
        return _error(PayloadTooLarge())
    try:
        body = request.body
    except RequestDataTooBig:  # DATA_UPLOAD_MAX_MEMORY_SIZE is smaller than our limit
        return _error(PayloadTooLarge())
    except OSError:  # the client went away mid-body (UnreadablePostError)
        return _error(BadRequest())
    return _core_request(request, body)


def _chunked(request: HttpRequest) -> bool:
    return "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()


def _body_limit(max_body_bytes: int) -> int:
    django_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return max_body_bytes if django_limit is None else min(max_body_bytes, django_limit)


def _core_request(request: HttpRequest, body: bytes) -> Request:
    # A view over META (WSGI environ names, under ASGI too), read on demand: the core reads a
    # handful of headers, so copying all of them costs more than it serves.
    return Request("POST", EnvironHeaders(request.META), body, request.path)


def _resolver(dispatcher: DispatcherSource) -> Callable[[], Dispatcher]:
    if dispatcher is None:
        return conf.get_dispatcher
    if isinstance(dispatcher, Dispatcher):
        found = dispatcher
        return lambda: found
    return dispatcher


def _get_or_none(get: Callable[[], Dispatcher]) -> Dispatcher | None:
    try:
        return get()
    except (LarkEventsError, ImportError):
        # A broken LARK_EVENTS (``manage.py check`` names the problem): JSON 500, never HTML.
        logger.exception("lark-events: cannot build the dispatcher from settings.LARK_EVENTS")
        return None


def _exempt(view: Callable[..., Any], card: bool, get: Callable[[], Dispatcher]) -> None:
    # Lark cannot send a CSRF token or log in; Django reads these markers (4.2 to 5.2 alike).
    view.__dict__.update(csrf_exempt=True, login_required=False, lark_events_card=card)
    view.__dict__.update(lark_events_dispatcher=get)  # the ASGI guard reads the body limit


def make_sync_view(dispatcher: DispatcherSource = None, *, card: bool = False) -> SyncView:
    """A sync view (for WSGI) serving ``dispatcher`` (default: the one built from settings)."""
    get = _resolver(dispatcher)

    def lark_view(request: HttpRequest) -> HttpResponse:
        disp = _get_or_none(get)
        if disp is None:
            return to_django(INTERNAL_ERROR)
        req = read_request(request, disp.settings.max_body_bytes)
        if isinstance(req, HttpResponse):
            return req
        step = disp.prepare(req, card=card)
        if isinstance(step, Response):
            return to_django(step)
        with RequestThread():
            return to_django(disp.run(for_sync_view(step)))

    _exempt(lark_view, card, get)
    return lark_view


def make_async_view(dispatcher: DispatcherSource = None, *, card: bool = False) -> AsyncView:
    """An async view (for ASGI); sync handlers run in a worker thread, never on the loop."""
    get = _resolver(dispatcher)

    async def lark_view(request: HttpRequest) -> HttpResponse:
        disp = _get_or_none(get)
        if disp is None:
            return to_django(INTERNAL_ERROR)
        req = read_request(request, disp.settings.max_body_bytes)
        if isinstance(req, HttpResponse):
            return req
        step = disp.prepare(req, card=card)
        if isinstance(step, Response):
            return to_django(step)
        return to_django(await disp.run_async(for_async_view(step)))

    _exempt(lark_view, card, get)
    return lark_view


def use_async_views() -> bool:
    """Whether to serve with async views: ``LARK_EVENTS["ASYNC"]``, else whether Django is
    running under ASGI (the URLconf is loaded inside the server's event loop)."""
    setting = conf.lark_settings().get("ASYNC")
    if setting is not None:
        chosen, reason = bool(setting), "LARK_EVENTS['ASYNC']"
    else:
        try:
            asyncio.get_running_loop()
            chosen, reason = True, "URLs loaded in an event loop: ASGI"
        except RuntimeError:
            chosen, reason = False, "URLs loaded outside an event loop: WSGI"
    logger.info("lark-events: %s views (%s)", "async" if chosen else "sync", reason)
    return chosen


def make_view(
    dispatcher: DispatcherSource = None, *, card: bool = False, asynchronous: bool | None = None
) -> SyncView | AsyncView:
    """A view for ``dispatcher``: async if ``asynchronous`` (``None``: :func:`use_async_views`)."""
    if asynchronous is None:
        asynchronous = use_async_views()
    if asynchronous:
        return make_async_view(dispatcher, card=card)
    return make_sync_view(dispatcher, card=card)


lark_event_view = make_sync_view()
lark_card_view = make_sync_view(card=True)
async_lark_event_view = make_async_view()
async_lark_card_view = make_async_view(card=True)
