"""Handlers that use the database leave no connection open, under WSGI and ASGI.

Each request goes through Django's real handlers (``WSGIHandler``, ``ASGIHandler``), whose
``request_finished`` closes the request's connections. PostgreSQL's ``pg_stat_activity`` counts
what is really still open. The controls call the core without the adapter and do leak, which
shows that the assertions can fail.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from django.conf import settings

from lark_events_core.testing import make_event, sign_event
from tests.support.services import service_url

from . import dbviews
from .client import asgi_request, wsgi_request
from .conftest import PG_APPLICATION_NAME, lark_settings

pytestmark = pytest.mark.services
REQUESTS = 5


@pytest.fixture
def pg() -> Iterator[psycopg.Connection[tuple[int]]]:
    """An admin connection that counts (and afterwards ends) this process's Django connections."""
    url = service_url("DATABASE_URL")
    assert settings.DATABASES["default"]["OPTIONS"]["application_name"] == PG_APPLICATION_NAME
    with psycopg.connect(url, autocommit=True, connect_timeout=3) as admin:
        _terminate(admin)
        dbviews.QUERIES.clear()
        yield admin
        _terminate(admin)


def _terminate(admin: psycopg.Connection[tuple[int]]) -> None:
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
        (PG_APPLICATION_NAME,),
    )
    _open_connections(admin, expect_zero=True)


def _open_connections(admin: psycopg.Connection[tuple[int]], expect_zero: bool = False) -> int:
    """Backends of this process; when ``expect_zero``, wait (briefly) for closing ones to go."""
    deadline = time.monotonic() + 3.0
    while True:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            (PG_APPLICATION_NAME,),
        ).fetchone()
        count = int(row[0]) if row else 0
        if count == 0 or not expect_zero or time.monotonic() > deadline:
            return count
        time.sleep(0.05)


def _send(name: str, i: int) -> int:
    rec = lark_settings()
    body = make_event("im.message.receive_v1", token=rec["VERIFICATION_TOKEN"], event_id=f"db-{i}")
    req = sign_event(body, encrypt_key=rec["ENCRYPT_KEY"])
    path = f"/db/{name}"
    if "asgi" in name:
        headers = [(k.lower().encode(), v.encode()) for k, v in req.headers.items()]
        headers.append((b"content-length", str(len(req.body)).encode()))
        return asgi_request(path, req.body, headers)[0]
    return wsgi_request(path, req.body, req.headers)[0]


@pytest.mark.parametrize(
    "name",
    [
        "adapter-asgi-sync-handler",
        "adapter-asgi-async-handler",
        "adapter-wsgi-sync-handler",
        "adapter-wsgi-async-handler",
    ],
)
def test_handlers_database_connections_are_closed_after_each_request(
    name: str, pg: psycopg.Connection[tuple[int]]
) -> None:
    for i in range(REQUESTS):
        assert _send(name, i) == 200
    assert dbviews.QUERIES == ["(1,)"] * REQUESTS  # the handlers really used the database
    assert _open_connections(pg, expect_zero=True) == 0


@pytest.mark.parametrize("name", ["core-asgi-sync-handler", "core-wsgi-async-handler"])
def test_without_the_adapter_the_same_handlers_leak_connections(
    name: str, pg: psycopg.Connection[tuple[int]]
) -> None:
    for i in range(REQUESTS):
        assert _send(name, i) == 200
    assert dbviews.QUERIES == ["(1,)"] * REQUESTS
    time.sleep(0.3)
    assert _open_connections(pg) >= 1


@pytest.mark.parametrize("wrapped", [True, False], ids=["closing_old_connections", "bare"])
def test_closing_old_connections_closes_a_worker_threads_connection(
    wrapped: bool, pg: psycopg.Connection[tuple[int]]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from lark_events_django import closing_old_connections

    work = closing_old_connections(dbviews._query) if wrapped else dbviews._query
    with ThreadPoolExecutor(1) as pool:  # the worker thread outlives the work, as in a pool
        pool.submit(work).result()
        assert dbviews.QUERIES == ["(1,)"]
        assert _open_connections(pg, expect_zero=wrapped) == (0 if wrapped else 1)
