"""Every request vector through Django's real test clients, sync (WSGI) and async (ASGI) views."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.http import HttpResponse

from tests.support.vectors import core_answer

from .client import apost, post
from .handlers import CALLS

HANDLED = ("v2-event-ok", "v2-event-lowercase-headers")


def _check(response: HttpResponse, vector: dict[str, Any]) -> None:
    assert response.status_code == vector["expect_status"]
    assert response["Content-Type"] == "application/json; charset=utf-8"
    body = json.loads(response.content)
    assert isinstance(body, dict)
    if "expect_json" in vector:
        assert body == vector["expect_json"]
    assert (response.status_code, body) == core_answer(vector)  # the message too
    expected = 1 if vector["name"] in HANDLED else 0
    assert [c[0] for c in CALLS] == ["im.message.receive_v1"] * expected


@pytest.mark.parametrize("path", ["/sync/event", "/webhook/event"])
def test_vector_through_the_sync_view(request_vector: dict[str, Any], path: str) -> None:
    response = post(path, request_vector["body"].encode(), request_vector["headers"])
    _check(response, request_vector)


def test_vector_through_the_async_view(request_vector: dict[str, Any]) -> None:
    response = apost("/async/event", request_vector["body"].encode(), request_vector["headers"])
    _check(response, request_vector)
