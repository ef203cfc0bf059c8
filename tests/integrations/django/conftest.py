"""Django is configured once per process (``settings.configure`` is global), here.

When another test module configured Django first, these tests adapt what they need with
``override_settings`` (see the ``django_settings`` fixture), so the order of modules never matters.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import django
import pytest
from django.conf import settings
from django.test.utils import override_settings

from tests.support.services import DEFAULTS
from tests.support.vectors import receiver

#: ``application_name`` of this process's PostgreSQL connections, to count them in pg_stat_activity.
PG_APPLICATION_NAME = f"lark-events-django-tests-{os.getpid()}"


def _database(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/") or "postgres",
        "USER": parts.username or "postgres",
        "PASSWORD": parts.password or "",
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or 5432),
        "CONN_MAX_AGE": 0,
        "OPTIONS": {"application_name": PG_APPLICATION_NAME, "connect_timeout": 3},
    }


def lark_settings(**extra: Any) -> dict[str, Any]:
    """``LARK_EVENTS`` configured like the receiver of the request vectors."""
    rec = receiver()
    return {
        "ENCRYPT_KEY": rec["encrypt_key"],
        "VERIFICATION_TOKEN": rec["verification_token"],
        "HANDLERS": ["tests.integrations.django.handlers"],
        **extra,
    }


def _middleware() -> list[str]:
    middleware = [
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ]
    if django.VERSION >= (5, 1):  # every view needs a login unless marked login_not_required
        middleware.append("django.contrib.auth.middleware.LoginRequiredMiddleware")
    return middleware


TEST_SETTINGS: dict[str, Any] = {
    "DEBUG": False,
    "SECRET_KEY": "lark-events-django-tests",
    "ALLOWED_HOSTS": ["testserver", "127.0.0.1", "localhost"],
    "ROOT_URLCONF": "tests.integrations.django.urls",
    "INSTALLED_APPS": [
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "lark_events_django",
    ],
    "MIDDLEWARE": _middleware(),
    "SESSION_ENGINE": "django.contrib.sessions.backends.signed_cookies",
    "DATABASES": {"default": _database(os.environ.get("DATABASE_URL") or DEFAULTS["DATABASE_URL"])},
    "USE_TZ": True,
    "LARK_EVENTS": lark_settings(),
}

if not settings.configured:
    settings.configure(**TEST_SETTINGS)
    django.setup()


@pytest.fixture(autouse=True)
def django_settings() -> Iterator[None]:
    """These tests' settings, whoever configured Django; a fresh default dispatcher each test."""
    from lark_events_django import reset

    from .handlers import CALLS

    # Apps and databases are set up once per process; overriding them mid-run is unsupported.
    overrides = {k: v for k, v in TEST_SETTINGS.items() if k not in ("INSTALLED_APPS", "DATABASES")}
    with override_settings(**overrides):
        reset()
        CALLS.clear()
        yield
    reset()
