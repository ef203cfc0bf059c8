"""The ASGI application of :mod:`tests.observe.served_django` (through
``lark_events_django.asgi``) inside OpenTelemetry's ASGI middleware, for uvicorn. With
``LARK_SPANS_FILE`` set, every span (the middleware's server span, ours) goes there."""

from __future__ import annotations

import os

from lark_events_django.asgi import get_asgi_application
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

from .spans_file import install_from_env

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.observe.served_django")

install_from_env()  # before the dispatcher is built: its TracingObserver uses the global provider
application = OpenTelemetryMiddleware(get_asgi_application())
