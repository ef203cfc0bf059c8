"""The WSGI application of :mod:`tests.observe.served_django`, for gunicorn. With
``LARK_SPANS_FILE`` set, Django's own OTel instrumentation is on and every span goes there."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.observe.served_django")

if os.environ.get("LARK_SPANS_FILE"):
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    from .spans_file import install_from_env

    install_from_env()
    DjangoInstrumentor().instrument()  # before the application: it adds its middleware

application = get_wsgi_application()
