"""sample_projects/django_echo as a real gunicorn (WSGI) and a real uvicorn (ASGI) process.

Each server gets real HTTP: URL verification, encrypted signed events, callbacks, bad signatures,
garbage, oversized bodies and wrong methods; every handled event must appear exactly once in the
log. Then each takes 2,000 valid requests from 32 concurrent clients.
"""

from __future__ import annotations

import asyncio
import re
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import requests

from lark_events_core import LEGACY_CARD_TYPE
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

KEY = "e2e_django_encrypt_key"
TOKEN = "e2e_django_verification_token"
SAMPLE = ROOT / "sample_projects" / "django_echo"
ENV = {"LARK_ENCRYPT_KEY": KEY, "LARK_VERIFICATION_TOKEN": TOKEN}
JSON = "application/json; charset=utf-8"
LOAD_REQUESTS = 2000
LOAD_CLIENTS = 32
KINDS: dict[int, str] = {}  # port → key of SERVERS

SERVERS = {
    # One process (so its in-memory deduplication sees every delivery), four threads.
    "gunicorn-wsgi": [
        str(VENV_BIN / "gunicorn"),
        "--chdir",
        str(SAMPLE),
        "--workers",
        "1",
        "--threads",
        "4",
        "--bind",
        "127.0.0.1:{port}",
        "echo_project.wsgi",
    ],
    "uvicorn-asgi": [
        str(VENV_BIN / "uvicorn"),
        "--app-dir",
        str(SAMPLE),
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--lifespan",
        "off",
        "--no-access-log",
        "echo_project.asgi:application",
    ],
}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with run_server(SERVERS[request.param], env=ENV, cwd=SAMPLE) as srv:
        KINDS[srv.port] = request.param
        yield srv
    log = srv.log()
    assert KEY not in log
    assert TOKEN not in log
    assert "Traceback" not in log


def is_asgi(server: Server) -> bool:
    return KINDS[server.port] == "uvicorn-asgi"


def post(server: Server, req: SignedRequest | bytes, path: str = "/webhook/event") -> Any:
    body, headers = (req, {}) if isinstance(req, bytes) else (req.body, req.headers)
    resp = requests.post(server.url + path, data=body, headers=headers, timeout=10)
    assert resp.headers["Content-Type"] == JSON
    return resp


def message_request(event_id: str, text: str = "hello") -> SignedRequest:
    return text_message_request(event_id, encrypt_key=KEY, token=TOKEN, text=text)


# -- the server itself ---------------------------------------------------------------------------


def test_the_view_kind_matches_the_server(server: Server) -> None:
    post(server, message_request(uuid.uuid4().hex))  # the URLconf loads on the first request
    expected = "async views (URLs loaded in an event loop: ASGI)"
    if not is_asgi(server):
        expected = "sync views (URLs loaded outside an event loop: WSGI)"
    assert expected in server.log()


# -- URL verification ----------------------------------------------------------------------------


def test_url_verification_plain_and_encrypted(server: Server) -> None:
    plain = sign_event(make_challenge("plain-c", token=TOKEN))  # no key given: plain, unsigned
    resp = post(server, plain)
    assert (resp.status_code, resp.json()) == (200, {"challenge": "plain-c"})
    encrypted = sign_event(make_challenge("enc-c", token=TOKEN), encrypt_key=KEY, sign=False)
    assert b"encrypt" in encrypted.body
    resp = post(server, encrypted)
    assert (resp.status_code, resp.json()) == (200, {"challenge": "enc-c"})


def test_url_verification_with_a_wrong_token_is_401(server: Server) -> None:
    resp = post(server, sign_event(make_challenge("c", token="wrong")))
    assert resp.status_code == 401
    assert "challenge" not in resp.json()


def test_url_verification_on_the_card_endpoint(server: Server) -> None:
    resp = post(server, sign_event(make_challenge("card-c", token=TOKEN)), "/webhook/card")
    assert (resp.status_code, resp.json()) == (200, {"challenge": "card-c"})


# -- events and callbacks ------------------------------------------------------------------------


def test_encrypted_signed_message_is_handled_exactly_once(server: Server) -> None:
    event_id = uuid.uuid4().hex
    req = message_request(event_id, "quiet words")
    resp = post(server, req)
    assert (resp.status_code, resp.json()) == (200, {"msg": "success"})
    again = post(server, req)  # a platform retry: acknowledged, not handled again
    assert (again.status_code, again.json()) == (200, {"msg": "success"})
    assert handled_count(server, "im.message.receive_v1", event_id) == 1
    assert f"echo message_id=om_{event_id} chars=11" in server.log()  # the length, not the text
    assert "quiet words" not in server.log()


