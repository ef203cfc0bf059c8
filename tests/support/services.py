"""Services the tests need (Redis, RabbitMQ): found through the environment, or skipped loudly.

``LARK_EVENTS_REQUIRE_SERVICES=1`` (set by ``.ci/run``) turns every such skip into a failure, so
CI can never go green by skipping the tests that need a real Redis or broker.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

DEFAULTS = {
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test",
}


def services_required() -> bool:
    """Whether a missing service must fail the test instead of skipping it."""
    return os.environ.get("LARK_EVENTS_REQUIRE_SERVICES") == "1"


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    port = parts.port or {"redis": 6379, "amqp": 5672}.get(parts.scheme, 0)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def service_url(env_var: str) -> str:
    """The URL of a service, from ``env_var`` or its local default; skip (or fail) when down."""
    url = os.environ.get(env_var) or DEFAULTS[env_var]
    if _reachable(url):
        return url
    reason = f"{env_var} service not reachable at {urlsplit(url).hostname}:{urlsplit(url).port}"
    if services_required():
        pytest.fail(f"{reason}, and LARK_EVENTS_REQUIRE_SERVICES=1 requires it")
    pytest.skip(f"{reason}; set {env_var} to run this test")
