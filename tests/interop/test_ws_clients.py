"""The official long-connection clients against the fake platform, each as a real process.

``@larksuiteoapi/node-sdk``'s ``WSClient`` and ``lark-oapi``'s ``ws.Client`` each bootstrap,
connect, ping, receive a whole, a fragmented (out of order) and a v1 event, acknowledge them (and
a handler failure with 500), survive a dropped connection and reconnect. The fake must accept
everything they send without a single violation: they work against the real server, so a
violation would be the fake's bug. What they send that the protocol does not describe is allowed
as a warning, and only from the list below. (The Go SDK is not tested here: no Go toolchain or
module proxy on this machine.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lark_events_core.testing import make_event, make_v1_event
from lark_events_core.testing.fake_platform import FakeConnection, FakePlatform

HERE = Path(__file__).resolve().parent

#: What the fake may warn about for an official client, and nothing else.
TOLERATED = (
    "negative biz_rt",  # Node: start - end
    "500 ack without biz_rt",  # lark-oapi: biz_rt only on success
    "LogID rounded to a double",  # Node: uint64 decoded as a JS number
)


@dataclass
class Process:
    """An official client's process and the JSON lines it printed."""

    proc: asyncio.subprocess.Process
    lines: list[dict[str, Any]] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    async def read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self.lines.append(json.loads(raw))

    async def read_stderr(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            self.stderr.append(raw.decode(errors="replace").rstrip())

    async def line(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0
    ) -> dict[str, Any]:
        """The first printed line for which ``predicate`` holds (waiting up to ``timeout`` s)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for line in self.lines:
                if predicate(line):
                    return line
            if loop.time() > deadline or self.proc.returncode is not None:
                raise AssertionError(f"no such line; printed {self.lines}, stderr {self.stderr}")
            await asyncio.sleep(0.02)

    async def event(self, event_id: str) -> dict[str, Any]:
        """The line the handler printed for ``event_id``."""
        return await self.line(lambda line: line.get("kind") == "event" and line["id"] == event_id)

    def logs(self, level: str) -> list[str]:
        """What the SDK logged at ``level`` (Node, whose logger prints JSON lines)."""
        return [
            line["msg"]
            for line in self.lines
            if line.get("kind") == "log" and line["level"] == level
        ]


@dataclass
class Outcome:
    """What a scenario left behind."""

    violations: list[str]
    warnings: list[str]
    client: Process


def message(platform: FakePlatform, text: str) -> dict[str, Any]:
    content = json.dumps({"text": text}, ensure_ascii=False, separators=(",", ":"))
    return make_event(
        "im.message.receive_v1",
        {"message": {"message_id": "om_interop", "content": content}},
        app_id=platform.app_id,
    )


async def deliver(
    platform: FakePlatform, client: Process, body: dict[str, Any], **push: Any
) -> str:
    """Push ``body``, wait for its ack (200) and for the handler's line; the text it saw."""
    ack = await (await platform.push(body, **push)).ack(timeout=10.0)
    assert ack.code == 200, ack
    event_id = body["header"]["event_id"] if "header" in body else body["uuid"]
    line = await client.event(event_id)
    text: str = line["text"]
    return text


async def new_connection(platform: FakePlatform, old: FakeConnection) -> FakeConnection:
    await platform.wait_until(
        lambda: platform.connections() not in ([], [old]), 20.0, "a new connection"
    )
    (conn,) = platform.connections()
    return conn


def run_official_client(
    command: list[str], *, cwd: Path, **platform_options: Any
) -> tuple[Outcome, dict[str, Any]]:
    """Run the whole scenario against ``command``; its outcome and a few observations."""
    seen: dict[str, Any] = {}

    async def scenario() -> Outcome:
        async with FakePlatform(**platform_options) as platform:
            env = {
                **os.environ,
                "APP_ID": platform.app_id,
                "APP_SECRET": platform.app_secret,
                "DOMAIN": platform.domain,
                "PYTHONUNBUFFERED": "1",
                "NO_PROXY": "127.0.0.1,localhost",
            }
            for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
                env.pop(proxy, None)
            proc = await asyncio.create_subprocess_exec(
                *command,
                cwd=cwd,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            client = Process(proc)
            readers = [
                asyncio.create_task(client.read()),
                asyncio.create_task(client.read_stderr()),
            ]
            try:
                await steps(platform, client, seen)
            finally:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 10.0)
                except asyncio.TimeoutError:
                    proc.kill()
                    await proc.wait()
                await asyncio.wait(readers, timeout=5.0)
            return Outcome(list(platform.violations), list(platform.warnings), client)

    return asyncio.run(asyncio.wait_for(scenario(), 120.0)), seen


async def steps(platform: FakePlatform, client: Process, seen: dict[str, Any]) -> None:
    (first,) = await platform.wait_for_connections(1, timeout=30.0)
    await platform.wait_until(lambda: first.pings >= 1, 10.0, "a ping")

    assert await deliver(platform, client, message(platform, "whole")) == '{"text":"whole"}'

    long_text = "fragmented é " + "x" * 4000
    body = message(platform, long_text)
    expected = body["event"]["message"]["content"]
    assert await deliver(platform, client, body, fragments=3, order=[2, 0, 1]) == expected

    v1 = make_v1_event("message", {"text": "v1 hello"}, app_id=platform.app_id)
    assert await deliver(platform, client, v1) == "v1 hello"

    failing = make_event("interop.fail_v1", {}, app_id=platform.app_id)
    ack = await (await platform.push(failing)).ack(timeout=10.0)
    assert ack.code == 500  # the platform redelivers it
    seen["failure_biz_rt"] = ack.biz_rt

    first.abort()  # a dropped TCP connection, no close frame
    second = await new_connection(platform, first)
    assert second.id != first.id
    assert platform.bootstrap_requests >= 2  # a fresh one-time URL for the reconnect
    assert await deliver(platform, client, message(platform, "after")) == '{"text":"after"}'

    await second.close()  # a clean close from the server: reconnects too
    third = await new_connection(platform, second)
    await platform.wait_until(lambda: third.pings >= 1, 10.0, "a ping on the new connection")
    assert await deliver(platform, client, message(platform, "again")) == '{"text":"again"}'

    platform.log_id_bits = 64  # ids a double cannot hold: what the Node client does with them
    pushed = await platform.push(message(platform, "big ids"))
    ack = await pushed.ack(timeout=10.0)
    assert ack.code == 200
    seen["big_log_id_echoed_exactly"] = ack.frame.log_id == pushed.frames[-1].log_id


def assert_only_tolerated(outcome: Outcome) -> None:
    assert outcome.violations == [], (outcome.violations, outcome.client.lines)
    unexpected = [w for w in outcome.warnings if not any(t in w for t in TOLERATED)]
    assert unexpected == [], unexpected


def test_node_sdk_ws_client_works_against_the_fake_platform(
    node_executable: str, node_sdk_dir: Path
) -> None:
    outcome, seen = run_official_client(
        [node_executable, str(node_sdk_dir / "ws_client.js")], cwd=node_sdk_dir
    )
    assert_only_tolerated(outcome)
    errors = outcome.client.logs("error")
    # The handler failure is logged; nothing else is (an empty pong would log an error each time).
    assert [e for e in errors if "invoke event failed" not in e] == [], errors
    assert any("handler failed on purpose" in e for e in errors)
    # Node decodes uint64 as a JS number: 64-bit LogIDs come back rounded, which the real server
    # evidently accepts (the client ships), so the fake accepts it with a warning.
    assert not seen["big_log_id_echoed_exactly"]
    assert any("LogID rounded to a double" in w for w in outcome.warnings)


def test_node_sdk_logs_an_error_on_every_empty_pong(
    node_executable: str, node_sdk_dir: Path
) -> None:
    """Why the fake's pongs carry the ClientConfig: with empty ones Node logs an error."""

    async def scenario() -> list[str]:
        async with FakePlatform(empty_pongs=True) as platform:
            env = {
                **os.environ,
                "APP_ID": platform.app_id,
                "APP_SECRET": platform.app_secret,
                "DOMAIN": platform.domain,
            }
            proc = await asyncio.create_subprocess_exec(
                node_executable,
                str(node_sdk_dir / "ws_client.js"),
                cwd=node_sdk_dir,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
            client = Process(proc)
            reader = asyncio.create_task(client.read())
            try:
                (conn,) = await platform.wait_for_connections(1, timeout=30.0)
                await platform.wait_until(lambda: conn.pings >= 2, 10.0, "two pings")
                await client.line(lambda line: "invalid pong payload" in line.get("msg", ""))
            finally:
                proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(proc.wait(), 10.0)
                await asyncio.wait({reader}, timeout=5.0)
            return client.logs("error")

    errors = asyncio.run(scenario())
    assert any("invalid pong payload" in e for e in errors)


def test_node_sdk_refuses_an_app_id_that_is_not_cli_and_16_hex_digits(
    node_executable: str, node_sdk_dir: Path
) -> None:
    """Why the fake's default app id is ``cli_`` + 16 hex digits."""

    async def scenario() -> tuple[int, list[str]]:
        async with FakePlatform(app_id="cli_fake_app") as platform:
            env = {
                **os.environ,
                "APP_ID": platform.app_id,
                "APP_SECRET": platform.app_secret,
                "DOMAIN": platform.domain,
            }
            proc = await asyncio.create_subprocess_exec(
                node_executable,
                str(node_sdk_dir / "ws_client.js"),
                cwd=node_sdk_dir,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
            client = Process(proc)
            reader = asyncio.create_task(client.read())
            try:
                await client.line(lambda line: "invalid appId" in line.get("msg", ""))
                await asyncio.sleep(0.3)
            finally:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(proc.wait(), 10.0)
                await asyncio.wait({reader}, timeout=5.0)
            return platform.bootstrap_requests, client.logs("error")

    requests, errors = asyncio.run(scenario())
    assert requests == 0
    assert any("invalid appId" in e for e in errors)


def test_lark_oapi_ws_client_works_against_the_fake_platform(lark_oapi_installed: None) -> None:
    outcome, seen = run_official_client(
        [sys.executable, str(HERE / "ws_lark_oapi_client.py")], cwd=HERE
    )
    assert_only_tolerated(outcome)
    # lark-oapi adds biz_rt only when the handler succeeds: the 500 ack has none.
    assert seen["failure_biz_rt"] is None
    assert any("500 ack without biz_rt" in w for w in outcome.warnings)
    # It decodes LogIDs as Python ints: exact even with 64 bits.
    assert seen["big_log_id_echoed_exactly"]
    assert "Traceback" not in "\n".join(outcome.client.stderr), outcome.client.stderr
