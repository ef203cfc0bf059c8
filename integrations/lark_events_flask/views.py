"""The Flask view: a Flask request in, the core, a Flask response out."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, current_app, request
from flask import Request as FlaskRequest
from flask import Response as FlaskResponse

from lark_events_core import Dispatcher, Request, Response
from lark_events_core.errors import MethodNotAllowed, RequestError
from lark_events_core.http import JSON_CONTENT_TYPE
from lark_events_core.wsgi import error_response, headers_from_environ, read_environ_body

__all__ = ["METHODS", "make_view", "to_flask"]

logger = logging.getLogger("lark_events.flask")

#: Every method the view is routed for, so that a wrong one gets our JSON 405, not Flask's HTML.
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

_INTERNAL_ERROR = Response(500, b'{"msg":"internal error"}')


def to_flask(response: Response, app: Flask | None = None) -> FlaskResponse:
    """The core's response as the app's response class (status, JSON body, headers)."""
    target = current_app if app is None else app
    out: FlaskResponse = target.response_class(
        response.body, status=response.status, content_type=JSON_CONTENT_TYPE
    )
    for name, value in response.headers:  # none on the success answer
        if name.lower() != "content-type":
            out.headers[name] = value
    return out


def make_view(dispatcher: Dispatcher, *, card: bool = False) -> Callable[[], FlaskResponse]:
    """A Flask view for the event endpoint (or, with ``card=True``, the legacy card endpoint).

    Route it for :data:`METHODS` with ``provide_automatic_options=False``; :func:`make_blueprint`
    does that for you. The body limit is the dispatcher's ``max_body_bytes``, or Flask's
    ``MAX_CONTENT_LENGTH`` (or the request's ``max_content_length``) when that is smaller.
    """
    limit = dispatcher.settings.max_body_bytes

    def lark_events_view() -> FlaskResponse:
        app: Flask | None = None
        try:
            # One context lookup each for the app and the request, not one per attribute.
            app = current_app._get_current_object()  # type: ignore[attr-defined]
            req: FlaskRequest = request._get_current_object()  # type: ignore[attr-defined]
            environ = req.environ
            if environ.get("REQUEST_METHOD") != "POST":
                return to_flask(error_response(MethodNotAllowed()), app)
            flask_limit = req.max_content_length
            try:
                # From the WSGI input: 413 from Content-Length before reading; a chunked body
                # (the server sets wsgi.input_terminated) is read up to the limit and no further.
                body = read_environ_body(
                    environ, limit if flask_limit is None else min(limit, flask_limit)
                )
            except RequestError as exc:
                return to_flask(error_response(exc), app)
            headers = headers_from_environ(environ)
            core_request = Request("POST", headers, body, environ.get("PATH_INFO") or "/")
            return to_flask(dispatcher.handle(core_request, card=card), app)
        except Exception:
            logger.exception("unexpected error while handling a Lark request")
            return to_flask(_INTERNAL_ERROR, app)

    return lark_events_view