@pytest.mark.parametrize("event_type", ["message", "app_ticket"])
def test_v1_events_are_handled(server: Server, event_type: str) -> None:
    event_uuid = uuid.uuid4().hex
    body = make_v1_event(
        event_type,
        {"text": "v1 hi", "open_message_id": "om_v1", "app_ticket": "ticket-never-logged"},
        token=TOKEN,
        event_uuid=event_uuid,
    )
    resp = post(server, sign_event(body, encrypt_key=KEY))
    assert (resp.status_code, resp.json()) == (200, {"msg": "success"})
    assert handled_count(server, event_type, event_uuid) == 1
    assert "ticket-never-logged" not in server.log()


def test_card_action_answers_with_a_toast(server: Server) -> None:
    event_id = uuid.uuid4().hex
    body = make_event(
        "card.action.trigger", {"action": {"value": {"k": "v"}}}, token=TOKEN, event_id=event_id
    )
    resp = post(server, sign_event(body, encrypt_key=KEY))
    assert resp.status_code == 200
    toast = resp.json()["toast"]
    assert toast["type"] == "success"
    assert toast["content"] == "Received {'k': 'v'}"
    assert handled_count(server, "card.action.trigger", event_id) == 1


def test_legacy_card_callback_on_the_card_endpoint(server: Server) -> None:
    before = handled_count(server, LEGACY_CARD_TYPE, "-")
    req = sign_legacy_card(make_legacy_card(), verification_token=TOKEN)
    resp = post(server, req, "/webhook/card")
    assert (resp.status_code, resp.json()) == (200, {})
    assert handled_count(server, LEGACY_CARD_TYPE, "-") == before + 1
    bad = sign_legacy_card(make_legacy_card(), verification_token="wrong")
    assert post(server, bad, "/webhook/card").status_code == 401
    assert handled_count(server, LEGACY_CARD_TYPE, "-") == before + 1


# -- refusals ------------------------------------------------------------------------------------


def test_bad_or_missing_signatures_are_401_and_not_handled(server: Server) -> None:
    event_id = uuid.uuid4().hex
    good = message_request(event_id)
    tampered = SignedRequest(good.body, {**good.headers, "X-Lark-Signature": "0" * 64})
    other_key = sign_event(
        make_event("im.message.receive_v1", token=TOKEN, event_id=event_id),
        encrypt_key="another-key",
    )
    unsigned = SignedRequest(good.body, {"Content-Type": "application/json"})
    for req in (tampered, unsigned):
        resp = post(server, req)
        assert resp.status_code == 401
        assert set(resp.json()) == {"msg"}
    assert post(server, other_key).status_code in (400, 401)
    assert handled_count(server, "im.message.receive_v1", event_id) == 0


GARBAGE = {
    "empty": b"",
    "not-json": b"not json",
    "array": b"[1, 2]",
    "bad-base64": b'{"encrypt": "%%%not base64%%%"}',
    "short-ciphertext": b'{"encrypt": "AAAA"}',
    "not-utf8": b"\xff",
}


@pytest.mark.parametrize("body", list(GARBAGE.values()), ids=list(GARBAGE))
def test_garbage_bodies_are_json_400s(server: Server, body: bytes) -> None:
    resp = post(server, body)
    assert resp.status_code == 400
    assert set(resp.json()) == {"msg"}


def test_an_oversized_body_is_413(server: Server) -> None:
    resp = post(server, b"x" * (1024 * 1024 + 1))
    assert (resp.status_code, resp.json()) == (413, {"msg": "request body too large"})


@pytest.fixture(scope="module")
def sync_worker_gunicorn() -> Iterator[Server]:
    """gunicorn's default sync worker (the benchmark's server), for what only WSGI can do."""
    argv = [a for a in SERVERS["gunicorn-wsgi"] if a not in ("--threads", "4")]
    with run_server(argv, env=ENV, cwd=SAMPLE) as srv:
        yield srv
    assert KEY not in srv.log()


def test_wsgi_refuses_an_oversized_body_by_its_declared_length_without_reading_it(
    sync_worker_gunicorn: Server,
) -> None:
    # Declare 64 MiB, send 1 KiB, wait: the answer must come without the rest being sent.
    # (Django's ASGI handler buffers a whole body before any view runs, so this is WSGI only.)
    with socket.create_connection(("127.0.0.1", sync_worker_gunicorn.port), timeout=5) as sock:
        sock.sendall(
            b"POST /webhook/event HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 67108864\r\n\r\n" + b"x" * 1024
        )
        answer = b""
        while not answer.endswith(b"}"):  # the JSON body comes last; the server closes then
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413")
    assert answer.endswith(b'\r\n\r\n{"msg":"request body too large"}')
    event_id = uuid.uuid4().hex
    assert post(sync_worker_gunicorn, message_request(event_id)).status_code == 200
    assert handled_count(sync_worker_gunicorn, "im.message.receive_v1", event_id) == 1


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/webhook/event", "/webhook/card"])
def test_other_methods_are_json_405s(server: Server, method: str, path: str) -> None:
    resp = requests.request(method, server.url + path, timeout=10)
    assert resp.status_code == 405
    assert resp.headers["Allow"] == "POST"
    assert resp.json() == {"msg": "method not allowed"}


