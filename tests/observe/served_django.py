"""Django settings with metrics on, served under uvicorn through lark_events_django.asgi.

``DJANGO_SETTINGS_MODULE=tests.observe.served_django uvicorn tests.observe.served_asgi:application``
(``LARK_ENCRYPT_KEY`` / ``LARK_VERIFICATION_TOKEN`` from the environment).
"""

from __future__ import annotations

import os

from lark_events_core import Dispatcher

from .mix import observers, register

SECRET_KEY = "observe-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["lark_events_django"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "tests.observe.served_urls"
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
LARK_EVENTS = {
    "DISPATCHER": "tests.observe.served_django.build_dispatcher",
    "METRICS": True,
    "HEALTH": True,
}


def build_dispatcher() -> Dispatcher:
    """The known mix's handlers on a dispatcher configured from the environment (traced, with
    ``LARK_SPANS_FILE``)."""
    dispatcher = Dispatcher(
        os.environ["LARK_ENCRYPT_KEY"], os.environ["LARK_VERIFICATION_TOKEN"], observers=observers()
    )
    register(dispatcher)
    return dispatcher
