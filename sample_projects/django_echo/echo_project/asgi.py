"""ASGI entry point, for uvicorn (see the README).

Under ASGI the lark views are async views; sync handlers run in a worker thread, never on the
event loop. ``lark_events_django.asgi`` wraps Django's application so that uvicorn's lifespan
shutdown drains deferred handlers, and so that an oversized body is refused before it is read.
"""

from __future__ import annotations

import os

from lark_events_django.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "echo_project.settings")

application = get_asgi_application()
