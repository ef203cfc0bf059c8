"""Routes, the catch-all and middleware through aiohttp's test client on a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

pytest.importorskip("aiohttp", reason="the aiohttp adapter needs the 'aiohttp' extra")

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from lark_events_aiohttp import setup

from lark_events_core.testing import SignedRequest
from tests.support.routing_app import CASES, build


@pytest.mark.parametrize(("name", "request_of", "path", "answer", "calls"), CASES)
def test_route_answer_and_calls(
    name: str, request_of: Callable[[], SignedRequest], path: str, answer: str, calls: list[str]
) -> None:
    seen: list[str] = []

    async def main() -> tuple[int, str]:
        app = web.Application()
        setup(app, build(seen))
        req = request_of()
        async with TestClient(TestServer(app)) as client:
            response = await client.post(f"/webhook/{path}", data=req.body, headers=req.headers)
            return response.status, await response.text()

    status, text = asyncio.run(main())
    assert status == 200
    assert answer in text
    assert seen == calls


def test_the_sample_routes_help_and_one_handler_per_button(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.routing_app import KEY, TOKEN, card, message

    monkeypatch.setenv("LARK_ENCRYPT_KEY", KEY)
    monkeypatch.setenv("LARK_VERIFICATION_TOKEN", TOKEN)
    from sample_projects.aiohttp_echo.app import build_dispatcher

    async def main() -> list[str]:
        app = web.Application()
        setup(app, build_dispatcher())
        texts = []
        async with TestClient(TestServer(app)) as client:
            for req in (card("approve"), card("reject"), card("other"), message("/help")):
                response = await client.post("/webhook/event", data=req.body, headers=req.headers)
                assert response.status == 200
                texts.append(await response.text())
        return texts

    approve, reject, other, help_ = asyncio.run(main())
    assert "Approved" in approve
    assert "Rejected" in reject
    assert "Received" in other
    assert "success" in help_
