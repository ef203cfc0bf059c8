"""Handlers that use the database leave no connection open, under WSGI and ASGI, inline,
as callbacks, deferred or late.

Each request goes through Django's real handlers (``WSGIHandler``, ``ASGIHandler``). Every handler
query records its PostgreSQL backend pid; ``pg_stat_activity`` then tells whether that backend
is still connected. The ``core-*`` controls call the core without the adapter and do leak, which
shows that the assertions can fail.
"""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.conf import settings
from msgspec.structs import replace

from lark_events_core.testing import make_event, sign_event
from tests.support.services import service_url

from . import dbviews
from .client import asgi_request_async, wsgi_request
from .conftest import PG_APPLICATION_NAME, lark_settings

pytestmark = pytest.mark.services
REQUESTS = 5
Admin = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture(scope="module")
def admin() -> Iterator[Admin]:
    """A connection of our own that watches (and at the end ends) the handlers' backends."""
    url = service_url("DATABASE_URL")
    assert settings.DATABASES["default"]["OPTIONS"]["application_name"] == PG_APPLICATION_NAME
    with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
        yield conn
        conn.execute(  # the controls' leaked connections
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (PG_APPLICATION_NAME,),
        )
    # The controls' leaked connection objects: collected here, not inside a later module's
    # check for unclosed resources.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.fixture
def pg(admin: Admin) -> Admin:
    dbviews.QUERIES.clear()
    return admin


def still_connected(admin: Admin, pids: list[int], expect_none: bool = False) -> set[int]:
    """Which of ``pids`` are connected; when ``expect_none``, wait (briefly) for them to go."""
    deadline = time.monotonic() + 3.0
    while True:
        rows = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", (list(set(pids)),)
        ).fetchall()
        alive = {int(row[0]) for row in rows}
        if not alive or not expect_none or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def _request(scenario: dbviews.Scenario, i: int) -> tuple[bytes, dict[str, str]]:
    rec = lark_settings()
    body = make_event(scenario.event_type, token=rec["VERIFICATION_TOKEN"], event_id=f"db-{i}")
    req = sign_event(body, encrypt_key=rec["ENCRYPT_KEY"])
    return req.body, req.headers


async def _wait_for_queries(count: int) -> None:
    for _ in range(200):  # deferred and late handlers finish after the answer
        if len(dbviews.QUERIES) >= count:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"{len(dbviews.QUERIES)} of {count} handlers ran")


def connected_after_requests(kind: str, name: str, admin: Admin) -> set[int]:
    """Send the scenario's requests through Django's real handler; the handlers' backends that
    are still connected afterwards.

    ASGI scenarios look inside the still-running loop: background work and the threads it used
    are still alive there, as they are in a server.
    """
    scenario = dbviews.SCENARIOS[name]
    path = f"/db/{kind}/{name}"
    expect_none = kind == "adapter"
    if not scenario.asgi:
        for i in range(REQUESTS):
            body, headers = _request(scenario, i)
            assert wsgi_request(path, body, headers)[0] == 200
        asyncio.run(_wait_for_queries(REQUESTS))
        return still_connected(admin, dbviews.QUERIES, expect_none)

    async def go() -> set[int]:
        for i in range(REQUESTS):
            body, headers = _request(scenario, i)
            raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
            raw.append((b"content-length", str(len(body)).encode()))
            assert (await asgi_request_async(path, body, raw))[0] == 200
        await _wait_for_queries(REQUESTS)
        return await asyncio.to_thread(still_connected, admin, dbviews.QUERIES, expect_none)

    return asyncio.run(go())


@pytest.mark.parametrize("name", sorted(dbviews.SCENARIOS))
def test_handlers_database_connections_are_closed(name: str, pg: Admin) -> None:
    assert connected_after_requests("adapter", name, pg) == set()
    assert len(dbviews.QUERIES) == REQUESTS  # the handlers really used the database


LEAKING_WITHOUT_THE_ADAPTER = [
    "asgi-sync-inline",  # the core's default thread pool
    "asgi-sync-deferred",  # the same, from the background task
    "asgi-async-deferred",  # a task that outlives the request's thread-sensitive context
    "asgi-async-late-callback",  # likewise
    "wsgi-async-inline",  # the core's background event loop
    "wsgi-sync-callback",  # the callback deadline pool
    "wsgi-sync-deferred",  # the background thread pool
    "wsgi-async-deferred",
]


@pytest.mark.parametrize("name", LEAKING_WITHOUT_THE_ADAPTER)
def test_without_the_adapter_the_same_handlers_leak_connections(name: str, pg: Admin) -> None:
    assert connected_after_requests("core", name, pg)
    assert len(dbviews.QUERIES) == REQUESTS


def test_a_handler_in_the_request_thread_stays_inside_atomic_requests(
    pg: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import connection

    seen: list[bool] = []
    scenario = dbviews.SCENARIOS["wsgi-sync-inline"]
    handler = scenario.dispatcher.handler_for(dbviews.MESSAGE)
    assert handler is not None

    def in_transaction(event: Any) -> None:
        seen.append(connection.in_atomic_block)
        dbviews.query()

    handlers = {dbviews.MESSAGE: replace(handler, fn=in_transaction)}
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    monkeypatch.setattr(scenario.dispatcher, "_handlers", handlers)
    body, headers = _request(scenario, 0)
    assert wsgi_request("/db/adapter/wsgi-sync-inline", body, headers)[0] == 200
    assert seen == [True]  # inside the request's transaction, and not closed under it
    assert still_connected(pg, dbviews.QUERIES, expect_none=True) == set()


@pytest.mark.parametrize("wrapped", [True, False], ids=["closing_old_connections", "bare"])
def test_closing_old_connections_closes_a_worker_threads_connection(
    wrapped: bool, pg: Admin
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from lark_events_django import closing_old_connections

    work = closing_old_connections(dbviews.query) if wrapped else dbviews.query
    with ThreadPoolExecutor(1) as pool:  # the worker thread outlives the work, as in a pool
        pool.submit(work).result()
        assert len(dbviews.QUERIES) == 1
        alive = still_connected(pg, dbviews.QUERIES, expect_none=wrapped)
        assert alive == (set() if wrapped else set(dbviews.QUERIES))
