"""lark-events for aiohttp: a request-handler factory and ``setup(app, dispatcher)``.

::

    from aiohttp import web
    from lark_events_aiohttp import setup

    app = web.Application()
    setup(app, dispatcher)   # POST /webhook/event and /webhook/card; drains on cleanup
    # or: dispatcher = setup(app)   -- built from LARK_ENCRYPT_KEY / LARK_VERIFICATION_TOKEN

Async handlers run on the loop; sync handlers run in a worker thread, so the loop never blocks
(or on the loop, when registered with ``blocking=False``: no thread hop).
The body is read from the stream with the dispatcher's size limit, so an oversized request is
answered 413 (JSON) without being read into memory, whatever ``client_max_size`` says.
"""

from __future__ import annotations

import logging
from asyncio import IncompleteReadError
from collections.abc import Awaitable, Callable
from typing import Any

from lark_events_core import Dispatcher, Request, Response, _extras
from lark_events_core.errors import BadRequest, MethodNotAllowed, PayloadTooLarge, RequestError
from lark_events_core.http import CaseInsensitiveHeaders
from lark_events_core.shutdown import watch_loop

try:
    from aiohttp import ClientPayloadError, web
    from aiohttp.http_exceptions import HttpProcessingError
    from multidict import CIMultiDict
except ImportError as exc:
    _extras.missing_extra(exc, "aiohttp", __name__)

from .logs import hide_request_bytes

__all__ = ["DISPATCHER_KEY", "AiohttpHandler", "get_dispatcher", "make_handler", "setup"]

logger = logging.getLogger("lark_events.aiohttp")

#: Where :func:`setup` keeps the dispatcher: ``request.config_dict[DISPATCHER_KEY]``.
DISPATCHER_KEY: web.AppKey[Dispatcher] = web.AppKey("lark_events_dispatcher", Dispatcher)

AiohttpHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_INTERNAL_ERROR = Response(500, b'{"msg":"internal error"}')
# Per request: the core's default headers as a ready CIMultiDict (aiohttp copies one in C; a
# tuple of pairs it builds up in Python).
_JSON_HEADERS = Response(200, b"").headers
_WEB_JSON_HEADERS = CIMultiDict(_JSON_HEADERS)


def _web_response(response: Response, *extra: tuple[str, str]) -> web.Response:
    headers = response.headers
    return web.Response(
        status=response.status,
        body=response.body,
        headers=_WEB_JSON_HEADERS if headers is _JSON_HEADERS and not extra else headers + extra,
    )


def _error(exc: RequestError) -> Response:
    return Response.json(exc.status, {"msg": exc.public_message})


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """At most ``limit`` bytes of the body, or ``None`` once it proves longer (chunked bodies)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(limit + 1 - size)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)


def make_handler(dispatcher: Dispatcher, *, card: bool = False) -> AiohttpHandler:
    """An aiohttp handler for the event endpoint (or, with ``card=True``, the legacy card one).

    Register it for every method (``router.add_route("*", path, handler)``) so that a wrong method
    gets the JSON 405 too instead of aiohttp's plain-text one.
    """
    limit = dispatcher.settings.max_body_bytes

    async def lark_events_handler(request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            return _web_response(_error(MethodNotAllowed()), ("Allow", "POST"))
        try:
            length = request.content_length
            if length is None:  # chunked: read at most limit + 1 bytes
                body = await _read_body(request, limit)
            elif length == 0:  # aiohttp's empty stream raises on readexactly(0)
                body = b""
            elif length <= limit:
                body = await request.content.readexactly(length)
            else:
                body = None
            if body is None:
                reply = _web_response(_error(PayloadTooLarge()))
                reply.force_close()  # the rest of the body is never read
                return reply
            # A view over aiohttp's case-insensitive headers, not a copy of all of them; the
            # Request made directly (as the Flask and Django views do): nothing to normalise.
            headers = CaseInsensitiveHeaders(request.headers)
            core_request = Request("POST", headers, body, request.path)
            return _web_response(await dispatcher.handle_async(core_request, card=card))
        except (ClientPayloadError, HttpProcessingError, ConnectionError, IncompleteReadError):
            logger.info("request body ended early or was malformed")
            return _web_response(_error(BadRequest("incomplete body")))
        except Exception:
            logger.exception("unexpected error while handling a Lark request")
            return _web_response(_INTERNAL_ERROR)

    return lark_events_handler


def setup(
    app: web.Application,
    dispatcher: Dispatcher | None = None,
    *,
    event_path: str | None = "/webhook/event",
    card_path: str | None = "/webhook/card",
    shutdown_timeout: float | None = None,
    metrics_path: str | None = None,
    health_path: str | None = None,
    **options: Any,
) -> Dispatcher:
    """Add the endpoints to ``app``, keep the dispatcher under :data:`DISPATCHER_KEY`, start its
    journal on ``on_startup``, drain its background work on ``on_cleanup`` (within
    ``shutdown_timeout``; ``None``: the dispatcher's own), and return it. A ``None`` path leaves
    that endpoint out.

    Without a ``dispatcher``, one is built by ``Dispatcher.from_env(**options)``
    (``LARK_ENCRYPT_KEY``, ``LARK_VERIFICATION_TOKEN``). Route names: ``lark_events_event`` and
    ``lark_events_card``. Also keeps request bytes out of ``aiohttp.server``'s parse-error log
    lines (:func:`lark_events_aiohttp.logs.hide_request_bytes`).
    ``metrics_path`` (e.g. ``"/metrics"``) makes the dispatcher report to
    Prometheus and serves the metrics there; ``health_path`` (e.g. ``"/healthz"``) serves
    :meth:`Dispatcher.ahealth` (200 when ready, 503 when not).
    """
    if DISPATCHER_KEY in app:
        raise RuntimeError("lark_events_aiohttp.setup() was already called for this app")
    disp = dispatcher if dispatcher is not None else Dispatcher.from_env(**options)
    app[DISPATCHER_KEY] = disp
    hide_request_bytes()
    disp.warn_if_insecure(stacklevel=3)
    if event_path is not None:
        app.router.add_route("*", event_path, make_handler(disp), name="lark_events_event")
    if card_path is not None:
        app.router.add_route("*", card_path, make_handler(disp, card=True), name="lark_events_card")

    if metrics_path is not None or health_path is not None:
        from .observability import add_routes

        add_routes(app, disp, metrics_path=metrics_path, health_path=health_path)

    async def start(app: web.Application) -> None:
        watch_loop()  # in gunicorn's aiohttp worker, the drain then ends within graceful_timeout
        app[DISPATCHER_KEY].start()

    async def drain(app: web.Application) -> None:
        await app[DISPATCHER_KEY].aclose(shutdown_timeout)

    app.on_startup.append(start)
    app.on_cleanup.append(drain)
    return disp


def get_dispatcher(owner: web.Application | web.Request) -> Dispatcher:
    """The dispatcher :func:`setup` keeps for an app, or for the app serving a request
    (``request.config_dict``, so it is found from nested sub-applications too)."""
    if isinstance(owner, web.Request):
        return owner.config_dict[DISPATCHER_KEY]
    return owner[DISPATCHER_KEY]
