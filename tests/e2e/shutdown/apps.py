"""The apps the shutdown tests start: Flask (gunicorn), the generic ASGI app (uvicorn), aiohttp.

``python -m tests.e2e.shutdown.apps`` runs the aiohttp app on aiohttp's own runner (``PORT``).
"""

from __future__ import annotations

import logging
import os

from flask import Flask
from lark_events_flask import LarkEvents

from lark_events_core.asgi import ASGIApp

from . import handlers

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")

flask_app = Flask(__name__)
LarkEvents(flask_app, handlers.dispatcher())

asgi_app = ASGIApp(handlers.dispatcher())


def main() -> None:
    """aiohttp's runner, as the aiohttp sample runs it."""
    from aiohttp import web
    from lark_events_aiohttp import setup

    app = web.Application()
    setup(app, handlers.dispatcher())
    web.run_app(app, host="127.0.0.1", port=int(os.environ["PORT"]), print=None)


if __name__ == "__main__":
    main()
