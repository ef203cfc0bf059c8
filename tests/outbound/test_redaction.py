"""A server that echoes what it was sent cannot put a secret or token into an error or a log."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from lark_events_core.outbound import OpenAPIError, TokenRequestError

from .helpers import APP_SECRET, client_for

TENANT_TOKEN = "t-tenant-token-never-logged-8d2a"


@asynccontextmanager
async def echo_server(*, refuse_token: bool) -> AsyncIterator[str]:
    """An Open API look-alike on port 0 whose errors quote the request headers and body."""

    async def token(request: web.Request) -> web.Response:
        body = await request.text()
        if refuse_token:
            echo = {"code": 10014, "msg": f"app secret invalid\nrequest body: {body}"}
            return web.json_response(echo, status=400, headers={"X-Tt-Logid": body[:200]})
        return web.json_response({"code": 0, "tenant_access_token": TENANT_TOKEN, "expire": 7200})

    async def messages(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        msg = f"invalid receive_id\r\nseen headers: Authorization: {auth}"
        echo = {"code": 230001, "msg": msg, "error": {"log_id": auth}}
        return web.json_response(echo, status=400)

    app = web.Application()
    app.router.add_post("/open-apis/auth/v3/tenant_access_token/internal", token)
    app.router.add_post("/open-apis/im/v1/messages", messages)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def _texts(exc: BaseException, caplog: pytest.LogCaptureFixture) -> list[str]:
    return [str(exc), repr(exc), *(r.getMessage() for r in caplog.records)]


def test_bearer_token_echoed_by_the_server_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def main() -> OpenAPIError:
        async with echo_server(refuse_token=False) as url, client_for(url) as client:
            with pytest.raises(OpenAPIError) as info:
                await client.send_text("ou_user", "hi")
            return info.value

    error = asyncio.run(main())
    assert error.code == 230001
    assert "[redacted]" in error.msg
    assert "[redacted]" in (error.log_id or "")
    for text in _texts(error, caplog):
        assert TENANT_TOKEN not in text
        assert "\n" not in text
        assert "\r" not in text
    assert "\\r\\nseen headers" in error.msg


def test_app_secret_echoed_by_the_token_endpoint_is_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    async def main() -> TokenRequestError:
        async with echo_server(refuse_token=True) as url, client_for(url) as client:
            with pytest.raises(TokenRequestError) as info:
                await client.send_text("ou_user", "hi")
            return info.value

    error = asyncio.run(main())
    assert error.code == 10014
    assert '"app_secret":"[redacted]"' in error.msg
    for text in _texts(error, caplog):
        assert APP_SECRET not in text
        assert "\n" not in text


def test_a_secret_with_json_escapes_is_redacted_in_its_escaped_form_too() -> None:
    from lark_events_core.outbound.transport import Transport

    transport = Transport("http://127.0.0.1:9")
    secret = 'se"cr\\et-é-4f1c'
    transport.add_secrets(secret)
    raw_echo = json.dumps({"app_secret": secret})  # how an echoed request body shows it
    assert transport.redact(raw_echo) == '{"app_secret": "[redacted]"}'
    assert transport.redact(f"plain {secret}!") == "plain [redacted]!"
    unicode_escaped = json.dumps(secret, ensure_ascii=False)
    assert transport.redact(unicode_escaped) == '"[redacted]"'
