"""sample_projects/flask_echo as real processes (gunicorn, and Flask's dev server), real HTTP."""

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
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
import pytest
import redis
import requests

from lark_events_core import decrypt
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
from tests.support.services import service_url

pytestmark = pytest.mark.e2e

KEY = "e2e_flask_encrypt_key"
TOKEN = "e2e_flask_verification_token"
APP = str(ROOT / "sample_projects" / "flask_echo" / "app.py")
ENV = {"LARK_ENCRYPT_KEY": KEY, "LARK_VERIFICATION_TOKEN": TOKEN, "HOST": "127.0.0.1"}
JSON = "application/json; charset=utf-8"
#: The sample as a user runs it in production: two worker processes with four threads each.
GUNICORN = [
    str(VENV_BIN / "gunicorn"),
    "-w",
    "2",
    "--threads",
    "4",
    "-b",
    "127.0.0.1:{port}",
    "--graceful-timeout",
    "10",
    "sample_projects.flask_echo.app:app",
]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """flask_echo under gunicorn -w 2, deduplicating through a real Redis (a fresh key prefix)."""
    redis_url = service_url("REDIS_URL")
    prefix = f"lark-e2e-flask:{uuid.uuid4().hex}:"
    env = {**ENV, "LARK_REDIS_URL": redis_url, "LARK_REDIS_PREFIX": prefix}
    try:
        with run_server(GUNICORN, env=env) as srv:
            yield srv
        log = srv.log()
        assert KEY not in log
        assert TOKEN not in log
        assert "Traceback" not in log
    finally:
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


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
    encrypted = sign_event(make_challenge('enc"c', token=TOKEN), encrypt_key=KEY, sign=False)
    assert b"encrypt" in encrypted.body
    resp = post(server, encrypted.body, encrypted.headers)
    assert (resp.status_code, resp.json()) == (200, {"challenge": 'enc"c'})
    wrong = sign_event(make_challenge("bad-c", token="not-the-token"))
    resp = post(server, wrong.body, wrong.headers)
    assert resp.status_code == 401
    assert "bad-c" not in resp.text


# -- events ----------------------------------------------------------------------------------------


def _pids(server: Server, suffix: str) -> set[str]:
    """The worker pids that logged a line ending with ``suffix``."""
    return {
        m.group(1)
        for row in server.log().splitlines()
        if row.endswith(suffix) and (m := re.search(r"\[(\d+)\]", row))
    }


def test_encrypted_signed_event_runs_the_handler_exactly_once(server: Server) -> None:
    event_id = f"e2e-{uuid.uuid4().hex}"
    req = message_request(event_id, text="quiet words")
    resp = post(server, req.body, req.headers)
    assert (resp.status_code, resp.json()) == (200, {"msg": "success"})
    assert handled_count(server, "im.message.receive_v1", event_id) == 1
    assert f"echo message_id=om_{event_id} chars=11" in server.log()  # the length, not the text
    assert "quiet words" not in server.log()
    handler_pid = _pids(server, f"handled event_type=im.message.receive_v1 event_id={event_id}")
    # The platform re-pushes (fresh IV each time). Re-push in concurrent bursts until the other
    # worker process has received one too: the shared Redis store must stop it there as well.
    plaintext = decrypt(json.loads(req.body)["encrypt"], KEY)
    duplicate = f"duplicate of im.message.receive_v1 ignored (event_id={event_id})"
    with ThreadPoolExecutor(8) as pool:
        for _ in range(40):
            again = [sign_event(plaintext, encrypt_key=KEY) for _ in range(8)]
            answers = list(pool.map(lambda r: post(server, r.body, r.headers), again))
            assert all((a.status_code, a.json()) == (200, {"msg": "success"}) for a in answers)
            if _pids(server, duplicate) - handler_pid:
                break
    assert _pids(server, duplicate) - handler_pid, "no re-push reached the other worker"
    assert handled_count(server, "im.message.receive_v1", event_id) == 1


