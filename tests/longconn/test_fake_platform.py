"""The fake platform's strictness: a sloppy client is caught, so passing against it means something.

These tests speak to the fake with a raw aiohttp WebSocket and hand-made frames.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from lark_events_core.longconn.bootstrap import parse_endpoint
from lark_events_core.longconn.frames import Frame, decode, encode, encode_partial
from lark_events_core.testing import make_event
from lark_events_core.testing.fake_platform import FakePlatform

from .helpers import run_clean

Raw = aiohttp.ClientWebSocketResponse


async def connect(platform: FakePlatform, session: aiohttp.ClientSession) -> tuple[Raw, int]:
    """Bootstrap and open a raw WebSocket; the socket and the service id."""
    async with session.post(
        f"{platform.domain}/callback/ws/endpoint",
        json={"AppID": platform.app_id, "AppSecret": platform.app_secret},
    ) as resp:
        answer = await resp.json()
    endpoint = parse_endpoint(answer["data"])
    ws = await session.ws_connect(endpoint.url.reveal())
    await platform.wait_for_connections(1)
    return ws, endpoint.service_id


def good_ack(frame: Frame, payload: bytes = b'{"code":200,"headers":null,"data":null}') -> Frame:
    return replace(frame, headers=(*frame.headers, ("biz_rt", "0")), payload=payload)


def with_raw_client(
    body: Callable[[FakePlatform, Raw, int], Awaitable[None]], **platform_options: Any
) -> list[str]:
    """Run ``body`` against a fresh platform; the violations it recorded."""

    async def scenario() -> list[str]:
        async with FakePlatform(**platform_options) as platform, aiohttp.ClientSession() as s:
            ws, service_id = await connect(platform, s)
            try:
                await body(platform, ws, service_id)
            finally:
                await ws.close()
            return list(platform.violations)

    result: list[str] = run_clean(scenario)
    return result


def test_a_correct_raw_client_has_no_violations() -> None:
    async def body(platform: FakePlatform, ws: Raw, service_id: int) -> None:
        await ws.send_bytes(encode(Frame(0, 0, service_id, 0, (("type", "ping"),))))
        pong = decode((await ws.receive()).data)
        assert pong.header("type") == "pong"
        pushed = await platform.push(make_event("x.y", {}))
        frame = decode((await ws.receive()).data)
        await ws.send_bytes(encode(good_ack(frame)))
        ack = await pushed.ack()
        assert (ack.code, ack.biz_rt) == (200, 0)

    assert with_raw_client(body) == []


@pytest.mark.parametrize("missing", ["SeqID", "LogID", "service", "method"])
def test_a_frame_missing_a_required_field_is_rejected_and_closes_the_connection(
    missing: str,
) -> None:
    async def body(platform: FakePlatform, ws: Raw, service_id: int) -> None:
        fields: dict[str, Any] = {"SeqID": 0, "LogID": 0, "service": service_id, "method": 0}
        del fields[missing]
        await ws.send_bytes(encode_partial(**fields, headers=[("type", "ping")]))
        msg = await ws.receive()
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1002

    violations = with_raw_client(body)
    assert len(violations) == 1
    assert missing in violations[0]


def test_a_ping_with_the_wrong_service_id_is_a_violation() -> None:
    async def body(platform: FakePlatform, ws: Raw, service_id: int) -> None:
        await ws.send_bytes(encode(Frame(0, 0, service_id + 1, 0, (("type", "ping"),))))
        await ws.receive()

    assert any("ping with service" in v for v in with_raw_client(body))


def test_a_silent_connection_answers_no_pings() -> None:
    async def body(platform: FakePlatform, ws: Raw, service_id: int) -> None:
        (conn,) = platform.connections()
        conn.go_silent()
        await ws.send_bytes(encode(Frame(0, 0, service_id, 0, (("type", "ping"),))))
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.3)
        assert conn.pings == 1

    assert with_raw_client(body) == []


BAD_ACKS: dict[str, tuple[Callable[[Frame], Frame], str]] = {
    "no biz_rt": (lambda f: replace(good_ack(f), headers=f.headers), "biz_rt"),
    "two biz_rt": (
        lambda f: replace(good_ack(f), headers=(*f.headers, ("biz_rt", "1"), ("biz_rt", "2"))),
        "biz_rt",
    ),
    "biz_rt not a number": (
        lambda f: replace(good_ack(f), headers=(*f.headers, ("biz_rt", "1.5"))),
        "biz_rt",
    ),
    "header dropped": (
        lambda f: replace(good_ack(f), headers=(*f.headers[:-1], ("biz_rt", "0"))),
        "headers not echoed",
    ),
    "header changed": (
        lambda f: replace(good_ack(f), headers=(("type", "card"), *f.headers[1:], ("biz_rt", "0"))),
        "headers not echoed",
    ),
    "SeqID changed": (lambda f: replace(good_ack(f), seq_id=f.seq_id + 1), "seq_id"),
    "LogID changed": (lambda f: replace(good_ack(f), log_id=f.log_id + 1), "log_id"),
    "service changed": (lambda f: replace(good_ack(f), service=f.service + 1), "service"),
    "LogIDNew dropped": (lambda f: replace(good_ack(f), log_id_new=None), "LogIDNew"),
    "payload not JSON": (lambda f: good_ack(f, b"ok"), "not JSON"),
    "payload an array": (lambda f: good_ack(f, b"[200]"), "not a JSON object"),
    "code a string": (lambda f: good_ack(f, b'{"code":"200"}'), "integer code"),
    "data not base64": (lambda f: good_ack(f, b'{"code":200,"data":"%%%"}'), "base64"),
    "data base64 of non-JSON": (
        lambda f: good_ack(f, b'{"code":200,"data":"' + base64.b64encode(b"{x") + b'"}'),
        "base64 of JSON",
    ),
    "data an object": (lambda f: good_ack(f, b'{"code":200,"data":{}}'), "data is neither"),
}


@pytest.mark.parametrize("name", BAD_ACKS)
def test_each_malformed_ack_is_a_violation(name: str) -> None:
    mutate, expected = BAD_ACKS[name]

    async def body(platform: FakePlatform, ws: Raw, service_id: int) -> None:
        pushed = await platform.push(make_event("x.y", {}))
        frame = decode((await ws.receive()).data)
        await ws.send_bytes(encode(mutate(frame)))
        await pushed.ack()

    violations = with_raw_client(body)
    assert len(violations) == 1, violations
    assert expected in violations[0]


def test_late_unknown_and_repeated_acks_are_violations() -> None:
    async def body(platform: FakePlatform, ws: Raw, service_id: int) -> None:
        pushed = await platform.push(make_event("x.y", {}))
        frame = decode((await ws.receive()).data)
        await asyncio.sleep(0.25)
        await ws.send_bytes(encode(good_ack(frame)))
        assert (await pushed.ack()).late
        await ws.send_bytes(encode(good_ack(frame)))
        stranger = replace(frame, headers=(("type", "event"), ("message_id", "nope")))
        await ws.send_bytes(encode(good_ack(stranger)))
        await ws.send_str("text")
        await ws.send_bytes(encode(Frame(0, 0, service_id, 0, (("type", "ping"),))))
        await ws.receive()  # the pong: every earlier frame was processed

    violations = with_raw_client(body, ack_deadline=0.2)
    assert len(violations) == 4, violations
    assert "deadline" in violations[0]
    assert "already acknowledged" in violations[1]  # the repeated ack
    assert "'nope'" in violations[2]
    assert "text WebSocket message" in violations[3]


def test_a_ticket_works_once() -> None:
    async def scenario() -> list[str]:
        async with FakePlatform() as platform, aiohttp.ClientSession() as session:
            async with session.post(
                f"{platform.domain}/callback/ws/endpoint",
                json={"AppID": platform.app_id, "AppSecret": platform.app_secret},
            ) as resp:
                url = parse_endpoint((await resp.json())["data"]).url.reveal()
            ws = await session.ws_connect(url)
            await ws.close()
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await session.ws_connect(url)
            assert info.value.status == 403
            return list(platform.violations)

    assert run_clean(scenario) == ["handshake with an unknown or already used ticket"]


def test_importing_the_core_or_the_testing_helpers_loads_neither_aiohttp_nor_protobuf() -> None:
    code = (
        "import sys, lark_events_core, lark_events_core.testing, lark_events_core.cli.forward\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'google')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
