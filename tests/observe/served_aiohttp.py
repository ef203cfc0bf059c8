"""An aiohttp app with metrics on, for aiohttp's own runner:
``python -m aiohttp.web -H 127.0.0.1 -P PORT tests.observe.served_aiohttp:create_app``."""

from __future__ import annotations

import os

from aiohttp import web
from lark_events_aiohttp import setup

from lark_events_core import Dispatcher

from .mix import observers, register


def create_app(argv: list[str] | None = None) -> web.Application:
    """The app; ``argv`` is what ``python -m aiohttp.web`` passes on (unused)."""
    if os.environ.get("LARK_SPANS_FILE"):  # aiohttp's own OTel instrumentation, and ours
        from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor

        from .spans_file import install_from_env

        install_from_env()
        AioHttpServerInstrumentor().instrument()  # before the Application is made
    dispatcher = Dispatcher(
        os.environ["LARK_ENCRYPT_KEY"], os.environ["LARK_VERIFICATION_TOKEN"], observers=observers()
    )
    register(dispatcher)
    app = web.Application()
    setup(app, dispatcher, metrics_path="/metrics", health_path="/healthz")
    return app
