"""Bootstrap and handshake errors: which ones are retried, which ones end run()."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from lark_events_core._secrets import Secret
from lark_events_core.longconn import (
    BootstrapRejected,
    BootstrapUnavailable,
    ClientConfig,
    HandshakeRejected,
    LongConnectionError,
    ReconnectExhausted,
    StopError,
    TooManyConnections,
)
from lark_events_core.longconn.bootstrap import fetch_endpoint
from lark_events_core.testing.fake_platform import (
    BAD_CREDENTIALS,
    BUSY,
    FORBIDDEN,
    HTTP_UNAVAILABLE,
    INTERNAL_ERROR,
    TOO_MANY_CONNECTIONS,
    BootstrapAnswer,
    HandshakeRefusal,
)
from tests.support.servers import free_port

from .helpers import StrictPlatform, make_client, quiet_dispatcher, run_clean

RETRYABLE_BOOTSTRAP = {
    "busy": BUSY,
    "internal-error": INTERNAL_ERROR,
    "busy-1000040351": BootstrapAnswer(code=1000040351, msg="busy"),
    "http-503": HTTP_UNAVAILABLE,
    "http-500-no-json": BootstrapAnswer(status=500, code=0),
}


@pytest.mark.parametrize("answer", RETRYABLE_BOOTSTRAP.values(), ids=RETRYABLE_BOOTSTRAP.keys())
def test_retryable_bootstrap_answers_are_retried_until_success(answer: BootstrapAnswer) -> None:
    async def scenario() -> None:
        async with StrictPlatform() as platform:
            platform.script_bootstrap(answer, answer)
            client = make_client(
                platform,
                quiet_dispatcher(),
                config=ClientConfig(reconnect_interval=0.05, reconnect_nonce=0),
            )
            async with client:
                await client.wait_connected(3.0)
            assert platform.bootstrap_requests == 3

    run_clean(scenario)


def test_a_bootstrap_that_hangs_times_out_and_is_retried() -> None:
    async def scenario() -> None:
        async with StrictPlatform() as platform:
            platform.script_bootstrap(BootstrapAnswer(delay=5.0))
            client = make_client(
                platform,
                quiet_dispatcher(),
                request_timeout=0.3,
                config=ClientConfig(reconnect_interval=0.05, reconnect_nonce=0),
            )
            loop = asyncio.get_running_loop()
            started = loop.time()
            async with client:
                await client.wait_connected(3.0)
            assert loop.time() - started < 4.0  # not the 5 s hang
            assert platform.bootstrap_requests == 2

    run_clean(scenario)


def test_bootstrap_network_errors_and_timeouts_are_retryable() -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(BootstrapUnavailable, match="network error"):
                await fetch_endpoint(
                    session,
                    f"http://127.0.0.1:{free_port()}",
                    "cli_x",
                    Secret("s"),
                    timeout=1.0,
                    user_agent="t",
                )

    run_clean(scenario)


@pytest.mark.parametrize(
    "body",
    [
        b"<html>",
        b"[]",
        b'{"code":"0"}',
        b'{"code":0,"data":{}}',
        b'{"code":0,"data":{"URL":"http://x"}}',
        b'{"code":0,"data":{"URL":"wss://h/ws?device_id=1&service_id=abc"}}',
    ],
)
def test_malformed_bootstrap_answers_are_retryable(body: bytes) -> None:
    from aiohttp import web

    async def scenario() -> None:
        async def endpoint(request: web.Request) -> web.Response:
            return web.Response(body=body, content_type="application/json")

        app = web.Application()
        app.router.add_post("/callback/ws/endpoint", endpoint)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with aiohttp.ClientSession() as session:
                with pytest.raises(BootstrapUnavailable):
                    await fetch_endpoint(
                        session,
                        f"http://127.0.0.1:{port}",
                        "a",
                        Secret("s"),
                        timeout=2.0,
                        user_agent="t",
                    )
        finally:
            await runner.cleanup()

    run_clean(scenario)


def test_bad_credentials_end_run_with_bootstrap_rejected() -> None:
    async def scenario() -> None:
        async with StrictPlatform() as platform:
            client = make_client(platform, quiet_dispatcher(), app_secret="wrong-secret")
            with pytest.raises(BootstrapRejected) as info:
                await client.run()
            assert info.value.code == 10014
            assert platform.bootstrap_requests == 1
            platform.script_bootstrap(BAD_CREDENTIALS)
            with pytest.raises(BootstrapRejected):
                await make_client(platform, quiet_dispatcher()).run()

    run_clean(scenario)


@pytest.mark.parametrize(
    ("refusal", "error"),
    [(TOO_MANY_CONNECTIONS, TooManyConnections), (FORBIDDEN, HandshakeRejected)],
    ids=["514-1000040350", "403"],
)
def test_stop_type_handshake_refusals_end_run(
    refusal: HandshakeRefusal, error: type[Exception]
) -> None:
    async def scenario() -> None:
        async with StrictPlatform() as platform:
            platform.refuse_handshakes(refusal)
            client = make_client(platform, quiet_dispatcher())
            with pytest.raises(error) as info:
                await client.run()
            assert isinstance(info.value, StopError)
            assert platform.handshakes == 1
            assert not client.connected

    run_clean(scenario)


@pytest.mark.parametrize(
    "refusal",
    [
        HandshakeRefusal(514, 1000040349, "other auth error"),
        HandshakeRefusal(500),
        HandshakeRefusal(429),
    ],
    ids=["514-other", "500", "429"],
)
def test_other_handshake_refusals_are_retried(refusal: HandshakeRefusal) -> None:
    async def scenario() -> None:
        async with StrictPlatform() as platform:
            platform.refuse_handshakes(refusal, refusal)
            async with make_client(platform, quiet_dispatcher()) as client:
                await client.wait_connected(3.0)
            assert platform.handshakes == 3
            platform.assert_no_violations()  # a fresh ticket for every attempt

    run_clean(scenario)


def test_the_connection_limit_stops_the_client_that_exceeds_it() -> None:
    async def scenario() -> None:
        async with (
            StrictPlatform(max_connections=2) as platform,
            make_client(platform, quiet_dispatcher()),
            make_client(platform, quiet_dispatcher()),
        ):
            await platform.wait_for_connections(2)
            with pytest.raises(TooManyConnections) as info:
                await make_client(platform, quiet_dispatcher()).run()
            assert info.value.auth_code == 1000040350
            assert len(platform.connections()) == 2

    run_clean(scenario)


def test_reconnect_count_attempts_then_reconnect_exhausted() -> None:
    async def scenario() -> None:
        async with StrictPlatform() as platform:
            platform.script_bootstrap(*[BUSY] * 5)
            client = make_client(
                platform,
                quiet_dispatcher(),
                config=ClientConfig(reconnect_count=3, reconnect_interval=0.05, reconnect_nonce=0),
            )
            with pytest.raises(ReconnectExhausted) as info:
                await client.run()
            assert info.value.attempts == 3
            assert isinstance(info.value.last_error, BootstrapUnavailable)
            assert platform.bootstrap_requests == 3

    run_clean(scenario)


def test_errors_belong_to_the_project_error_tree() -> None:
    from lark_events_core import LarkEventsError

    assert issubclass(LongConnectionError, LarkEventsError)
    assert issubclass(TooManyConnections, StopError)


def test_neither_the_one_time_url_nor_the_secret_is_ever_logged_or_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    raised: list[BaseException] = []

    async def scenario() -> None:
        async with StrictPlatform() as platform:
            platform.refuse_handshakes(HandshakeRefusal(500, None, "try later"), FORBIDDEN)
            client = make_client(platform, quiet_dispatcher())
            try:
                await client.run()
            except HandshakeRejected as exc:
                raised.append(exc)
            platform.script_bootstrap(BAD_CREDENTIALS)
            try:
                await make_client(platform, quiet_dispatcher()).run()
            except BootstrapRejected as exc:
                raised.append(exc)
            async with make_client(platform, quiet_dispatcher()) as ok:
                await ok.wait_connected(2.0)
                assert platform.app_secret not in repr(ok)
                assert platform.tickets_issued[-1] not in repr(ok)
            return platform

    platform = run_clean(scenario)
    assert len(raised) == 2
    secrets = [*platform.tickets_issued, platform.app_secret]
    assert len(secrets) == 4
    texts = [record.getMessage() for record in caplog.records]
    texts += [record.exc_text or "" for record in caplog.records]
    for exc in raised:
        texts += [str(exc), repr(exc), str(exc.__cause__), str(exc.__context__)]
    for text in texts:
        for secret in secrets:
            assert secret not in text
