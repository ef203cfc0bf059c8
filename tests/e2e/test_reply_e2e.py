"""Each sample's echo bot, as a real server process, replies through the fake Open API.

A signed event goes to the sample over HTTP; the sample's handler replies through
``lark_events_core.outbound`` to a :class:`FakeOpenAPI` started by the test
(``LARK_OPENAPI_BASE_URL``); the fake must receive the reply to the right message, for the right
tenant, with a token it issued, and the server log must hold no secret or token.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import requests

from lark_events_core.testing import make_event, make_v1_event, sign_event
from lark_events_core.testing.fake_openapi import FakeOpenAPI, RecordedRequest
from tests.support.servers import ROOT, VENV_BIN, Server, run_server

pytestmark = pytest.mark.e2e

KEY = "e2e_reply_encrypt_key"
TOKEN = "e2e_reply_verification_token"
APP_ID = "cli_e2e_reply"
APP_SECRET = "e2e-reply-app-secret-9d2b"
TENANT = "tenant_e2e_reply"
DJANGO = ROOT / "sample_projects" / "django_echo"


@dataclass(frozen=True)
class Sample:
    """How to start one sample project and where it receives events."""

    name: str
    argv: list[str]
    event_path: str
    cwd: Path = ROOT
    workers: int = 1  # processes, each with its own token cache


SAMPLES = [
    Sample(
        "aiohttp_echo",
        [sys.executable, str(ROOT / "sample_projects" / "aiohttp_echo" / "app.py")],
        "/webhook/event",
    ),
    Sample(
        "flask_echo_gunicorn",
        [
            str(VENV_BIN / "gunicorn"),
            "-w",
            "2",
            "--threads",
            "4",
            "-b",
            "127.0.0.1:{port}",
            "sample_projects.flask_echo.app:app",
        ],
        "/webhook/event",
        workers=2,
    ),
    Sample(
        "django_echo_gunicorn_wsgi",
        [
            str(VENV_BIN / "gunicorn"),
            "--workers",
            "1",
            "--threads",
            "4",
            "--bind",
            "127.0.0.1:{port}",
            "echo_project.wsgi",
        ],
        "/webhook/event",
        cwd=DJANGO,
    ),
    Sample(
        "django_echo_uvicorn_asgi",
        [
            str(VENV_BIN / "uvicorn"),
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--lifespan",
            "off",
            "--no-access-log",
            "echo_project.asgi:application",
        ],
        "/webhook/event",
        cwd=DJANGO,
    ),
]


def _env(sample: Sample, base_url: str, with_credentials: bool) -> dict[str, str]:
    env = {
        "LARK_ENCRYPT_KEY": KEY,
        "LARK_VERIFICATION_TOKEN": TOKEN,
        "HOST": "127.0.0.1",
        "LARK_OPENAPI_BASE_URL": base_url,
    }
    if with_credentials:
        env.update({"LARK_APP_ID": APP_ID, "LARK_APP_SECRET": APP_SECRET})
    return env


def _send_message(
    server: Server, sample: Sample, message_id: str, text: str, *, tenant_key: str = TENANT
) -> str:
    event_id = uuid.uuid4().hex
    body = make_event(
        "im.message.receive_v1",
        {
            "sender": {"sender_id": {"open_id": "ou_e2e_user"}, "sender_type": "user"},
            "message": {
                "message_id": message_id,
                "chat_id": "oc_e2e_chat",
                "chat_type": "p2p",
                "message_type": "text",
                "content": json.dumps({"text": text}),
            },
        },
        token=TOKEN,
        event_id=event_id,
        app_id=APP_ID,
        tenant_key=tenant_key,
    )
    signed = sign_event(body, encrypt_key=KEY)
    resp = requests.post(
        server.url + sample.event_path, data=signed.body, headers=signed.headers, timeout=15
    )
    assert resp.status_code == 200, resp.text
    return event_id


def _wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _handled(server: Server, event_id: str) -> bool:
    return f"handled event_type=im.message.receive_v1 event_id={event_id}" in server.log()


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_sample_echo_bot_replies_to_the_right_message_and_tenant(sample: Sample) -> None:
    with FakeOpenAPI({APP_ID: APP_SECRET}, tenant_key=TENANT) as fake:
        env = _env(sample, fake.base_url, with_credentials=True)
        with run_server(sample.argv, env=env, cwd=sample.cwd) as server:
            first = f"om_{uuid.uuid4().hex[:12]}"
            second = f"om_{uuid.uuid4().hex[:12]}"
            _send_message(server, sample, first, "ping one")
            _send_message(server, sample, second, "ping two")

            def replied() -> list[RecordedRequest]:
                return [r for r in fake.sent if r.endpoint == "messages.reply"]

            assert _wait_for(lambda: len(replied()) == 2), server.log()
            by_parent = {r.path.split("/")[5]: r for r in replied()}
            assert set(by_parent) == {first, second}
            for parent, text in [(first, "ping one"), (second, "ping two")]:
                reply = by_parent[parent]
                assert reply.content == {"text": text}
                assert (reply.app_id, reply.tenant_key) == (APP_ID, TENANT)
            # Cached between the two events: at most one token request per worker process.
            assert 1 <= len(fake.token_requests) <= sample.workers
            log = server.log()
        secrets = [APP_SECRET, KEY, TOKEN, *fake.issued_tokens]
        assert all(secret not in log for secret in secrets)


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_sample_without_credentials_only_logs(sample: Sample) -> None:
    with FakeOpenAPI({APP_ID: APP_SECRET}, tenant_key=TENANT) as fake:
        env = _env(sample, fake.base_url, with_credentials=False)
        with run_server(sample.argv, env=env, cwd=sample.cwd) as server:
            event_id = _send_message(server, sample, "om_no_credentials", "quiet")
            assert _wait_for(lambda: _handled(server, event_id)), server.log()
        assert fake.requests == []


SINGLE_PROCESS = [s for s in SAMPLES if s.workers == 1]


@pytest.mark.parametrize("sample", SINGLE_PROCESS, ids=[s.name for s in SINGLE_PROCESS])
def test_sample_as_a_store_app_gets_its_ticket_pushed_and_replies_per_tenant(
    sample: Sample,
) -> None:
    # The platform's store-app flow: the first reply finds no app_ticket, the client asks for a
    # resend, the "platform" (the fake's hook) pushes a signed app_ticket event to the sample,
    # and the reply goes out with a tenant token for the event's tenant.
    target: dict[str, str] = {}
    tickets: list[str] = []

    async def push_ticket(app_id: str) -> None:
        ticket = fake.issue_app_ticket(app_id)
        tickets.append(ticket)
        body = make_v1_event("app_ticket", {"app_ticket": ticket}, token=TOKEN, app_id=app_id)
        signed = sign_event(body, encrypt_key=KEY)
        async with (
            aiohttp.ClientSession() as session,
            session.post(target["url"], data=signed.body, headers=signed.headers) as resp,
        ):
            assert resp.status == 200

    with FakeOpenAPI(store_apps={APP_ID: APP_SECRET}, on_ticket_resend=push_ticket) as fake:
        env = {**_env(sample, fake.base_url, with_credentials=True), "LARK_APP_TYPE": "store"}
        with run_server(sample.argv, env=env, cwd=sample.cwd) as server:
            target["url"] = server.url + sample.event_path
            messages = {
                f"om_{uuid.uuid4().hex[:12]}": tenant for tenant in ("tenant_a", "tenant_b")
            }
            for message_id, tenant in messages.items():
                _send_message(server, sample, message_id, "store ping", tenant_key=tenant)
            assert _wait_for(lambda: len(fake.sent) == 2), server.log()
            log = server.log()
        assert {r.path.split("/")[5]: r.tenant_key for r in fake.sent} == messages
        assert len(fake.calls("app_ticket_resend")) == 1
        assert len(fake.calls("app_access_token")) == 1
        assert sorted(r.json["tenant_key"] for r in fake.calls("tenant_access_token")) == [
            "tenant_a",
            "tenant_b",
        ]
        assert "handled event_type=app_ticket" in log
        assert all(s not in log for s in [APP_SECRET, *tickets, *fake.issued_tokens])
