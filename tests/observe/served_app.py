"""A Flask app with metrics on, served by gunicorn with two workers in multiprocess mode."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from lark_events_flask import LarkEvents

from lark_events_core import Event
from lark_events_core.redis_store import RedisDedupStore


def _fails(event: Event[Any]) -> None:
    raise RuntimeError("handler failure")


lark = LarkEvents()
lark.on("im.message.receive_v1")(lambda event: None)
lark.on("contact.user.created_v3")(_fails)
lark.on("app_ticket", deferred=True)(lambda event: None)
app = Flask(__name__)
app.config["LARK_EVENTS_METRICS"] = True
app.config["LARK_EVENTS_HEALTH"] = True
app.config["LARK_EVENTS_OPTIONS"] = {
    "dedup": RedisDedupStore(os.environ["LARK_REDIS_URL"], prefix=os.environ["LARK_REDIS_PREFIX"])
}
lark.init_app(app)
