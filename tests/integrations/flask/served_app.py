"""Apps that ``tests/e2e/test_flask_e2e.py`` serves with a real gunicorn process.

``app`` is a Flask app with ``LarkEvents``; ``wsgi_app`` is the generic
:class:`~lark_events_core.wsgi.WSGIApp`. Both have deferred handlers (answered first, run after)
that must still run when gunicorn stops the worker right after the answer: ``message`` takes a
second; ``app_ticket`` fails its first attempt and is retried after a 60 s back-off, which only
the dispatcher's ``close()`` at exit cuts short.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask
from lark_events_flask import LarkEvents

from lark_events_core import Dispatcher, Event
from lark_events_core.wsgi import WSGIApp

logging.basicConfig(level=logging.INFO, format="[%(process)d] %(levelname)s %(name)s %(message)s")
log = logging.getLogger("served_app")


def slow_handler(event: Event[Any]) -> None:
    time.sleep(1.0)
    log.info("handled event_type=%s event_id=%s", event.type, event.event_id or "-")


_attempts: dict[str, int] = {}


def flaky_handler(event: Event[Any]) -> None:
    attempt = _attempts[event.event_id or "-"] = _attempts.get(event.event_id or "-", 0) + 1
    if attempt == 1:
        raise RuntimeError("first attempt fails")
    log.info("handled event_type=%s event_id=%s", event.type, event.event_id or "-")


OPTIONS = {"retry_backoff": 60.0}

lark = LarkEvents()
lark.on("message", deferred=True)(slow_handler)
lark.on("app_ticket", deferred=True)(flaky_handler)
app = Flask(__name__)
app.config["LARK_EVENTS_OPTIONS"] = OPTIONS
lark.init_app(app)  # key and token from the environment

dispatcher = Dispatcher.from_env(**OPTIONS)
dispatcher.on("message", slow_handler, deferred=True)
dispatcher.on("app_ticket", flaky_handler, deferred=True)
wsgi_app = WSGIApp(dispatcher)
