"""The generic ASGI app under a real uvicorn process, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import requests

from lark_events_core.testing import make_challenge, make_event, make_v1_event, sign_event
from tests.support.servers import Server, handled_count, run_server

pytestmark = pytest.mark.e2e

KEY = "uvicorn_e2e_key"
TOKEN = "uvicorn_e2e_token"
ENV = {"LARK_ENCRYPT_KEY": KEY, "LARK_VERIFICATION_TOKEN": TOKEN}
ARGV = [
    sys.executable,
    "-m",
    "uvicorn",
    "tests.integrations.asgi.served_app:app",
    "--host",
    "127.0.0.1",
    "--port",
    "{port}",
    "--no-access-log",
]
JSON = "application/json; charset=utf-8"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with run_server(ARGV, env=ENV) as srv:
        yield srv
    assert KEY not in srv.log()
    assert TOKEN not in srv.log()


def message(event_id: str) -> Any:
    event = make_event("im.message.receive_v1", {"message": {}}, token=TOKEN, event_id=event_id)
    return sign_event(event, encrypt_key=KEY)


def post(server: Server, body: bytes, headers: dict[str, str] | None = None) -> Any:
    resp = requests.post(server.url + "/webhook/event", data=body, headers=headers, timeout=10)
    assert resp.headers["content-type"] == JSON
    return resp


def test_challenge_event_callback_and_duplicates(server: Server) -> None:
    challenge = sign_event(make_challenge("uv-c", token=TOKEN), encrypt_key=KEY, sign=False)
    assert post(server, challenge.body, challenge.headers).json() == {"challenge": "uv-c"}
    event_id = uuid.uuid4().hex
    req = message(event_id)
    for _ in range(2):
        resp = post(server, req.body, req.headers)
        assert (resp.status_code, resp.json()) == (200, {"msg": "success"})
    assert handled_count(server, "im.message.receive_v1", event_id) == 1
    click = sign_event(make_event("card.action.trigger", {}, token=TOKEN), encrypt_key=KEY)
    assert post(server, click.body, click.headers).json() == {
        "toast": {"type": "info", "content": "clicked"}
    }


def test_bad_requests_get_json_errors(server: Server) -> None:
    event_id = uuid.uuid4().hex
    req = message(event_id)
    assert post(server, req.body, {**req.headers, "X-Lark-Signature": "0" * 64}).status_code == 401
    assert post(server, b"garbage", {}).status_code == 400
    assert post(server, b"{" + b" " * (1024 * 1024) + b"}").status_code == 413
    assert handled_count(server, "im.message.receive_v1", event_id) == 0

    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b" " * 65536

    resp = requests.post(server.url + "/webhook/event", data=chunks(), timeout=10)
    assert (resp.status_code, resp.json()) == (413, {"msg": "request body too large"})
    resp = requests.get(server.url + "/webhook/event", timeout=10)
    assert (resp.status_code, resp.headers["allow"]) == (405, "POST")
    resp = requests.post(server.url + "/elsewhere", data=b"{}", timeout=10)
    assert (resp.status_code, resp.json()) == (404, {"msg": "not found"})


def test_a_huge_content_length_is_refused_before_the_body_is_sent(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /webhook/event HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n{"
        )
        raw = b""
        while not raw.rstrip().endswith(b"}"):
            chunk = sock.recv(4096)  # times out (fails) if the server waits for the body
            if not chunk:
                break
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(body) == {"msg": "request body too large"}


async def _load(url: str, reqs: list[Any], concurrency: int) -> list[tuple[int, bytes]]:
    pending = list(reversed(reqs))
    results: list[tuple[int, bytes]] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=30)
    ) as session:

        async def worker() -> None:
            while pending:
                req = pending.pop()
                async with session.post(url, data=req.body, headers=req.headers) as resp:
                    results.append((resp.status, await resp.read()))

        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), 150)
    return results


@pytest.mark.slow
def test_2000_requests_from_32_concurrent_clients(server: Server) -> None:
    prefix = f"uvload-{uuid.uuid4().hex[:8]}"
    reqs = [message(f"{prefix}-{i}") for i in range(2000)]
    results = asyncio.run(_load(server.url + "/webhook/event", reqs, 32))
    assert len(results) == 2000
    assert [r for r in results if r != (200, b'{"msg":"success"}')] == []
    seen = {
        row.rsplit("event_id=", 1)[1]
        for row in server.log().splitlines()
        if f"event_id={prefix}-" in row
    }
    assert seen == {f"{prefix}-{i}" for i in range(2000)}


def test_sigterm_drains_deferred_handlers_through_the_lifespan() -> None:
    event_id = uuid.uuid4().hex
    req = sign_event(
        make_v1_event("message", {}, token=TOKEN, event_uuid=event_id), encrypt_key=KEY
    )
    with run_server(ARGV, env=ENV) as srv:
        resp = post(srv, req.body, req.headers)
        assert (resp.status_code, resp.json()) == (200, {"msg": "success"})
        assert handled_count(srv, "message", event_id) == 0  # the handler sleeps 1 s first
        srv.proc.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal after its graceful shutdown: -SIGTERM is a clean exit.
        assert srv.proc.wait(timeout=15) in (0, -signal.SIGTERM)
    assert handled_count(srv, "message", event_id) == 1
    assert "Application shutdown complete" in srv.log()
