"""A generic ASGI 3 application: mount the core in FastAPI, Starlette, Quart or any ASGI server.

::

    from lark_events_core.asgi import ASGIApp

    app = ASGIApp(dispatcher)                        # uvicorn module:app
    fastapi_app.mount("/webhook", ASGIApp(dispatcher, event_path="/event", card_path="/card"))

Paths are matched after the mount prefix (``root_path``). Only the stdlib and the core are used.
On ``lifespan`` startup the dispatcher's journal (if any) starts replaying; on ``lifespan`` shutdown
its background work is drained within ``shutdown_timeout`` (``None``: the dispatcher's own). Mounted
sub-applications do not receive lifespan events, so call ``dispatcher.start()`` and
``await dispatcher.aclose()`` from the host app's lifespan. Run uvicorn with lifespan on (its
default, ``--lifespan auto``): with ``--lifespan off`` nothing drains at shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .dispatcher import Dispatcher
from .errors import MethodNotAllowed, PayloadTooLarge, RequestError
from .http import Request, Response

__all__ = ["ASGIApp", "Receive", "Scope", "Send", "route_path"]

logger = logging.getLogger("lark_events.asgi")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_NOT_FOUND = Response(404, b'{"msg":"not found"}')
_INTERNAL_ERROR = Response(500, b'{"msg":"internal error"}')


def _error(exc: RequestError) -> Response:
    return Response.json(exc.status, {"msg": exc.public_message})


def route_path(scope: Scope) -> str:
    """The request path below the mount point: ``path`` without its ``root_path`` prefix."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :] or "/"
    return path


class ASGIApp:
    """Serves the event endpoint (and the legacy card endpoint) of ``dispatcher`` over ASGI 3.

    A ``None`` path leaves that endpoint out. Other paths get a JSON 404, other methods a JSON 405,
    bodies over the dispatcher's limit a JSON 413 without being read in full.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        event_path: str | None = "/webhook/event",
        card_path: str | None = "/webhook/card",
        shutdown_timeout: float | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        dispatcher.warn_if_insecure(stacklevel=3)
        self.shutdown_timeout = shutdown_timeout
        self._routes: dict[str, bool] = {}
        if event_path is not None:
            self._routes[event_path] = False
        if card_path is not None:
            self._routes[card_path] = True
        self._limit = dispatcher.settings.max_body_bytes

    def __repr__(self) -> str:
        return f"ASGIApp(paths={sorted(self._routes)!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = route_path(scope)
        card = self._routes.get(path)
        if card is None:
            await _send(send, _NOT_FOUND)
            return
        if scope["method"] != "POST":
            await _send(send, _error(MethodNotAllowed()), (b"allow", b"POST"))
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        try:
            body = await self._read_body(headers, receive)
            if body is None:
                await _send(send, _error(PayloadTooLarge()), (b"connection", b"close"))
                return
            request = Request.build("POST", headers, body, path)
            response = await self.dispatcher.handle_async(request, card=card)
        except _Disconnected:
            return
        except Exception:
            logger.exception("unexpected error while handling a Lark request")
            response = _INTERNAL_ERROR
        await _send(send, response)

    async def _read_body(self, headers: list[tuple[str, str]], receive: Receive) -> bytes | None:
        """The body, or ``None`` as soon as it is known to exceed the limit."""
        limit = self._limit
        for name, value in headers:
            if name.lower() == "content-length":
                if value.strip().isdigit() and int(value) > limit:
                    return None
                break
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.dispatcher.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.dispatcher.aclose(self.shutdown_timeout)
                except Exception:
                    logger.exception("draining the dispatcher failed")
                    await send({"type": "lifespan.shutdown.failed", "message": "drain failed"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                return


class _Disconnected(Exception):
    """The client went away before the body was complete: nothing to answer."""


async def _send(send: Send, response: Response, *extra: tuple[bytes, bytes]) -> None:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode("ascii")))
    headers.extend(extra)
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
