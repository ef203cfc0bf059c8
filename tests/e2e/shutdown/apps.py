"""The apps the shutdown tests start: Flask (gunicorn), the generic ASGI app (uvicorn), aiohttp.

``python -m tests.e2e.shutdown.apps`` runs the aiohttp app on aiohttp's own runner (``PORT``);
``gunicorn -k aiohttp.GunicornWebWorker tests.e2e.shutdown.apps:aiohttp_app`` runs the same app
in gunicorn's aiohttp worker.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask
from lark_events_flask import LarkEvents

from lark_events_core.asgi import ASGIApp

from . import handlers

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")

flask_app = Flask(__name__)
LarkEvents(flask_app, handlers.dispatcher())

asgi_app = ASGIApp(handlers.dispatcher())


def _aiohttp_app() -> Any:
    from aiohttp import web
    from lark_events_aiohttp import setup

    app = web.Application()
    setup(app, handlers.dispatcher())
    return app


async def aiohttp_app() -> Any:
    """The aiohttp app, for gunicorn's aiohttp worker (which awaits an async factory)."""
    return _aiohttp_app()


def main() -> None:
    """aiohttp's runner, as the aiohttp sample runs it."""
    from aiohttp import web

    web.run_app(_aiohttp_app(), host="127.0.0.1", port=int(os.environ["PORT"]), print=None)


if __name__ == "__main__":
    main()
