"""A generic WSGI application: mount the core in Falcon, Bottle, Pyramid or any WSGI server.

::

    from lark_events_core import Dispatcher
    from lark_events_core.wsgi import WSGIApp

    dispatcher = Dispatcher.from_env()
    app = WSGIApp(dispatcher)   # gunicorn module:app → POST /webhook/event and /webhook/card

Paths are matched against ``PATH_INFO``, i.e. below the mount point (``SCRIPT_NAME``), so the app
can be mounted under a prefix with any WSGI dispatcher. Other paths get a JSON 404, other methods
a JSON 405 (with ``Allow: POST``), a ``Content-Length`` over the dispatcher's limit a JSON 413
before a byte of the body is read; a body without a length (chunked, with ``wsgi.input_terminated``
set by the server) is read up to the limit plus one byte and no further.

Only the stdlib and the core are used. :func:`headers_from_environ` and :func:`read_bounded` are
the building blocks the Flask adapter shares.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from http import HTTPStatus
from typing import Any, Protocol

from .dispatcher import Dispatcher
from .errors import BadRequest, MethodNotAllowed, PayloadTooLarge, RequestError
from .http import Headers, LarkHeaders, Request, Response

__all__ = [
    "EnvironHeaders",
    "StartResponse",
    "WSGIApp",
    "close_at_exit",
    "error_response",
    "headers_from_environ",
    "read_bounded",
    "read_environ_body",
]

logger = logging.getLogger("lark_events.wsgi")

StartResponse = Callable[..., Any]

_NOT_FOUND = Response(404, b'{"msg":"not found"}')
_INTERNAL_ERROR = Response(500, b'{"msg":"internal error"}')
_ALLOW = (("Allow", "POST"),)
_CHUNK = 64 * 1024
_closing: set[int] = set()
_closing_lock = threading.Lock()


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


_STATUS_LINES = {code: _status_line(code) for code in (200, 400, 401, 404, 405, 413, 500, 503)}


class Readable(Protocol):
    """Anything with ``read(size)``: ``wsgi.input``, Werkzeug's streams."""

    def read(self, size: int = ..., /) -> bytes: ...


def error_response(exc: RequestError) -> Response:
    """The JSON answer to a request refused before it reaches the dispatcher."""
    response = Response.json(exc.status, {"msg": exc.public_message})
    if isinstance(exc, MethodNotAllowed):
        return Response(response.status, response.body, response.headers + _ALLOW)
    return response


_CGI_HEADERS = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})


_KEYS: dict[str, str] = {}  # header name as the core asks for it → environ key


def _environ_key(name: str) -> str:
    key = _KEYS.get(name)
    if key is None:
        key = name.upper().replace("-", "_")
        key = key if key in _CGI_HEADERS else "HTTP_" + key
        if len(_KEYS) < 256:  # names come from code, not requests; bounded all the same
            _KEYS[name] = key
    return key


# The types an environ value may have for the fast path of EnvironHeaders.lark_headers.
_STR_OR_NONE = frozenset({str, type(None)})


class EnvironHeaders(Headers):
    """The request headers of a WSGI ``environ``, read on demand instead of copied.

    ``x-lark-signature`` is looked up as ``HTTP_X_LARK_SIGNATURE``; ``Content-Type`` and
    ``Content-Length`` as their CGI names (an empty value counts as absent). The core reads only
    a handful of headers per request, so this is cheaper than converting all of them.
    """

    __slots__ = ("_environ",)

    def __init__(self, environ: Mapping[str, Any]) -> None:
        self._environ = environ

    def get(self, key: str, default: Any = None) -> Any:
        name = _KEYS.get(key)  # inline: a lookup per header the core reads, per request
        value = self._environ.get(_environ_key(key) if name is None else name)
        return value if isinstance(value, str) and value else default

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        result: str = value
        return result

    def lark_headers(self) -> LarkHeaders:
        """The four headers of :meth:`Headers.lark_headers`, read from the environ's keys."""
        get = self._environ.get
        signature = get("HTTP_X_LARK_SIGNATURE")
        timestamp = get("HTTP_X_LARK_REQUEST_TIMESTAMP")
        nonce = get("HTTP_X_LARK_REQUEST_NONCE")
        request_id = get("HTTP_X_TT_LOGID") or get("HTTP_X_REQUEST_ID")
        ok = _STR_OR_NONE
        if not (
            type(signature) in ok
            and type(timestamp) in ok
            and type(nonce) in ok
            and type(request_id) in ok
        ):
            return self.lark_headers_by_get()  # a value that is not a str: as get() sees it
        # An empty value counts as absent, as in get().
        return signature or None, timestamp or None, nonce or None, request_id or None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __iter__(self) -> Iterator[str]:
        for key, value in self._environ.items():
            if not (isinstance(value, str) and value):
                continue
            if key[:5] == "HTTP_":
                yield key[5:].replace("_", "-").lower()
            elif key in _CGI_HEADERS:
                yield key.replace("_", "-").lower()

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"EnvironHeaders({sorted(self)!r})"


