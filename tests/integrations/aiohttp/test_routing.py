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
