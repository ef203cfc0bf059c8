"""The fake platform's strictness: a sloppy client is caught, so passing against it means something.

These tests speak to the fake with a raw aiohttp WebSocket and hand-made frames.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
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
from lark_events_core.testing.fake_platform import DEFAULT_APP_ID, FakePlatform

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
    return raw_run(body, **platform_options)[0]


def raw_run(
    body: Callable[[FakePlatform, Raw, int], Awaitable[None]], **platform_options: Any
) -> tuple[list[str], list[str]]:
    """Run ``body`` against a fresh platform; the violations and the warnings it recorded."""

    async def scenario() -> tuple[list[str], list[str]]:
        async with FakePlatform(**platform_options) as platform, aiohttp.ClientSession() as s:
            ws, service_id = await connect(platform, s)
            try:
                await body(platform, ws, service_id)
            finally:
                await ws.close()
            return list(platform.violations), list(platform.warnings)

    result: tuple[list[str], list[str]] = run_clean(scenario)
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
    "SeqID changed": (lambda f: replace(good_ack(f), seq_id=f.seq_id + 1), "SeqID"),
    "LogID changed": (lambda f: replace(good_ack(f), log_id=f.log_id + 1), "LogID"),
    "payload_type set": (lambda f: replace(good_ack(f), payload_type="json"), "payload_type"),
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


def test_the_defaults_are_what_the_official_clients_need() -> None:
    async def body(platform: FakePlatform, ws: Raw, service_id: int) -> None:
        assert re.fullmatch(r"cli_[0-9a-f]{16}", platform.app_id)  # Node refuses anything else
        await ws.send_bytes(encode(Frame(0, 0, service_id, 0, (("type", "ping"),))))
        pong = decode((await ws.receive()).data)
        config = json.loads(pong.payload or b"")  # Node logs an error on every empty pong
        assert config == {
            "ReconnectCount": -1,
            "ReconnectInterval": 1,
            "ReconnectNonce": 0,
            "PingInterval": 1,
        }
        assert all(type(value) is int for value in config.values())  # Go decodes into int
        for _ in range(20):
            pushed = await platform.push(make_event("x.y", {}))
            frame = decode((await ws.receive()).data)
            assert 0 < frame.log_id < 2**53  # exact in a double (Node decodes it as one)
            await ws.send_bytes(encode(good_ack(frame)))
            await pushed.ack()

    assert DEFAULT_APP_ID.startswith("cli_")
    assert raw_run(body) == ([], [])


def test_the_bootstrap_answer_has_an_integer_client_config() -> None:
    async def scenario() -> Any:
        async with FakePlatform() as platform, aiohttp.ClientSession() as session:
            url = f"{platform.domain}/callback/ws/endpoint"
            credentials = {"AppID": platform.app_id, "AppSecret": platform.app_secret}
            async with session.post(url, json=credentials) as resp:
                return (await resp.json())["data"]["ClientConfig"]

    config = run_clean(scenario)
    assert config == {
        "ReconnectCount": -1,
        "ReconnectInterval": 1,
        "ReconnectNonce": 0,
        "PingInterval": 1,
    }
    assert all(type(value) is int for value in config.values())


def test_empty_pongs_on_request() -> None:
    async def body(platform: FakePlatform, ws: Raw, service_id: int) -> None:
        await ws.send_bytes(encode(Frame(0, 0, service_id, 0, (("type", "ping"),))))
        assert decode((await ws.receive()).data).payload is None

    assert raw_run(body, empty_pongs=True) == ([], [])


@pytest.mark.parametrize("strict", [False, True])
def test_a_bootstrap_without_content_type_is_accepted_with_a_warning(strict: bool) -> None:
    async def scenario() -> tuple[int, list[str], list[str]]:
        async with FakePlatform(strict=strict) as platform, aiohttp.ClientSession() as session:
            body = json.dumps({"AppID": platform.app_id, "AppSecret": platform.app_secret})
            async with session.post(  # as the Go SDK sends it: only a locale header
                f"{platform.domain}/callback/ws/endpoint",
                data=body.encode(),
                headers={"locale": "zh"},
                skip_auto_headers=["Content-Type"],
            ) as resp:
                code = (await resp.json())["code"]
            return code, list(platform.violations), list(platform.warnings)

    code, violations, warnings = run_clean(scenario)
    assert code == 0
    assert len(warnings) == 1
    assert "without Content-Type" in warnings[0]
    assert violations == (warnings if strict else [])


def _ack_500_without_biz_rt(frame: Frame) -> Frame:
    return replace(
        good_ack(frame, b'{"code":500,"headers":null,"data":null}'), headers=frame.headers
    )


TOLERATED: dict[str, tuple[Callable[[Frame], Frame], str | None]] = {
    # The Go encoder writes absent optional strings as empty ones: the same thing, no warning.
    "empty payload_encoding and payload_type": (
        lambda f: replace(good_ack(f), payload_encoding="", payload_type=""),
        None,
    ),
    "negative biz_rt (Node)": (
        lambda f: replace(good_ack(f), headers=(*f.headers, ("biz_rt", "-3"))),
        "negative biz_rt",
    ),
    "500 without biz_rt (lark-oapi)": (_ack_500_without_biz_rt, "500 ack without biz_rt"),
}


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("name", TOLERATED)
def test_what_the_official_clients_send_is_accepted_and_recorded(name: str, strict: bool) -> None:
    mutate, expected = TOLERATED[name]

    async def body(platform: FakePlatform, ws: Raw, service_id: int) -> None:
        pushed = await platform.push(make_event("x.y", {}))
        frame = decode((await ws.receive()).data)
        await ws.send_bytes(encode(mutate(frame)))
        await pushed.ack()

    violations, warnings = raw_run(body, strict=strict)
    if expected is None:
        assert (violations, warnings) == ([], [])
        return
    assert len(warnings) == 1, warnings
    assert expected in warnings[0]
    assert violations == (warnings if strict else [])


def test_a_log_id_rounded_to_a_double_is_tolerated_but_any_other_change_is_not() -> None:
    async def body(platform: FakePlatform, ws: Raw, service_id: int) -> None:
        for change in ("round", "round and add"):
            pushed = await platform.push(make_event("x.y", {}))
            frame = decode((await ws.receive()).data)
            rounded = int(float(frame.log_id))
            assert rounded != frame.log_id  # 64-bit ids (seeded: deterministic)
            log_id = rounded if change == "round" else rounded + 4096
            await ws.send_bytes(encode(replace(good_ack(frame), log_id=log_id)))
            await pushed.ack()

    violations, warnings = raw_run(body, log_id_bits=64, seed=3)
    assert len(warnings) == 1
    assert "LogID rounded to a double" in warnings[0]
    assert len(violations) == 1
    assert "LogID not echoed" in violations[0]


def test_an_ack_echoing_another_fragment_of_the_message_is_tolerated() -> None:
    async def body(platform: FakePlatform, ws: Raw, service_id: int) -> None:
        pushed = await platform.push(make_event("x.y", {"text": "x" * 300}), fragments=3)
        frames = [decode((await ws.receive()).data) for _ in range(3)]
        await ws.send_bytes(encode(good_ack(frames[0])))  # as the Go SDK may
        ack = await pushed.ack()
        assert ack.code == 200

    violations, warnings = raw_run(body)
    assert violations == []
    assert len(warnings) == 1
    assert "echoes fragment 0, not the one that completed the message (2)" in warnings[0]


def test_an_ack_of_a_fragment_that_echoes_nothing_right_is_reported_against_the_last() -> None:
    async def body(platform: FakePlatform, ws: Raw, service_id: int) -> None:
        pushed = await platform.push(make_event("x.y", {"text": "x" * 300}), fragments=2)
        frames = [decode((await ws.receive()).data) for _ in range(2)]
        await ws.send_bytes(encode(replace(good_ack(frames[0]), service=service_id + 1)))
        await pushed.ack()

    violations, warnings = raw_run(body)
    assert warnings == []
    problems = {v.split(": ", 1)[1] for v in violations}  # against the completing frame
    assert {"SeqID not echoed", "service not echoed", "headers not echoed exactly"} <= problems


def test_a_burst_of_pushes_arrives_whole_in_order_and_before_a_close() -> None:
    """Frames pushed in one loop iteration go out corked: the same frames, in push order, and a
    close right after the burst still comes after every one of them."""

    async def body(platform: FakePlatform, ws: Raw, service_id: int) -> None:
        bodies = [make_event("x.y", {"n": n}) for n in range(20)]
        pushed = await asyncio.gather(*(platform.push(b) for b in bodies))
        await platform.connections()[0].close(code=4000)
        received = []
        while (msg := await ws.receive()).type is aiohttp.WSMsgType.BINARY:
            received.append(msg.data)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 4000
        assert received == [encode(p.frames[0]) for p in pushed]
        assert [json.loads(decode(data).payload or b"")["event"] for data in received] == [
            {"n": n} for n in range(20)
        ]

    assert with_raw_client(body) == []


def test_an_ack_wait_that_times_out_can_be_awaited_again() -> None:
    async def body(platform: FakePlatform, ws: Raw, service_id: int) -> None:
        pushed = await platform.push(make_event("x.y", {}))
        frame = decode((await ws.receive()).data)
        with pytest.raises(TimeoutError, match="no ack"):
            await pushed.ack(timeout=0.05)
        assert not pushed.acked
        await ws.send_bytes(encode(good_ack(frame)))
        assert (await pushed.ack(timeout=5)).code == 200

    assert with_raw_client(body) == []


def test_ack_callbacks_get_the_recorded_ack_once_before_or_after_it_arrived() -> None:
    async def body(platform: FakePlatform, ws: Raw, service_id: int) -> None:
        seen: list[tuple[str, Any, bool]] = []
        arrived = asyncio.Event()

        def record(name: str) -> Callable[[Any], None]:
            def callback(ack: Any) -> None:
                seen.append((name, ack, ack in platform.acks))
                if name == "late":
                    arrived.set()

            return callback

        pushed = await platform.push(make_event("x.y", {}))
        other = await platform.push(make_event("x.y", {}))
        pushed.add_ack_callback(record("early"))
        other.add_ack_callback(record("never"))  # no ack comes for it
        frame = decode((await ws.receive()).data)
        await asyncio.sleep(0.05)
        assert seen == []  # nothing before the ack
        await ws.send_bytes(encode(good_ack(frame)))
        ack = await pushed.ack()
        pushed.add_ack_callback(record("late"))  # after it arrived: called soon all the same
        await asyncio.wait_for(arrived.wait(), 5)
        assert seen == [("early", ack, True), ("late", ack, True)]
        assert (ack.code, ack.message_id) == (200, pushed.message_id)

    assert with_raw_client(body) == []
