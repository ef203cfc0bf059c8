"""Rate limits retried with bounded backoff; every other failure a typed error with the log id."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from lark_events_core import LarkEventsError
from lark_events_core.outbound import (
    OpenAPIError,
    OutboundError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from lark_events_core.outbound.transport import Transport
from lark_events_core.testing.fake_openapi import FakeOpenAPI
from tests.support.servers import free_port

from .helpers import APP_ID, APP_SECRET, client_for

APPS = {APP_ID: APP_SECRET}


def test_rate_limited_then_success_sends_exactly_one_message() -> None:
    async def main() -> None:
        async with FakeOpenAPI(APPS) as fake, client_for(fake.base_url) as client:
            fake.rate_limit("messages.create", times=2)
            data = await client.send_text("ou_user", "hi")
            attempts = fake.calls("messages.create")
            assert [(r.status, r.code) for r in attempts] == [(429, 99991400)] * 2 + [(200, 0)]
            assert data["message_id"] == attempts[-1].message_id
            assert len(fake.sent) == 1
            # The retries carry one uuid, so the platform would deduplicate a double send.
            assert len({r.json["uuid"] for r in attempts}) == 1

    asyncio.run(main())


def test_frequency_limit_code_with_http_200_is_retried_too() -> None:
    async def main() -> None:
        async with FakeOpenAPI(APPS) as fake, client_for(fake.base_url) as client:
            fake.inject("messages.reply", status=200, code=230020, msg="frequency limit")
            await client.reply_message("om_parent", "text", {"text": "hi"})
            assert [r.code for r in fake.calls("messages.reply")] == [230020, 0]

    asyncio.run(main())


def test_rate_limit_gives_up_after_the_bound_with_a_typed_error() -> None:
    async def main() -> None:
        policy = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.02)
        async with FakeOpenAPI(APPS) as fake, client_for(fake.base_url, retry=policy) as client:
            fake.rate_limit("messages.create", times=100)
            with pytest.raises(RateLimitError) as info:
                await client.send_text("ou_user", "hi")
            attempts = fake.calls("messages.create")
            assert len(attempts) == 3
            assert info.value.code == 99991400
            assert info.value.http_status == 429
            assert info.value.log_id == attempts[-1].log_id
            assert isinstance(info.value, OpenAPIError)

    asyncio.run(main())


def test_rate_limit_reset_header_is_honoured() -> None:
    async def main() -> None:
        policy = RetryPolicy(max_retries=1, base_delay=0.001, max_delay=5.0)
        async with FakeOpenAPI(APPS) as fake, client_for(fake.base_url, retry=policy) as client:
            await client.tenant_access_token()
            fake.rate_limit("messages.create", times=1, reset=0.4)
            started = time.monotonic()
            await client.send_text("ou_user", "hi")
            assert time.monotonic() - started >= 0.4

    asyncio.run(main())


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(max_retries=5, base_delay=1.0, max_delay=4.0)
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (5, 4.0)]:
        delays = {policy.delay(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered
    assert 3.0 <= policy.delay(0, reset_after=3.0) <= 3.25
    assert policy.delay(0, reset_after=60.0) <= 4.25


def test_server_error_is_a_typed_error_with_the_log_id_and_is_not_retried() -> None:
    async def main() -> None:
        async with FakeOpenAPI(APPS) as fake, client_for(fake.base_url) as client:
            fake.server_error("messages.create", status=503)
            with pytest.raises(ServerError) as info:
                await client.send_text("ou_user", "hi")
            attempts = fake.calls("messages.create")
            assert len(attempts) == 1
            assert info.value.http_status == 503
            assert info.value.code == 1500
            assert info.value.log_id == attempts[0].log_id
            assert attempts[0].log_id in str(info.value)
            assert isinstance(info.value, LarkEventsError)

    asyncio.run(main())


def test_api_refusal_is_an_open_api_error_with_code_and_message() -> None:
    async def main() -> None:
        async with FakeOpenAPI(APPS) as fake, client_for(fake.base_url) as client:
            with pytest.raises(OpenAPIError) as info:
                await client.send_text("not-an-open-id", "hi")
            assert type(info.value) is OpenAPIError
            assert info.value.code == 230001
            assert "receive_id" in info.value.msg
            assert info.value.log_id == fake.calls("messages.create")[0].log_id

    asyncio.run(main())


def test_answer_that_is_not_json_is_a_server_error() -> None:
    transport = Transport("http://127.0.0.1:9")
    with pytest.raises(ServerError) as info:
        transport._interpret("/p", 502, b"<html>bad gateway</html>", "log-1", None, OpenAPIError)
    assert info.value.code == -1
    assert info.value.http_status == 502
    assert info.value.log_id == "log-1"


def test_timeout_is_a_transport_error() -> None:
    async def main() -> None:
        async with FakeOpenAPI(APPS, token_delay=2.0) as fake:
            client = client_for(fake.base_url, timeout=0.3)
            started = time.monotonic()
            with pytest.raises(TransportError, match="no answer within"):
                await client.send_text("ou_user", "hi")
            assert time.monotonic() - started < 1.5
            await client.aclose()

    asyncio.run(main())


def test_connection_refused_is_a_transport_error() -> None:
    async def main() -> None:
        async with client_for(f"http://127.0.0.1:{free_port()}") as client:
            with pytest.raises(TransportError) as info:
                await client.send_text("ou_user", "hi")
            assert isinstance(info.value, OutboundError)

    asyncio.run(main())


def test_secrets_and_tokens_never_reach_logs_reprs_or_error_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []

    async def main() -> str:
        async with FakeOpenAPI(APPS) as fake, client_for(fake.base_url) as client:
            token = await client.tenant_access_token()
            fake.revoke_tokens()
            fake.rate_limit("messages.create", times=1)
            await client.send_text("ou_user", "hi")
            fake.inject("messages.create", status=400, code=99991663, times=2)
            fake.server_error("messages.reply")
            for call in (
                client.send_text("ou_user", "hi"),
                client.reply_message("om_x", "text", {"text": "x"}),
            ):
                try:
                    await call
                except OutboundError as exc:
                    errors.append(exc)
            texts = [repr(client), repr(client.tokens), str(client.__dict__)]
            new_token = await client.tenant_access_token()
            return "\n".join([*texts, token, new_token])

    joined = asyncio.run(main())
    *texts, token, new_token = joined.split("\n")
    assert token != new_token
    everything = "\n".join(
        [
            *texts,
            *(r.getMessage() for r in caplog.records),
            *(str(r.args) for r in caplog.records),
            *(f"{e!s} {e!r}" for e in errors),
        ]
    )
    assert [type(e).__name__ for e in errors] == ["InvalidTokenError", "ServerError"]
    assert caplog.records  # the flow above did log
    for secret in (APP_SECRET, token, new_token):
        assert secret not in everything