# -- load ----------------------------------------------------------------------------------------


async def _load(url: str, requests_: list[SignedRequest]) -> list[int]:
    statuses: list[int] = []
    queue: asyncio.Queue[SignedRequest] = asyncio.Queue()
    for req in requests_:
        queue.put_nowait(req)
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=LOAD_CLIENTS)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def client() -> None:
            while not queue.empty():
                req = queue.get_nowait()
                async with session.post(url, data=req.body, headers=req.headers) as resp:
                    body = await resp.json()
                    ok = resp.status == 200 and body == {"msg": "success"}
                    statuses.append(resp.status if ok else -resp.status)

        await asyncio.wait_for(asyncio.gather(*(client() for _ in range(LOAD_CLIENTS))), 120)
    return statuses


def test_2000_requests_from_32_concurrent_clients(server: Server) -> None:
    prefix = f"load-{uuid.uuid4().hex[:8]}"
    ids = [f"{prefix}-{i}" for i in range(LOAD_REQUESTS)]
    statuses = asyncio.run(_load(server.url + "/webhook/event", [message_request(i) for i in ids]))
    assert statuses == [200] * LOAD_REQUESTS
    lines = [row for row in server.log().splitlines() if f"event_id={prefix}-" in row]
    handled = [row.rsplit("event_id=", 1)[1] for row in lines if "handled event_type=" in row]
    assert sorted(handled) == sorted(ids)  # every event handled, each exactly once


# -- several worker processes --------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_workers_with_redis() -> Iterator[Server]:
    """gunicorn with two worker processes sharing deduplication through Redis, access log on
    (``%(p)s`` is the pid of the worker that answered)."""
    from tests.support.services import service_url

    env = {
        **ENV,
        "LARK_REDIS_URL": service_url("REDIS_URL"),
        "LARK_REDIS_PREFIX": f"django-e2e-{uuid.uuid4().hex}:",
    }
    argv = [a for a in SERVERS["gunicorn-wsgi"] if a not in ("--threads", "4")]
    argv[argv.index("--workers") + 1] = "2"
    argv[-1:-1] = ["--access-logfile", "-", "--access-logformat", "access pid=%(p)s %(s)s %(U)s"]
    with run_server(argv, env=env, cwd=SAMPLE) as srv:
        yield srv
    assert KEY not in srv.log()


@pytest.mark.services
def test_a_redelivery_to_another_worker_is_handled_once_with_redis(
    two_workers_with_redis: Server,
) -> None:
    server = two_workers_with_redis
    event_id = uuid.uuid4().hex
    req = message_request(event_id)
    deliveries = 40

    async def deliver_concurrently() -> list[int]:
        async with aiohttp.ClientSession() as session:

            async def one() -> int:
                url = server.url + "/webhook/event"
                async with session.post(url, data=req.body, headers=req.headers) as resp:
                    return resp.status

            return await asyncio.gather(*(one() for _ in range(deliveries)))

    def workers_seen() -> set[str]:
        access = [row for row in server.log().splitlines() if "access pid=" in row]
        return {row.split("pid=")[1].split()[0] for row in access}

    for _ in range(20):  # the kernel picks the accepting worker: repeat until both have served
        assert asyncio.run(deliver_concurrently()) == [200] * deliveries
        if len(workers_seen()) == 2:
            break
    assert len(workers_seen()) == 2
    assert handled_count(server, "im.message.receive_v1", event_id) == 1


def test_the_documented_runserver_command_listens_on_port() -> None:
    # ``python manage.py runserver``: no address given, so $PORT (set by run_server) is used.
    argv = [str(VENV_BIN / "python"), str(SAMPLE / "manage.py"), "runserver", "--noreload"]
    with run_server(argv, env=ENV, cwd=ROOT) as srv:
        event_id = uuid.uuid4().hex
        resp = post(srv, message_request(event_id, "dev server"))
        assert (resp.status_code, resp.json()) == (200, {"msg": "success"})
        assert handled_count(srv, "im.message.receive_v1", event_id) == 1
        # Django 6 says "Starting WSGI development server at ...".
        banner = rf"Starting (WSGI )?development server at http://127\.0\.0\.1:{srv.port}/"
        assert re.search(banner, srv.log())
    assert KEY not in srv.log()
