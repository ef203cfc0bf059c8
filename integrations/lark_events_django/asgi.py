"""Django under ASGI with a shutdown path and a body guard in front of the lark views.

Django's own ASGI handler refuses ``lifespan`` and reads a request's whole body before any view
runs. Wrap it, in your project's ``asgi.py``::

    import os

    from lark_events_django.asgi import get_asgi_application

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myproject.settings")
    application = get_asgi_application()  # uvicorn myproject.asgi:application (lifespan on)

and the wrapper

- handles ``lifespan``: on startup the dispatcher is built (handlers imported) and its journal
  starts replaying; on shutdown its background work is drained within ``shutdown_timeout``
  (``None``: the dispatcher's own, 30 s by default). Deferred handlers acknowledged before
  SIGTERM therefore run, and each one that cannot is logged and handed to ``on_give_up``.
- guards the lark routes (the views of this package, found by resolving the path): a
  ``Content-Length`` over the dispatcher's limit is answered 413 before a byte of the body is
  read, and a chunked body is read up to the limit plus one chunk and no further. Other routes go
  to Django untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.urls import Resolver404, resolve

from lark_events_core import Dispatcher
from lark_events_core.asgi import Message, Receive, Scope, Send, route_path
from lark_events_core.errors import PayloadTooLarge
from lark_events_core.http import JSON_CONTENT_TYPE
from lark_events_core.shutdown import watch_server

from . import conf

__all__ = ["LarkEventsASGIMiddleware", "get_asgi_application"]

logger = logging.getLogger("lark_events.django")

ASGIApp = Callable[..., Any]  # Django's ASGIHandler types its arguments as plain dicts
_TOO_LARGE = b'{"msg":"' + PayloadTooLarge.public_message.encode() + b'"}'
_MAX_CACHED_PATHS = 1024


class LarkEventsASGIMiddleware:
    """Wraps Django's ASGI application: lifespan (start, drain) and the lark routes' body limit.

    ``dispatchers`` are drained at shutdown (default: the one built from ``LARK_EVENTS``; pass
    yours when your views use :func:`~lark_events_django.views.make_view` with others).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        dispatchers: Iterable[Dispatcher] | None = None,
        shutdown_timeout: float | None = None,
    ) -> None:
        self.app = app
        self.dispatchers = None if dispatchers is None else list(dispatchers)
        self.shutdown_timeout = shutdown_timeout
        self._limits: dict[str, Callable[[], Dispatcher] | None] = {}

    def __repr__(self) -> str:
        return f"LarkEventsASGIMiddleware({self.app!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind == "http" and scope.get("method") == "POST":
            source = self._lark_route(route_path(scope))
            if source is not None:
                guarded = await _guard(scope, receive, send, source().settings.max_body_bytes)
                if guarded is None:
                    return
                receive = guarded
        await self.app(scope, receive, send)

    def _lark_route(self, path: str) -> Callable[[], Dispatcher] | None:
        """The dispatcher source of the lark view serving ``path``, or ``None`` (not ours)."""
        if path in self._limits:
            return self._limits[path]
        try:
            view = resolve(path).func
        except Resolver404:
            found = None
        else:
            found = _source(view)
        if len(self._limits) < _MAX_CACHED_PATHS:  # bounded: paths come from clients
            self._limits[path] = found
        return found

    def _targets(self) -> list[Dispatcher]:
        return conf_dispatchers() if self.dispatchers is None else self.dispatchers

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                watch_server()  # under gunicorn's UvicornWorker: drain within graceful_timeout
                for dispatcher in self._targets():
                    dispatcher.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for dispatcher in self._targets():
                    try:
                        await dispatcher.aclose(self.shutdown_timeout)
                    except Exception:
                        logger.exception("lark-events: draining a dispatcher failed")
                await send({"type": "lifespan.shutdown.complete"})
                return


def _source(view: Any) -> Callable[[], Dispatcher] | None:
    if not hasattr(view, "lark_events_card"):
        return None
    found: Callable[[], Dispatcher] | None = getattr(view, "lark_events_dispatcher", None)
    return found if found is not None else conf.get_dispatcher


def conf_dispatchers() -> list[Dispatcher]:
    """The dispatcher built from ``LARK_EVENTS``; none (logged) when the settings are broken."""
    try:
        return [conf.get_dispatcher()]
    except Exception:
        logger.exception("lark-events: cannot build the dispatcher from settings.LARK_EVENTS")
        return []


async def _guard(scope: Scope, receive: Receive, send: Send, limit: int) -> Receive | None:
    """``receive`` for Django, or ``None`` once the request was answered 413 (or went away)."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            declared = value.strip()
            if declared.isdigit() and int(declared) > limit:
                await _too_large(send)
                return None
            return receive  # the server frames the body: no more than declared arrives
    buffered: list[Message] = []
    size = 0
    while True:
        message = await receive()
        buffered.append(message)
        if message["type"] != "http.request":
            break  # http.disconnect: Django sees it and gives up
        size += len(message.get("body", b""))
        if size > limit:
            await _too_large(send)
            return None
        if not message.get("more_body", False):
            break

    async def replay() -> Message:
        if buffered:
            return buffered.pop(0)
        return await receive()

    return replay


async def _too_large(send: Send) -> None:
    headers = [
        (b"content-type", JSON_CONTENT_TYPE.encode("latin-1")),
        (b"content-length", str(len(_TOO_LARGE)).encode("ascii")),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": _TOO_LARGE})


def get_asgi_application(
    *, dispatchers: Iterable[Dispatcher] | None = None, shutdown_timeout: float | None = None
) -> LarkEventsASGIMiddleware:
    """Django's ASGI application (``django.setup()`` included) wrapped for lark-events."""
    from django.core.asgi import get_asgi_application as django_application

    return LarkEventsASGIMiddleware(
        django_application(), dispatchers=dispatchers, shutdown_timeout=shutdown_timeout
    )
