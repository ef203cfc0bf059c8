"""sample_projects/aiohttp_echo as a real process on aiohttp's runner, driven over real HTTP."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import requests

from lark_events_core.testing import (
    SignedRequest,
    make_challenge,
    make_event,
    make_legacy_card,
    make_v1_event,
    sign_event,
    sign_legacy_card,
)
from tests.support.servers import (
    ROOT,
    VENV_BIN,
    Server,
    handled_count,
    run_server,
    text_message_request,
)

pytestmark = pytest.mark.e2e

KEY = "e2e_aiohttp_encrypt_key"
TOKEN = "e2e_aiohttp_verification_token"
APP = str(ROOT / "sample_projects" / "aiohttp_echo" / "app.py")
ENV = {"LARK_ENCRYPT_KEY": KEY, "LARK_VERIFICATION_TOKEN": TOKEN, "HOST": "127.0.0.1"}
JSON = "application/json; charset=utf-8"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with run_server([sys.executable, APP], env=ENV) as srv:
        yield srv
    log = srv.log()
    assert KEY not in log
    assert TOKEN not in log


def post(server: Server, body: bytes, headers: dict[str, str], path: str = "/webhook/event") -> Any:
    resp = requests.post(server.url + path, data=body, headers=headers, timeout=10)
    assert resp.headers["Content-Type"] == JSON
    return resp


def message_request(event_id: str, text: str = "hello") -> SignedRequest:
    return text_message_request(event_id, encrypt_key=KEY, token=TOKEN, text=text)


# -- URL verification ------------------------------------------------------------------------------


def test_url_verification_plain_and_encrypted(server: Server) -> None:
    plain = sign_event(make_challenge("plain-c", token=TOKEN))  # no key: plain and unsigned
    resp = post(server, plain.body, plain.headers)
    assert (resp.status_code, resp.json()) == (200, {"challenge": "plain-c"})
    encrypted = sign_event(make_challenge("enc-c", token=TOKEN), encrypt_key=KEY, sign=False)
    assert b"encrypt" in encrypted.body
    resp = post(server, encrypted.body, encrypted.headers)
    assert (resp.status_code, resp.json()) == (200, {"challenge": "enc-c"})
    wrong = sign_event(make_challenge("bad-c", token="not-the-token"))
    assert post(server, wrong.body, wrong.headers).status_code == 401


# -- events ----------------------------------------------------------------------------------------


def test_encrypted_signed_event_runs_the_handler_exactly_once(server: Server) -> None:
    event_id = f"e2e-{uuid.uuid4().hex}"
    req = message_request(event_id, text="quiet words")
    resp = post(server, req.body, req.headers)
    assert (resp.status_code, resp.json()) == (200, {"msg": "success"})
    assert handled_count(server, "im.message.receive_v1", event_id) == 1
    assert f"echo message_id=om_{event_id} chars=11" in server.log()  # the length, not the text
    assert "quiet words" not in server.log()
    # The platform re-pushes: acknowledged, not handled again.
    again = sign_event(json.loads(json.dumps(make_event_from(req))), encrypt_key=KEY)
    assert post(server, again.body, again.headers).status_code == 200
    assert handled_count(server, "im.message.receive_v1", event_id) == 1


def make_event_from(req: Any) -> dict[str, Any]:
    """The plaintext of an encrypted request (re-encrypted with a fresh IV by the caller)."""
    from lark_events_core import decrypt

    plaintext: dict[str, Any] = json.loads(decrypt(json.loads(req.body)["encrypt"], KEY))
    return plaintext


def test_v1_events_with_an_async_and_a_sync_handler(server: Server) -> None:
    msg_id, ticket_id = uuid.uuid4().hex, uuid.uuid4().hex
    v1_message = make_v1_event(
        "message", {"text": "v1 hello", "open_message_id": "om_v1"}, token=TOKEN, event_uuid=msg_id
    )
    ticket = make_v1_event(
        "app_ticket", {"app_ticket": "very-secret-ticket"}, token=TOKEN, event_uuid=ticket_id
    )
    for body in (v1_message, ticket):
        req = sign_event(body, encrypt_key=KEY)
        resp = post(server, req.body, req.headers)
        assert (resp.status_code, resp.json()) == (200, {"msg": "success"})
    assert handled_count(server, "message", msg_id) == 1
    assert handled_count(server, "app_ticket", ticket_id) == 1
    assert "very-secret-ticket" not in server.log()


def test_card_action_callback_answers_a_toast(server: Server) -> None:
    event_id = uuid.uuid4().hex
    req = sign_event(
        make_event(
            "card.action.trigger", {"action": {"value": "ok"}}, token=TOKEN, event_id=event_id
        ),
        encrypt_key=KEY,
    )
    resp = post(server, req.body, req.headers)
    assert resp.status_code == 200
    assert resp.json()["toast"]["type"] == "success"
    assert resp.json()["toast"]["content"] == "Received 'ok'"
    assert handled_count(server, "card.action.trigger", event_id) == 1


def test_legacy_card_callback_on_the_card_url(server: Server) -> None:
    before = server.log().count("handled event_type=legacy")
    req = sign_legacy_card(make_legacy_card(), verification_token=TOKEN)
    resp = post(server, req.body, req.headers, path="/webhook/card")
    assert (resp.status_code, resp.json()) == (200, {})
    after = server.log().count("handled event_type=legacy")
    assert after == before + 1
    bad = {**req.headers, "X-Lark-Signature": "0" * 40}
    assert post(server, req.body, bad, path="/webhook/card").status_code == 401
    assert server.log().count("handled event_type=legacy") == after


# -- bad requests ----------------------------------------------------------------------------------


def test_bad_and_missing_signatures_are_401_and_run_nothing(server: Server) -> None:
    event_id = uuid.uuid4().hex
    req = message_request(event_id)
    bad = {**req.headers, "X-Lark-Signature": "0" * 64}
    resp = post(server, req.body, bad)
    assert resp.status_code == 401
    assert set(resp.json()) == {"msg"}
    unsigned = {"Content-Type": "application/json"}
    assert post(server, req.body, unsigned).status_code == 401
    tampered = req.body.replace(b'"}', b' "}')
    assert post(server, tampered, req.headers).status_code == 401
    assert handled_count(server, "im.message.receive_v1", event_id) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"[1,2,3]",
        b'{"encrypt":"%%%not-base64%%%"}',
        b'{"encrypt":"AAAA"}',
        b"\xff\xfe",
    ],
    ids=["not-json", "empty", "array", "bad-base64", "short-ciphertext", "not-utf8"],
)
def test_garbage_bodies_are_a_json_400(server: Server, body: bytes) -> None:
    req = sign_event(body, encrypt_key=KEY, encrypt=False)  # correctly signed garbage
    resp = post(server, req.body, req.headers)
    assert resp.status_code == 400
    assert set(resp.json()) == {"msg"}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_wrong_methods_are_a_json_405(server: Server, method: str) -> None:
    resp = requests.request(method, server.url + "/webhook/event", data=b"{}", timeout=10)
    assert resp.status_code == 405
    assert resp.headers["Content-Type"] == JSON
    assert resp.headers["Allow"] == "POST"
    assert resp.json() == {"msg": "method not allowed"}


def test_oversized_body_is_a_json_413(server: Server) -> None:
    resp = post(server, b"{" + b" " * (1024 * 1024) + b"}", {"Content-Type": "application/json"})
    assert (resp.status_code, resp.json()) == (413, {"msg": "request body too large"})


def test_oversized_chunked_body_is_a_json_413(server: Server) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b" " * 65536  # 2.5 MiB in all, no Content-Length

    resp = requests.post(server.url + "/webhook/event", data=chunks(), timeout=10)
    assert resp.request.headers.get("Transfer-Encoding") == "chunked"
    assert (resp.status_code, resp.json()) == (413, {"msg": "request body too large"})


def test_a_huge_content_length_is_refused_before_the_body_is_sent(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /webhook/event HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000000\r\n\r\n{"
        )
        raw = b""
        while b"\r\n\r\n" not in raw or not raw.rstrip().endswith(b"}"):
            chunk = sock.recv(4096)  # times out (fails) if the server waits for the body
            if not chunk:
                break
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(body) == {"msg": "request body too large"}


def test_unknown_path_is_404(server: Server) -> None:
    resp = requests.post(server.url + "/webhook/nothing", data=b"{}", timeout=10)
    assert resp.status_code == 404


# -- concurrency -----------------------------------------------------------------------------------


async def _load(url: str, bodies: list[Any], concurrency: int) -> list[tuple[int, bytes]]:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)
    results: list[tuple[int, bytes]] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            while not queue.empty():
                req = queue.get_nowait()
                async with session.post(url, data=req.body, headers=req.headers) as resp:
                    results.append((resp.status, await resp.read()))

        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), 150)
    return results


@pytest.mark.slow
def test_2000_requests_from_32_concurrent_clients_all_handled(server: Server) -> None:
    prefix = f"load-{uuid.uuid4().hex[:8]}"
    reqs = [message_request(f"{prefix}-{i}") for i in range(2000)]
    started = time.monotonic()
    results = asyncio.run(_load(server.url + "/webhook/event", reqs, 32))
    elapsed = time.monotonic() - started
    assert len(results) == 2000
    errors = [r for r in results if r != (200, b'{"msg":"success"}')]
    assert errors == []
    pattern = re.compile(rf"handled event_type=im\.message\.receive_v1 event_id=({prefix}-\d+)$")
    seen = [m.group(1) for row in server.log().splitlines() if (m := pattern.search(row))]
    assert len(seen) == 2000
    assert len(set(seen)) == 2000
    print(f"2000 requests, 32 clients: {2000 / elapsed:.0f} req/s")


# -- shutdown --------------------------------------------------------------------------------------


def test_sigterm_stops_the_server_cleanly() -> None:
    with run_server([sys.executable, APP], env=ENV) as srv:
        req = message_request(uuid.uuid4().hex)
        assert post(srv, req.body, req.headers).status_code == 200
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(timeout=15) == 0
    assert "Traceback" not in srv.log()


def test_the_sample_also_runs_under_aiohttps_command_line() -> None:
    argv = [sys.executable, "-m", "aiohttp.web", "-H", "127.0.0.1", "-P", "{port}"]
    argv.append("sample_projects.aiohttp_echo.app:create_app")
    with run_server(argv, env=ENV, cwd=ROOT) as srv:
        event_id = uuid.uuid4().hex
        req = message_request(event_id)
        resp = post(srv, req.body, req.headers)
        assert (resp.status_code, resp.json()) == (200, {"msg": "success"})
        assert handled_count(srv, "im.message.receive_v1", event_id) == 1


def test_the_sample_also_runs_under_gunicorns_aiohttp_worker() -> None:
    argv = [str(VENV_BIN / "gunicorn"), "-k", "aiohttp.GunicornWebWorker", "-w", "2"]
    argv += ["-b", "127.0.0.1:{port}", "sample_projects.aiohttp_echo.app:create_app()"]
    with run_server(argv, env=ENV, cwd=ROOT) as srv:
        ids = [uuid.uuid4().hex for _ in range(4)]
        for event_id in ids:
            req = message_request(event_id)
            resp = post(srv, req.body, req.headers)
            assert (resp.status_code, resp.json()) == (200, {"msg": "success"})
        assert post(srv, b"", {}).json() == {"msg": "empty body"}
        assert all(handled_count(srv, "im.message.receive_v1", i) == 1 for i in ids)
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(timeout=30) == 0
    log = srv.log()
    assert "Traceback" not in log
    assert KEY not in log
    assert TOKEN not in log
