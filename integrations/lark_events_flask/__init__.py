"""lark-events for Flask: a blueprint factory and the ``LarkEvents`` extension.

::

    from flask import Flask
    from lark_events_flask import LarkEvents

    lark = LarkEvents()

    @lark.on("im.message.receive_v1")
    def on_message(event):
        print(event.event.message.text)

    def create_app():
        app = Flask(__name__)
        app.config["LARK_ENCRYPT_KEY"] = "..."          # else read from the environment
        app.config["LARK_VERIFICATION_TOKEN"] = "..."
        lark.init_app(app)   # POST /webhook/event and /webhook/card
        return app

Or, with a :class:`~lark_events_core.Dispatcher` of your own::

    app.register_blueprint(make_blueprint(dispatcher, url_prefix="/lark"))

Every answer is JSON, including 405 for other methods and 413 for bodies over the dispatcher's
``max_body_bytes`` (refused from ``Content-Length`` before the body is read; a chunked body is read
up to the limit and no further). Handlers may be sync or async: the core runs async ones.

Flask-WTF: ``CSRFProtect`` would reject the platform's POSTs (they carry no CSRF token; they are
authenticated by signature and token instead). :meth:`LarkEvents.init_app` exempts its blueprint
when the app has a ``CSRFProtect``, set up before or after it; a blueprint from
:func:`make_blueprint` registered by hand needs ``csrf.exempt(bp)``. Every ``app.config`` key is
listed in docs/flask.md.
"""

from __future__ import annotations

from lark_events_core import _extras

try:  # fail early, with the extra to install
    import flask as _flask  # noqa: F401
except ImportError as exc:
    _extras.missing_extra(exc, "flask", __name__)

from .extension import (
    EXTENSION_KEY,
    LarkEvents,
    LarkEventsState,
    get_dispatcher,
    make_blueprint,
)
from .views import make_view, to_flask

__all__ = [
    "EXTENSION_KEY",
    "LarkEvents",
    "LarkEventsState",
    "get_dispatcher",
    "make_blueprint",
    "make_view",
    "to_flask",
]