def test_v1_events_are_handled(server: Server) -> None:
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
    assert "echo v1 open_message_id=om_v1 chars=8" in server.log()
    assert "v1 hello" not in server.log()
    assert "very-secret-ticket" not in server.log()


def test_card_action_callback_answers_a_toast_from_an_async_handler(server: Server) -> None:
    event_id = uuid.uuid4().hex
    body = make_event(
        "card.action.trigger", {"action": {"value": "ok"}}, token=TOKEN, event_id=event_id
    )
    req = sign_event(body, encrypt_key=KEY)
    resp = post(server, req.body, req.headers)
    assert resp.status_code == 200
    assert resp.json()["toast"] == {
        "type": "success",
        "content": "Received 'ok'",
        "i18n": {"zh_cn": "已收到"},
    }
    assert handled_count(server, "card.action.trigger", event_id) == 1


def test_legacy_card_callback_on_the_card_url(server: Server) -> None:
    before = server.log().count("handled event_type=legacy_card")
    req = sign_legacy_card(make_legacy_card(), verification_token=TOKEN)
    resp = post(server, req.body, req.headers, path="/webhook/card")
    assert (resp.status_code, resp.json()) == (200, {})
    after = server.log().count("handled event_type=legacy_card")
    assert after == before + 1
    bad = {**req.headers, "X-Lark-Signature": "0" * 40}
    assert post(server, req.body, bad, path="/webhook/card").status_code == 401
    assert server.log().count("handled event_type=legacy_card") == after


# -- bad requests ----------------------------------------------------------------------------------


def test_bad_and_missing_signatures_are_401_and_run_nothing(server: Server) -> None:
    event_id = uuid.uuid4().hex
    req = message_request(event_id)
    bad = {**req.headers, "X-Lark-Signature": "0" * 64}
    resp = post(server, req.body, bad)
    assert resp.status_code == 401
    assert set(resp.json()) == {"msg"}
    assert post(server, req.body, {"Content-Type": "application/json"}).status_code == 401
    tampered = req.body.replace(b'"}', b' "}')
    assert post(server, tampered, req.headers).status_code == 401
    other_key = sign_event(
        json.loads(decrypt(json.loads(req.body)["encrypt"], KEY)), encrypt_key="x"
    )
    assert post(server, other_key.body, other_key.headers).status_code == 401
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
        b'{"schema":"2.0"}',
    ],
    ids=["not-json", "empty", "array", "bad-base64", "short-ciphertext", "not-utf8", "no-header"],
)
def test_garbage_bodies_are_a_json_400(server: Server, body: bytes) -> None:
    req = sign_event(body, encrypt_key=KEY, encrypt=False)  # correctly signed garbage
    resp = post(server, req.body, req.headers)
    assert resp.status_code == 400
    assert set(resp.json()) == {"msg"}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/webhook/event", "/webhook/card"])
def test_wrong_methods_are_a_json_405(server: Server, method: str, path: str) -> None:
    resp = requests.request(method, server.url + path, data=b"{}", timeout=10)
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

    try:
        resp = requests.post(server.url + "/webhook/event", data=chunks(), timeout=10)
    except requests.ConnectionError:  # pragma: no cover - the server may close mid-upload
        pytest.fail("the server closed the connection instead of answering 413")
    assert resp.request.headers.get("Transfer-Encoding") == "chunked"
    assert (resp.status_code, resp.json()) == (413, {"msg": "request body too large"})


def test_chunked_valid_event_is_handled(server: Server) -> None:
    event_id = uuid.uuid4().hex
    req = message_request(event_id)
    half = len(req.body) // 2
    resp = requests.post(
        server.url + "/webhook/event",
        data=iter([req.body[:half], req.body[half:]]),
        headers=req.headers,
        timeout=10,
    )
    assert resp.request.headers.get("Transfer-Encoding") == "chunked"
    assert (resp.status_code, resp.json()) == (200, {"msg": "success"})
    assert handled_count(server, "im.message.receive_v1", event_id) == 1


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