def headers_from_environ(environ: Mapping[str, Any]) -> Headers:
    """The request headers of a WSGI ``environ`` (``HTTP_X_LARK_NONCE`` → ``x-lark-nonce``)."""
    return EnvironHeaders(environ)


def read_bounded(stream: Readable, limit: int, expected: int | None = None) -> bytes | None:
    """Read ``stream`` to its end, but never more than ``limit + 1`` bytes.

    Returns ``None`` as soon as the body proves longer than ``limit``. With ``expected`` (a
    ``Content-Length`` already checked against ``limit``) exactly that many bytes are read, and a
    stream that ends early is a :class:`~lark_events_core.errors.BadRequest`.
    """
    want = limit + 1 if expected is None else expected
    chunks: list[bytes] = []
    size = 0
    while size < want:
        chunk = stream.read(min(_CHUNK, want - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if expected is not None and size < expected:
        raise BadRequest("incomplete body")
    if size > limit:
        return None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def read_environ_body(environ: Mapping[str, Any], limit: int) -> bytes:
    """The body of a WSGI request, bounded by ``limit``; raises 400 / 413 request errors."""
    raw = environ.get("CONTENT_LENGTH") or ""
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    expected: int | None = None
    if raw and not chunked:
        try:
            expected = int(raw)
        except ValueError:
            raise BadRequest("invalid Content-Length") from None
        if expected < 0:
            raise BadRequest("invalid Content-Length")
        if expected > limit:  # refused before a byte of the body is read
            raise PayloadTooLarge()
    elif not environ.get("wsgi.input_terminated"):
        # No length and a server that does not mark the end of the input: PEP 3333 says the
        # body must then be treated as empty (reading could block forever).
        return b""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    try:
        body = read_bounded(stream, limit, expected)
    except OSError:  # the client went away mid-body
        raise BadRequest("incomplete body") from None
    if body is None:
        raise PayloadTooLarge()
    return body


def close_at_exit(dispatcher: Dispatcher, timeout: float | None = None) -> None:
    """Drain ``dispatcher``'s background work when the process exits (once per dispatcher).

    WSGI has no shutdown hook; gunicorn workers and ``python app.py`` both run ``atexit``. The
    drain waits ``timeout`` seconds (``None``: the dispatcher's ``shutdown_timeout``), never past
    gunicorn's ``graceful_timeout``: the time of SIGTERM is noted from here on.
    """
    from .shutdown import watch_server

    watch_server()
    # atexit runs hooks last-registered-first. The executors module registers its own exit drain
    # (which waits but does not cut retry back-offs short) when first imported, often after this
    # call; importing it now makes this close() run before that drain.
    from . import executors  # noqa: F401

    with _closing_lock:
        if id(dispatcher) in _closing:
            return
        _closing.add(id(dispatcher))
    atexit.register(dispatcher.close, timeout)


class WSGIApp:
    """Serves the event endpoint (and the legacy card endpoint) of ``dispatcher`` over WSGI.

    A ``None`` path leaves that endpoint out. ``close_on_exit`` drains the dispatcher's background
    work at interpreter exit (see :func:`close_at_exit`).
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        event_path: str | None = "/webhook/event",
        card_path: str | None = "/webhook/card",
        close_on_exit: bool = True,
    ) -> None:
        self.dispatcher = dispatcher
        dispatcher.warn_if_insecure(stacklevel=3)
        self._routes: dict[str, bool] = {}
        if event_path is not None:
            self._routes[event_path] = False
        if card_path is not None:
            self._routes[card_path] = True
        if close_on_exit:
            close_at_exit(dispatcher)

    def __repr__(self) -> str:
        return f"WSGIApp(paths={sorted(self._routes)!r})"

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            response = self._respond(environ)
        except Exception:
            logger.exception("unexpected error while handling a Lark request")
            response = _INTERNAL_ERROR
        status = _STATUS_LINES.get(response.status) or _status_line(response.status)
        headers = [*response.headers, ("Content-Length", str(len(response.body)))]
        start_response(status, headers)
        return [response.body]

    def _respond(self, environ: dict[str, Any]) -> Response:
        path: str = environ.get("PATH_INFO") or "/"
        card = self._routes.get(path)
        if card is None:
            return _NOT_FOUND
        if environ.get("REQUEST_METHOD", "GET").upper() != "POST":
            return error_response(MethodNotAllowed())
        try:
            body = read_environ_body(environ, self.dispatcher.settings.max_body_bytes)
        except RequestError as exc:
            return error_response(exc)
        # Request(...) rather than Request.build(): build() copies any Headers subclass.
        request = Request("POST", headers_from_environ(environ), body, path)
        return self.dispatcher.handle(request, card=card)
