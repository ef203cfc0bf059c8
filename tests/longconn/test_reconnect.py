"""Keepalive, config updates, reconnects and the liveness watchdog."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from lark_events_core.longconn import ClientConfig, ConnectionLost
from lark_events_core.longconn.config import MIN_SERVER_INTERVAL
from lark_events_core.testing import make_event
from lark_events_core.testing.fake_platform import BUSY

from .helpers import (
    NO_SERVER_CONFIG,
    StrictPlatform,
    fast_config,
    make_client,
    quiet_dispatcher,
    run_clean,
)


def test_the_client_pings_at_once_and_then_every_ping_interval() -> None:
    async def scenario() -> None:
        async with (
            StrictPlatform(client_config=NO_SERVER_CONFIG) as platform,
            make_client(platform, quiet_dispatcher(), config=fast_config(0.2)) as client,
        ):
            (conn,) = await platform.wait_for_connections(1)
            await platform.wait_until(lambda: conn.pings >= 1, 1.0, "first ping")
            loop = asyncio.get_running_loop()
            first_at = loop.time()
            await platform.wait_until(lambda: conn.pings >= 4, 5.0, "three more pings")
            assert loop.time() - first_at >= 0.55  # never faster than the interval
            assert client.config.ping_interval == 0.2  # the client's own: the server sent none
            platform.assert_no_violations()

    run_clean(scenario)


def test_a_pong_with_a_config_replaces_the_settings_and_reschedules_pings() -> None:
    async def scenario() -> None:
        bootstrap = {"ReconnectCount": -1, "ReconnectInterval": 5, "ReconnectNonce": 0}
        pong = {"PingInterval": 1, "ReconnectCount": 7}
        async with (
            StrictPlatform(
                client_config={**bootstrap, "PingInterval": 60}, pong_config=pong
            ) as platform,
            make_client(platform, quiet_dispatcher()) as client,
        ):
            (conn,) = await platform.wait_for_connections(1)
            # The first pong turns 60 s into 1 s: the next pings come at once, not in a minute.
            await platform.wait_until(lambda: conn.pings >= 3, 4.0, "pings every second")
            assert client.config.ping_interval == 1.0
            assert client.config.reconnect_count == 7
            assert client.config.reconnect_interval == 5.0  # absent from the pong: kept
            platform.assert_no_violations()

    run_clean(scenario)


def test_server_intervals_below_a_second_are_raised_to_one_second() -> None:
    async def scenario() -> None:
        garbage = {
            "ReconnectCount": -1,
            "ReconnectInterval": 0.001,
            "ReconnectNonce": 0,
            "PingInterval": 0.001,
        }
        async with (
            StrictPlatform(client_config=garbage) as platform,  # in every pong too
            make_client(platform, quiet_dispatcher(), config=fast_config(0.2)) as client,
        ):
            (conn,) = await platform.wait_for_connections(1)
            await asyncio.sleep(1.5)
            assert conn.pings <= 2  # at once, then a second later: not hundreds
            assert client.config.ping_interval == MIN_SERVER_INTERVAL
            assert client.config.reconnect_interval == MIN_SERVER_INTERVAL
            platform.script_bootstrap(*[BUSY] * 50)
            before = platform.bootstrap_requests
            conn.abort()
            await asyncio.sleep(1.5)
            assert platform.bootstrap_requests - before <= 2  # not one every millisecond

    run_clean(scenario)


def test_a_pong_with_zero_or_missing_interval_keeps_the_current_one() -> None:
    async def scenario() -> None:
        async with (
            StrictPlatform(pong_config={"PingInterval": 0, "ReconnectCount": 0}) as platform,
            make_client(platform, quiet_dispatcher()) as client,
        ):
            (conn,) = await platform.wait_for_connections(1)
            await platform.wait_until(lambda: conn.pings >= 1, 1.0, "a ping")
            await asyncio.sleep(0.3)
            assert conn.pings == 1  # no spinning
            assert client.config.ping_interval == 1.0
            assert client.config.reconnect_count == -1

    run_clean(scenario)


@pytest.mark.parametrize("how", ["close", "abort"])
def test_the_client_reconnects_after_the_server_drops_it(how: str) -> None:
    async def scenario() -> None:
        dispatcher = quiet_dispatcher()
        seen: list[str] = []
        dispatcher.register("im.message.receive_v1", lambda event: seen.append(event.event_id))
        events: list[Any] = []
        async with StrictPlatform() as platform:
            client = make_client(
                platform,
                dispatcher,
                on_connected=lambda: events.append("connected"),
                on_disconnected=lambda error: events.append(("disconnected", type(error))),
                on_reconnecting=lambda attempt: events.append(("reconnecting", attempt)),
            )
            async with client:
                (first,) = await platform.wait_for_connections(1)
                if how == "close":
                    await first.close()
                else:
                    first.abort()
                await platform.wait_until(
                    lambda: platform.connections() not in ([], [first]), 3.0, "a new connection"
                )
                (second,) = platform.connections()
                assert second.id != first.id
                await client.wait_connected(2.0)
                ack = await (await platform.push(make_event("im.message.receive_v1", {}))).ack()
                assert ack.code == 200
            platform.assert_no_violations()
        assert len(seen) == 1
        assert platform.bootstrap_requests == 2  # a fresh one-time URL for the reconnect
        assert events[:4] == [
            "connected",
            ("disconnected", ConnectionLost),
            ("reconnecting", 1),
            "connected",
        ]
        assert client.connections == 2

    run_clean(scenario)


def test_the_watchdog_reconnects_when_pings_go_unanswered() -> None:
    async def scenario() -> None:
        async with (
            StrictPlatform(client_config=NO_SERVER_CONFIG) as platform,
            make_client(
                platform, quiet_dispatcher(), liveness_timeout=0.5, config=fast_config(0.2)
            ),
        ):
            (first,) = await platform.wait_for_connections(1)
            await asyncio.sleep(0.8)
            assert platform.connections() == [first]  # answered pings: no reconnect
            first.go_silent()
            loop = asyncio.get_running_loop()
            silent_at = loop.time()
            await platform.wait_until(
                lambda: platform.connections() not in ([], [first]), 3.0, "a new connection"
            )
            elapsed = loop.time() - silent_at
            # Detected liveness_timeout after the first unanswered ping, not before.
            assert 0.4 < elapsed < 3.0
            platform.assert_no_violations()

    run_clean(scenario)


def test_without_the_watchdog_a_silent_connection_is_kept() -> None:
    async def scenario() -> None:
        async with (
            StrictPlatform(client_config=NO_SERVER_CONFIG) as platform,
            make_client(
                platform, quiet_dispatcher(), liveness_timeout=None, config=fast_config(0.1)
            ),
        ):
            (first,) = await platform.wait_for_connections(1)
            first.go_silent()
            await asyncio.sleep(0.6)
            assert platform.connections() == [first]

    run_clean(scenario)


def test_reconnect_waits_a_random_jitter_below_reconnect_nonce(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    draws: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        draws.append((low, high))
        return 0.25

    monkeypatch.setattr(random, "uniform", uniform)

    async def scenario() -> None:
        config = ClientConfig(reconnect_nonce=3, reconnect_interval=1, ping_interval=1)
        async with (
            StrictPlatform(client_config=config) as platform,
            make_client(platform, quiet_dispatcher()),
        ):
            (first,) = await platform.wait_for_connections(1)
            loop = asyncio.get_running_loop()
            dropped_at = loop.time()
            await first.close()
            await platform.wait_until(
                lambda: platform.connections() not in ([], [first]), 3.0, "a new connection"
            )
            assert loop.time() - dropped_at >= 0.25

    run_clean(scenario)
    assert draws == [(0, 3.0)]  # drawn once per reconnect, not for the first connect


def test_failed_attempts_are_spaced_by_reconnect_interval_until_one_succeeds() -> None:
    async def scenario() -> None:
        config = ClientConfig(reconnect_nonce=0, reconnect_interval=1, ping_interval=1)
        async with StrictPlatform(client_config=config) as platform:
            attempts: list[int] = []
            client = make_client(platform, quiet_dispatcher(), on_reconnecting=attempts.append)
            async with client:
                (first,) = await platform.wait_for_connections(1)
                platform.script_bootstrap(BUSY, BUSY)
                loop = asyncio.get_running_loop()
                dropped_at = loop.time()
                first.abort()
                await platform.wait_until(
                    lambda: platform.connections() not in ([], [first]), 5.0, "a new connection"
                )
                assert loop.time() - dropped_at >= 2.0  # two failures, two intervals
            assert attempts == [1, 2, 3]
            assert platform.bootstrap_requests == 4

    run_clean(scenario)


def test_a_peer_that_stops_reading_is_dropped_and_blocked_acks_are_released() -> None:
    async def scenario() -> None:
        dispatcher = quiet_dispatcher()
        big = {"card": {"elements": [{"tag": "markdown", "content": "x" * 2_000_000}]}}
        dispatcher.register("card.action.trigger", lambda event: big)
        async with StrictPlatform(client_config=NO_SERVER_CONFIG, ack_deadline=30) as platform:
            client = make_client(
                platform,
                dispatcher,
                liveness_timeout=0.5,
                close_timeout=0.5,
                config=fast_config(0.2),
            )
            async with client:
                (first,) = await platform.wait_for_connections(1)
                first.stop_reading()
                for _ in range(6):  # about 16 MB of acks: more than the socket buffers hold
                    await platform.push(make_event("card.action.trigger", {}), connection=first)
                await platform.wait_until(
                    lambda: platform.connections() not in ([], [first]), 5.0, "a new connection"
                )
                await client.wait_connected(2.0)
                # The acks stuck behind the stalled socket failed instead of hanging forever.
                await platform.wait_until(
                    lambda: client._receiver.in_flight == 0, 5.0, "no ack left blocked"
                )

    run_clean(scenario)
