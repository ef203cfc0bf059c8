"""The ASGI application of :mod:`tests.observe.served_django`, for uvicorn."""

from __future__ import annotations

import os

from lark_events_django.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.observe.served_django")

application = get_asgi_application()
