"""The fake Open API refuses what the platform refuses, so the client's tests mean something."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from lark_events_core.testing.fake_openapi import FakeOpenAPI

APPS = {"cli_fake": "fake-secret"}
MESSAGES = "/open-apis/im/v1/messages"


async def _post(
    session: aiohttp.ClientSession,
    url: str,
    body: Any,
    *,
    token: str | None = None,
    params: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, dict[str, Any], str | None]:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else json.dumps(body).encode()
    async with session.post(url, data=data, headers=headers, params=params) as resp:
        return resp.status, await resp.json(), resp.headers.get("X-Tt-Logid")


async def _token(session: aiohttp.ClientSession, fake: FakeOpenAPI) -> str:
    url = fake.base_url + "/open-apis/auth/v3/tenant_access_token/internal"
    status, body, _ = await _post(session, url, {"app_id": "cli_fake", "app_secret": "fake-secret"})
    assert status == 200
    assert body["expire"] == 7200
    token: str = body["tenant_access_token"]
    return token


def test_message_requests_are_validated_like_the_platform() -> None:
    async def main() -> None:
        async with FakeOpenAPI(APPS) as fake, aiohttp.ClientSession() as session:
            token = await _token(session, fake)
            url = fake.base_url + MESSAGES
            good = {"receive_id": "ou_1", "msg_type": "text", "content": '{"text":"hi"}'}
            ok = {"receive_id_type": "open_id"}
            cases: list[tuple[dict[str, Any], str | None, dict[str, str] | None, int]] = [
                (good, None, ok, 99991661),  # no Authorization header
                (good, "t-forged", ok, 99991663),  # a token the platform never issued
                (good, token, None, 99992402),  # receive_id_type missing
                (good, token, {"receive_id_type": "phone"}, 99992402),
                ({**good, "content": {"text": "hi"}}, token, ok, 99992402),  # not a string
                ({**good, "content": "not json"}, token, ok, 230001),
                ({**good, "content": '{"txt":"hi"}'}, token, ok, 230001),
                ({**good, "msg_type": "fax"}, token, ok, 99992402),
                ({**good, "receive_id": "oc_chat"}, token, ok, 230001),  # a chat id as open_id
                ({**good, "receive_id": "someone"}, token, {"receive_id_type": "email"}, 230001),
            ]
            for body, auth, params, code in cases:
                status, answer, log_id = await _post(session, url, body, token=auth, params=params)
                assert (status, answer["code"]) == (400, code), (body, auth, params)
                assert log_id
            status, answer, _ = await _post(session, url, good, token=token, params=ok)
            assert (status, answer["code"]) == (200, 0)
            assert answer["data"]["message_id"].startswith("om_")
            assert len(fake.sent) == 1

    asyncio.run(main())


def test_token_endpoints_check_credentials_and_tickets() -> None:
    async def main() -> None:
        fake = FakeOpenAPI(APPS, store_apps={"cli_store": "store-secret"})
        async with fake, aiohttp.ClientSession() as session:
            base = fake.base_url + "/open-apis/auth/v3/"
            wrong = {"app_id": "cli_fake", "app_secret": "guess"}
            status, body, _ = await _post(session, base + "tenant_access_token/internal", wrong)
            assert (status, body["code"]) == (400, 10014)
            store = {"app_id": "cli_store", "app_secret": "store-secret"}
            status, body, _ = await _post(
                session, base + "app_access_token", {**store, "app_ticket": "made-up"}
            )
            assert body["code"] == 10012
            ticket = fake.issue_app_ticket("cli_store")
            status, body, _ = await _post(
                session, base + "app_access_token", {**store, "app_ticket": ticket}
            )
            app_token = body["app_access_token"]
            status, body, _ = await _post(
                session,
                base + "tenant_access_token",
                {"app_access_token": app_token, "tenant_key": "tenant_s"},
            )
            assert body["code"] == 0
            tenant_token = body["tenant_access_token"]
            # An app token is not a tenant token.
            status, body, _ = await _post(
                session,
                fake.base_url + MESSAGES,
                {"receive_id": "ou_1", "msg_type": "text", "content": '{"text":"x"}'},
                token=app_token,
                params={"receive_id_type": "open_id"},
            )
            assert body["code"] == 99991663
            status, body, _ = await _post(
                session,
                fake.base_url + MESSAGES + "/om_1/reply",
                {"msg_type": "text", "content": '{"text":"x"}'},
                token=tenant_token,
            )
            assert body["code"] == 0
            assert fake.sent[0].tenant_key == "tenant_s"

    asyncio.run(main())


def test_same_uuid_is_one_message_and_unknown_paths_are_404() -> None:
    async def main() -> None:
        async with FakeOpenAPI(APPS) as fake, aiohttp.ClientSession() as session:
            token = await _token(session, fake)
            body = {"msg_type": "text", "content": '{"text":"x"}', "uuid": "u-1"}
            url = fake.base_url + MESSAGES + "/om_1/reply"
            first = await _post(session, url, body, token=token)
            second = await _post(session, url, body, token=token)
            assert first[1]["data"]["message_id"] == second[1]["data"]["message_id"]
            assert len(fake.sent) == 1
            status, answer, _ = await _post(session, fake.base_url + "/open-apis/nope", {})
            assert (status, answer["code"]) == (404, 99991201)
            bad_card = {"token": "not-a-card-token", "card": {}}
            url = fake.base_url + "/open-apis/interactive/v1/card/update"
            status, answer, _ = await _post(session, url, bad_card, token=token)
            assert answer["code"] == 99992402

    asyncio.run(main())


def test_runs_on_its_own_thread_for_sync_tests() -> None:
    import requests

    with FakeOpenAPI(APPS) as fake:
        resp = requests.post(
            fake.base_url + "/open-apis/auth/v3/tenant_access_token/internal",
            json={"app_id": "cli_fake", "app_secret": "fake-secret"},
            timeout=5,
        )
        assert resp.json()["code"] == 0
        assert len(fake.token_requests) == 1
