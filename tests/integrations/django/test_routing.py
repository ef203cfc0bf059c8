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


def test_configure_adds_routes_to_the_settings_driven_dispatcher() -> None:
    import json

    import lark_events_django
    from lark_events_django import conf

    from lark_events_core import Dispatcher, Event
    from lark_events_core.testing import make_event, sign_event
    from tests.support.vectors import receiver

    rec = receiver()

    def add_routes(dispatcher: Dispatcher) -> None:
        @dispatcher.action({"action": "approve"})
        def approve(event: Event[Any]) -> Any:
            return {"toast": {"type": "success", "content": "Approved by route"}}

    lark_events_django.configure(add_routes)
    try:
        body = {"operator": {"open_id": "ou_d"}, "token": "c-d",
                "action": {"value": {"action": "approve"}, "tag": "button"}}  # fmt: skip
        payload = make_event("card.action.trigger", body, token=rec["verification_token"])
        req = sign_event(payload, encrypt_key=rec["encrypt_key"])
        response = Client().post(
            "/webhook/event", req.body, content_type="application/json", headers=_headers(req)
        )
        assert response.status_code == 200
        assert json.loads(response.content)["toast"]["content"] == "Approved by route"
    finally:
        conf._configurers.remove(add_routes)
        lark_events_django.reset()
