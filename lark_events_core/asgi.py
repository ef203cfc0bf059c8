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
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping, Sequence
from typing import Any

from .dispatcher import Dispatcher
from .errors import MethodNotAllowed, PayloadTooLarge, RequestError
from .http import _JSON_HEADERS, Headers, LarkHeaders, Request, Response
from .shutdown import watch_server
from .signature import HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP

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


# The names the core reads on every request, as an ASGI server passes them.
_SIGNATURE = HEADER_SIGNATURE.lower().encode("ascii")
_TIMESTAMP = HEADER_TIMESTAMP.lower().encode("ascii")
_NONCE = HEADER_NONCE.lower().encode("ascii")


class _ASGIHeaders(Headers):
    """The request headers of an ASGI scope, read on demand instead of decoded and copied.

    Holds the scope's names and values as bytes, the first of repeated names kept; a name is
    looked up lower-cased and a value decoded as latin-1 only when asked for. The core reads a
    handful of headers per request, so this is cheaper than converting all of them. Made by
    ``_asgi_headers()``, which takes it only when every name is lower-case ASCII, as servers send
    them (uvicorn, hypercorn, daphne); other names take the general :class:`Headers`.
    """

    __slots__ = ("_raw",)

    def __init__(self, raw: dict[bytes, bytes]) -> None:
        self._raw = raw

    def get(self, key: str, default: Any = None) -> Any:
        try:
            value = self._raw.get(key.lower().encode("ascii"))
        except (AttributeError, UnicodeEncodeError):  # not a str, or not a header name
            return default
        return default if value is None else value.decode("latin-1")

    def lark_headers(self) -> LarkHeaders:
        """The four headers of :meth:`Headers.lark_headers`, decoded from the scope's bytes."""
        get = self._raw.get
        signature = get(_SIGNATURE)
        timestamp = get(_TIMESTAMP)
        nonce = get(_NONCE)
        request_id = get(b"x-tt-logid") or get(b"x-request-id")
        return (
            None if signature is None else signature.decode("latin-1"),
            None if timestamp is None else timestamp.decode("latin-1"),
            None if nonce is None else nonce.decode("latin-1"),
            None if request_id is None else request_id.decode("latin-1"),
        )

    # __getitem__ and __contains__ are Headers' own, through get().

    def __iter__(self) -> Iterator[str]:
        return (name.decode("ascii") for name in self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __repr__(self) -> str:
        return f"_ASGIHeaders({sorted(self)!r})"


def _asgi_headers(raw: Iterable[Sequence[bytes]]) -> Headers:
    """The headers of an ASGI scope (``scope["headers"]``) as the core reads them."""
    pairs = raw if type(raw) is list else list(raw)
    kept = dict(reversed(pairs))  # in reverse: the first of repeated names wins
    names = b"\0".join(kept)  # checked at once in C: bytes check case in ASCII
    if names.islower() and names.isascii():  # no two names can then differ only in case
        return _ASGIHeaders(kept)
    return Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in pairs])


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
        headers = _asgi_headers(scope["headers"])
        try:
            body = await self._read_body(headers, receive)
            if body is None:
                await _send(send, _error(PayloadTooLarge()), (b"connection", b"close"))
                return
            request = Request("POST", headers, body, path)
            response = await self.dispatcher.handle_async(request, card=card)
        except _Disconnected:
            return
        except Exception:
            logger.exception("unexpected error while handling a Lark request")
            response = _INTERNAL_ERROR
        await _send(send, response)

    async def _read_body(self, headers: Headers, receive: Receive) -> bytes | None:
        """The body, or ``None`` as soon as it is known to exceed the limit."""
        limit = self._limit
        length = headers.get("content-length")
        if length is not None and length.strip().isdigit() and int(length) > limit:
            return None
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
                watch_server()  # under gunicorn's UvicornWorker: drain within graceful_timeout
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


def _encoded(headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]


# The core's default response headers, encoded once (nearly every answer has them).
_ENCODED_JSON_HEADERS = tuple(_encoded(_JSON_HEADERS))


async def _send(send: Send, response: Response, *extra: tuple[bytes, bytes]) -> None:
    given = response.headers
    headers = [*_ENCODED_JSON_HEADERS] if given is _JSON_HEADERS else _encoded(given)
    headers.append((b"content-length", str(len(response.body)).encode("ascii")))
    headers.extend(extra)
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
