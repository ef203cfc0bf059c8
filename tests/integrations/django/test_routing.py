"""Routes, the catch-all and middleware through Django's test clients (sync and async views)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("django", reason="the Django adapter needs the 'django' extra")

from django.test import AsyncClient, Client
from django.test.utils import override_settings
from django.urls import path as url
from lark_events_django.views import make_async_view, make_sync_view

from lark_events_core.testing import SignedRequest
from tests.support.routing_app import CASES, build

SEEN: list[str] = []
DISPATCHER = build(SEEN)
urlpatterns = [
    url("sync/event", make_sync_view(DISPATCHER)),
    url("sync/card", make_sync_view(DISPATCHER, card=True)),
    url("async/event", make_async_view(DISPATCHER)),
    url("async/card", make_async_view(DISPATCHER, card=True)),
]


def _headers(req: SignedRequest) -> dict[str, Any]:
    return {k: v for k, v in req.headers.items() if k.lower() != "content-type"}


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(("name", "request_of", "path", "answer", "calls"), CASES)
@override_settings(ROOT_URLCONF=__name__)
def test_route_answer_and_calls(
    mode: str,
    name: str,
    request_of: Callable[[], SignedRequest],
    path: str,
    answer: str,
    calls: list[str],
) -> None:
    SEEN.clear()
    req = request_of()
    target = f"/{mode}/{path}"
    if mode == "sync":
        response = Client().post(
            target, req.body, content_type="application/json", headers=_headers(req)
        )
    else:
        response = asyncio.run(
            AsyncClient().post(
                target, req.body, content_type="application/json", headers=_headers(req)
            )
        )
    assert response.status_code == 200
    assert answer in response.content.decode()
    assert calls == SEEN
