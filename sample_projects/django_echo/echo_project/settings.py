"""Settings of django_echo: the least a Django project needs to receive Lark events.

Secrets come from the environment: ``LARK_ENCRYPT_KEY`` and ``LARK_VERIFICATION_TOKEN`` (from the
app's "Events and Callbacks" page in the Lark developer console), ``DJANGO_SECRET_KEY``.
"""

from __future__ import annotations

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or "django-echo-sample-only-not-for-production"
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")

INSTALLED_APPS = [
    "lark_events_django",  # system checks; imports every app's lark_handlers module
    "echo",  # the handlers (echo/lark_handlers.py) and runserver on $PORT
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",  # the lark views are CSRF-exempt by themselves
]
ROOT_URLCONF = "echo_project.urls"
WSGI_APPLICATION = "echo_project.wsgi.application"
ASGI_APPLICATION = "echo_project.asgi.application"
DATABASES: dict[str, dict[str, str]] = {}  # the sample keeps no data
USE_TZ = True
TIME_ZONE = "UTC"

LARK_EVENTS: dict[str, object] = {
    "ENCRYPT_KEY": os.environ.get("LARK_ENCRYPT_KEY") or None,
    "VERIFICATION_TOKEN": os.environ.get("LARK_VERIFICATION_TOKEN") or None,
}
if os.environ.get("LARK_REDIS_URL"):  # several worker processes: share "already handled"
    LARK_EVENTS["DEDUP"] = "echo.dedup.redis_store"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "echo": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "lark_events": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
