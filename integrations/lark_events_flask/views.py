"""The Flask view: a Flask request in, the core, a Flask response out."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Response as FlaskResponse
from flask import current_app, request
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from lark_events_core import Dispatcher, Request, Response
from lark_events_core.errors import BadRequest, MethodNotAllowed, PayloadTooLarge, RequestError
from lark_events_core.wsgi import error_response, headers_from_environ, read_bounded

__all__ = ["METHODS", "make_view", "to_flask"]

logger = logging.getLogger("lark_events.flask")

#: Every method the view is routed for, so that a wrong one gets our JSON 405, not Flask's HTML.
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

_INTERNAL_ERROR = Response(500, b'{"msg":"internal error"}')


def to_flask(response: Response) -> FlaskResponse:
    """The core's response as the app's response class (status, JSON body, headers)."""
    out: FlaskResponse = current_app.response_class(
        response.body, status=response.status, headers=list(response.headers)
    )
    return out


def _read_body(limit: int) -> bytes:
    length = request.content_length
    if length is not None and length > limit:  # refused before a byte of the body is read
        raise PayloadTooLarge()
    try:
        # Werkzeug's stream stops at Content-Length, or (chunked) at the end the server marks.
        body = read_bounded(request.stream, limit)
    except RequestEntityTooLarge:  # the app's own MAX_CONTENT_LENGTH is smaller than ours
        raise PayloadTooLarge() from None
    except (ClientDisconnected, OSError):
        raise BadRequest("incomplete body") from None
    if body is None:
        raise PayloadTooLarge()
    return body


def make_view(dispatcher: Dispatcher, *, card: bool = False) -> Callable[[], FlaskResponse]:
    """A Flask view for the event endpoint (or, with ``card=True``, the legacy card endpoint).

    Route it for :data:`METHODS` with ``provide_automatic_options=False``; :func:`make_blueprint`
    does that for you.
    """
    limit = dispatcher.settings.max_body_bytes

    def lark_events_view() -> FlaskResponse:
        try:
            if request.method != "POST":
                return to_flask(error_response(MethodNotAllowed()))
            try:
                body = _read_body(limit)
            except RequestError as exc:
                return to_flask(error_response(exc))
            headers = headers_from_environ(request.environ)
            core_request = Request.build("POST", headers, body, request.path)
            return to_flask(dispatcher.handle(core_request, card=card))
        except Exception:
            logger.exception("unexpected error while handling a Lark request")
            return to_flask(_INTERNAL_ERROR)

    return lark_events_view