# -- concurrency -----------------------------------------------------------------------------------


async def _load(url: str, reqs: list[Any], concurrency: int) -> list[tuple[int, bytes]]:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for item in reqs:
        queue.put_nowait(item)
    results: list[tuple[int, bytes]] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            while not queue.empty():
                req = queue.get_nowait()
                try:
                    async with session.post(url, data=req.body, headers=req.headers) as resp:
                        results.append((resp.status, await resp.read()))
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    results.append((0, repr(exc).encode()))

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
    deadline = time.monotonic() + 5  # two processes append to one log file
    while True:
        seen = [m.group(1) for row in server.log().splitlines() if (m := pattern.search(row))]
        if len(seen) >= 2000 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(seen) == 2000
    assert set(seen) == {f"{prefix}-{i}" for i in range(2000)}
    print(f"2000 requests, 32 clients, gunicorn -w 2 --threads 4: {2000 / elapsed:.0f} req/s")


# -- the dev command and shutdown ------------------------------------------------------------------


def test_the_documented_dev_command_serves_and_stops_on_sigint() -> None:
    with run_server([sys.executable, APP], env=ENV) as srv:
        challenge = sign_event(make_challenge("dev-c", token=TOKEN), encrypt_key=KEY, sign=False)
        resp = post(srv, challenge.body, challenge.headers)
        assert (resp.status_code, resp.json()) == (200, {"challenge": "dev-c"})
        event_id = uuid.uuid4().hex
        req = message_request(event_id)
        assert post(srv, req.body, req.headers).status_code == 200
        assert handled_count(srv, "im.message.receive_v1", event_id) == 1
        srv.proc.send_signal(signal.SIGINT)
        srv.proc.wait(timeout=15)
    assert "Traceback" not in srv.log()
    assert KEY not in srv.log()


def test_gunicorn_stops_cleanly_on_sigterm() -> None:
    with run_server(GUNICORN, env=ENV) as srv:
        req = message_request(uuid.uuid4().hex)
        assert post(srv, req.body, req.headers).status_code == 200
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(timeout=20) == 0
    assert "Traceback" not in srv.log()


def _served(target: str) -> list[str]:
    return [
        str(VENV_BIN / "gunicorn"),
        "-w",
        "1",
        "--threads",
        "2",
        "-b",
        "127.0.0.1:{port}",
        f"tests.integrations.flask.served_app:{target}",
    ]


@pytest.mark.parametrize("target", ["app", "wsgi_app"], ids=["flask", "generic-wsgi"])
def test_deferred_work_is_drained_when_gunicorn_stops_the_worker(target: str) -> None:
    with run_server(_served(target), env=ENV) as srv:
        event_id = uuid.uuid4().hex
        req = sign_event(
            make_v1_event("message", {"text": "later"}, token=TOKEN, event_uuid=event_id),
            encrypt_key=KEY,
        )
        resp = post(srv, req.body, req.headers)
        assert (resp.status_code, resp.json()) == (200, {"msg": "success"})
        assert handled_count(srv, "message", event_id) == 0  # acknowledged before it ran
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(timeout=20) == 0
    assert handled_count(srv, "message", event_id) == 1
    assert "Traceback" not in srv.log()


@pytest.mark.parametrize("target", ["app", "wsgi_app"], ids=["flask", "generic-wsgi"])
def test_shutdown_cuts_a_pending_retry_back_off_short(target: str) -> None:
    with run_server(_served(target), env=ENV) as srv:
        event_id = uuid.uuid4().hex
        req = sign_event(
            make_v1_event("app_ticket", {"app_ticket": "t"}, token=TOKEN, event_uuid=event_id),
            encrypt_key=KEY,
        )
        assert post(srv, req.body, req.headers).status_code == 200
        time.sleep(0.3)  # the first attempt fails; the retry now waits out a 60 s back-off
        started = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(timeout=20) == 0
        assert time.monotonic() - started < 15
    assert handled_count(srv, "app_ticket", event_id) == 1
