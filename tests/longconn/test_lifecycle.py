"""Running inside an asyncio app, stopping cleanly, several clients, cluster mode."""

from __future__ import annotations

import asyncio
import collections
import threading
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from lark_events_core import Event
from lark_events_core.longconn import BootstrapRejected, ClientConfig, LongConnectionClient
from lark_events_core.testing import make_event
from lark_events_core.testing.fake_platform import BUSY

from .helpers import StrictPlatform, make_client, quiet_dispatcher, run_clean


def test_stop_while_connected_closes_the_socket_and_returns_from_run() -> None:
    async def scenario() -> None:
        async with StrictPlatform() as platform:
            client = make_client(platform, quiet_dispatcher())
            runner = asyncio.create_task(client.run())
            (conn,) = await platform.wait_for_connections(1)
            await client.stop()
            assert runner.done()
            assert runner.result() is None
            await platform.wait_until(lambda: not conn.open, 2.0, "server side closed")
            assert not client.connected
            await client.stop()  # idempotent

    run_clean(scenario)


def test_stop_lets_a_running_handler_finish_and_ack_first() -> None:
    async def scenario() -> None:
        dispatcher = quiet_dispatcher()
        started = asyncio.Event()

        @dispatcher.on("im.message.receive_v1")
        async def slow(event: Event[Any]) -> None:
            started.set()
            await asyncio.sleep(0.3)

        async with StrictPlatform() as platform:
            client = make_client(platform, dispatcher)
            async with client:
                await platform.wait_for_connections(1)
                pushed = await platform.push(make_event("im.message.receive_v1", {}))
                await started.wait()
                await client.stop(timeout=2.0)
                assert pushed.acked
                assert (await pushed.ack()).code == 200

    run_clean(scenario)


def test_stop_cancels_handlers_that_outlive_the_timeout() -> None:
    async def scenario() -> None:
        dispatcher = quiet_dispatcher()
        cancelled = asyncio.Event()

        @dispatcher.on("im.message.receive_v1")
        async def forever(event: Event[Any]) -> None:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        async with StrictPlatform() as platform:
            client = make_client(platform, dispatcher)
            async with client:
                await platform.wait_for_connections(1)
                pushed = await platform.push(make_event("im.message.receive_v1", {}))
                await asyncio.sleep(0.1)
                loop = asyncio.get_running_loop()
                t0 = loop.time()
                await client.stop(timeout=0.2)
                assert loop.time() - t0 < 3.0  # not the handler's 60 s
            assert cancelled.is_set()
            assert not pushed.acked  # the platform will redeliver it

    run_clean(scenario)


def test_stop_while_reconnecting() -> None:
    async def scenario() -> None:
        async with StrictPlatform() as platform:
            platform.script_bootstrap(*[BUSY] * 100)
            client = make_client(
                platform,
                quiet_dispatcher(),
                config=ClientConfig(reconnect_interval=30, reconnect_nonce=0),
            )
            runner = asyncio.create_task(client.run())
            await platform.wait_until(lambda: platform.bootstrap_requests == 1, 2.0, "attempt")
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            await client.stop()
            assert loop.time() - t0 < 5.0  # did not wait out the 30 s interval
            assert runner.result() is None

    run_clean(scenario)


def test_stop_from_a_hook_ends_run() -> None:
    async def scenario() -> None:
        async with StrictPlatform() as platform:
            holder: list[LongConnectionClient] = []

            async def on_connected() -> None:
                await holder[0].stop()

            client = make_client(platform, quiet_dispatcher(), on_connected=on_connected)
            holder.append(client)
            await asyncio.wait_for(client.run(), 3.0)
            assert client.connections == 1
            assert not client.connected

    run_clean(scenario)


def test_cancelling_the_task_that_awaits_run_cleans_up_and_propagates() -> None:
    async def scenario() -> None:
        async with StrictPlatform() as platform:
            client = make_client(platform, quiet_dispatcher())
            runner = asyncio.create_task(client.run())
            (conn,) = await platform.wait_for_connections(1)
            runner.cancel()
            with pytest.raises(asyncio.CancelledError):
                await runner
            await platform.wait_until(lambda: not conn.open, 2.0, "server side closed")
            # The client can run again afterwards.
            async with client:
                await client.wait_connected(2.0)

    run_clean(scenario)


def test_a_stop_error_in_the_background_is_raised_by_wait_connected_and_on_exit() -> None:
    async def scenario() -> None:
        async with StrictPlatform() as platform:
            client = make_client(platform, quiet_dispatcher(), app_secret="wrong")
            with pytest.raises(BootstrapRejected):
                async with client:
                    with pytest.raises(BootstrapRejected):
                        await client.wait_connected(2.0)
            assert isinstance(client.error, BootstrapRejected)

    run_clean(scenario)


def test_run_twice_at_once_is_refused() -> None:
    async def scenario() -> None:
        async with (
            StrictPlatform() as platform,
            make_client(platform, quiet_dispatcher()) as client,
        ):
            await client.wait_connected(2.0)
            with pytest.raises(RuntimeError, match="already running"):
                await client.run()

    run_clean(scenario)


def test_start_refuses_to_block_a_running_loop() -> None:
    async def scenario() -> None:
        client = LongConnectionClient(quiet_dispatcher(), app_id="a", app_secret="s")
        with pytest.raises(RuntimeError, match=r"await client\.run"):
            client.start()

    run_clean(scenario)


def test_start_blocks_a_script_thread_until_stopped() -> None:
    async def scenario() -> None:
        async with StrictPlatform() as platform:
            holder: list[LongConnectionClient] = []
            threads: list[str] = []

            async def on_connected() -> None:
                threads.append(threading.current_thread().name)
                asyncio.get_running_loop().call_later(0.1, asyncio.ensure_future, holder[0].stop())

            client = make_client(platform, quiet_dispatcher(), on_connected=on_connected)
            holder.append(client)
            await asyncio.wait_for(asyncio.to_thread(client.start), 5.0)
            assert threads
            assert threads[0] != threading.current_thread().name
            assert client.connections == 1

    run_clean(scenario)


def test_two_clients_of_two_apps_in_one_process() -> None:
    async def scenario() -> None:
        seen: dict[str, list[str]] = {"a": [], "b": []}
        dispatchers = {}
        for name in seen:
            dispatcher = quiet_dispatcher()
            dispatcher.register("im.message.receive_v1", lambda e, n=name: seen[n].append(e.app_id))
            dispatchers[name] = dispatcher
        async with StrictPlatform(
            app_id="cli_a", app_secret="sa", apps={"cli_b": "sb"}
        ) as platform:
            a = make_client(platform, dispatchers["a"])
            b = make_client(platform, dispatchers["b"], app_id="cli_b", app_secret="sb")
            async with a, b:
                await platform.wait_for_connections(1, app_id="cli_a")
                await platform.wait_for_connections(1, app_id="cli_b")
                for app in ("cli_a", "cli_b", "cli_b"):
                    body = make_event("im.message.receive_v1", {}, app_id=app)
                    assert (await (await platform.push(body, app_id=app)).ack()).code == 200
                (old,) = platform.connections("cli_a")
                (other,) = platform.connections("cli_b")
                old.abort()  # one client's trouble...
                await platform.wait_until(
                    lambda: platform.connections("cli_a") not in ([], [old]), 3.0, "reconnect"
                )
                assert platform.connections("cli_b") == [other]  # ...is not the other's
                # The platform holds the new socket a moment before the client has counted its
                # handshake as done: wait for the client's side too.
                await platform.wait_until(lambda: a.connections == 2, 3.0, "a reconnected")
                assert a.connections == 2
                assert b.connections == 1
            platform.assert_no_violations()
        assert seen == {"a": ["cli_a"], "b": ["cli_b", "cli_b"]}

    run_clean(scenario)


def test_cluster_mode_each_event_goes_to_exactly_one_of_several_clients() -> None:
    async def scenario() -> None:
        received: collections.Counter[str] = collections.Counter()
        clients = []
        for index in range(3):
            dispatcher = quiet_dispatcher()

            async def handler(event: Event[Any], index: int = index) -> None:
                received[event.event_id or ""] += 1
                per_client[index] += 1

            dispatcher.register("im.message.receive_v1", handler)
            clients.append(dispatcher)
        per_client: collections.Counter[int] = collections.Counter()
        async with StrictPlatform(seed=7) as platform:
            running = [make_client(platform, d) for d in clients]
            for client in running:
                client.start_background()
            await platform.wait_for_connections(3)
            pushed = [
                await platform.push(make_event("im.message.receive_v1", {})) for _ in range(60)
            ]
            acks = [await p.ack() for p in pushed]
            for client in running:
                await client.stop()
            platform.assert_no_violations()
        assert all(a.code == 200 for a in acks)
        assert len(received) == 60
        assert set(received.values()) == {1}
        assert sorted(per_client) == [0, 1, 2]  # every client got a share
        assert len({ack.connection_id for ack in acks}) == 3

    run_clean(scenario)


def test_startable_from_an_aiohttp_apps_cleanup_ctx() -> None:
    async def scenario() -> None:
        dispatcher = quiet_dispatcher()
        seen: list[str] = []
        dispatcher.register("im.message.receive_v1", lambda e: seen.append(e.event_id))
        async with StrictPlatform() as platform:
            client = make_client(platform, dispatcher)
            app = web.Application()
            app.cleanup_ctx.append(client.cleanup_ctx)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            try:
                await platform.wait_for_connections(1)
                ack = await (await platform.push(make_event("im.message.receive_v1", {}))).ack()
                assert ack.code == 200
            finally:
                await runner.cleanup()
            assert not client.connected
            await platform.wait_for_connections(0)
        assert len(seen) == 1

    run_clean(scenario)


def test_hook_failures_are_logged_and_do_not_break_the_client() -> None:
    async def scenario() -> None:
        def broken(*args: object) -> None:
            raise RuntimeError("hook bug")

        async with StrictPlatform() as platform:
            client = make_client(platform, quiet_dispatcher(), on_connected=broken)
            async with client:
                await client.wait_connected(2.0)
                await platform.wait_for_connections(1)
                ack = await (await platform.push(make_event("x.y", {}))).ack()
                assert ack.code == 200

    run_clean(scenario)


def test_from_env_reads_the_app_credentials() -> None:
    client = LongConnectionClient.from_env(
        quiet_dispatcher(),
        {"LARK_APP_ID": "cli_env", "LARK_APP_SECRET": "very-secret", "LARK_DOMAIN": "http://d"},
    )
    assert (client.app_id, client.domain) == ("cli_env", "http://d")
    assert "very-secret" not in repr(client)
    with pytest.raises(ValueError, match="required"):
        LongConnectionClient.from_env(quiet_dispatcher(), {})


def test_the_session_is_closed_even_when_the_platform_is_unreachable() -> None:
    async def scenario() -> None:
        from tests.support.servers import free_port

        client = LongConnectionClient(
            quiet_dispatcher(),
            app_id="a",
            app_secret="s",
            domain=f"http://127.0.0.1:{free_port()}",
            config=ClientConfig(reconnect_count=2, reconnect_interval=0.05),
        )
        with pytest.raises(Exception, match="gave up after 2"):
            await client.run()
        assert aiohttp  # the module under test imports it lazily; keep the import honest

    run_clean(scenario)


def test_a_client_can_run_again_in_another_event_loop() -> None:
    dispatcher = quiet_dispatcher()
    dispatcher.register("im.message.receive_v1", lambda event: None)
    clients: list[LongConnectionClient] = []

    async def scenario() -> None:
        async with StrictPlatform() as platform:
            if not clients:
                clients.append(make_client(platform, dispatcher, max_in_flight=1))
            client = clients[0]
            client.domain = platform.domain
            async with client:
                await platform.wait_for_connections(1)
                pushed = [
                    await platform.push(make_event("im.message.receive_v1", {})) for _ in range(3)
                ]
                assert [(await p.ack()).code for p in pushed] == [200] * 3

    run_clean(scenario)
    run_clean(scenario)  # a second asyncio.run: nothing may stay bound to the first loop
    assert clients[0].connections == 2


def test_startable_from_an_asgi_lifespan_under_uvicorn() -> None:
    import uvicorn

    from tests.support.servers import free_port

    async def scenario() -> None:
        dispatcher = quiet_dispatcher()
        seen: list[str] = []
        dispatcher.register("im.message.receive_v1", lambda e: seen.append(e.event_id))
        async with StrictPlatform() as platform:
            client = make_client(platform, dispatcher)

            async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
                assert scope["type"] == "lifespan"
                message = await receive()
                assert message["type"] == "lifespan.startup"
                async with client:  # what a FastAPI lifespan would do
                    await send({"type": "lifespan.startup.complete"})
                    message = await receive()
                assert message["type"] == "lifespan.shutdown"
                await send({"type": "lifespan.shutdown.complete"})

            config = uvicorn.Config(
                app, host="127.0.0.1", port=free_port(), lifespan="on", log_level="warning"
            )
            server = uvicorn.Server(config)
            serving = asyncio.create_task(server.serve())
            await platform.wait_for_connections(1)
            ack = await (await platform.push(make_event("im.message.receive_v1", {}))).ack()
            assert ack.code == 200
            server.should_exit = True
            await asyncio.wait_for(serving, 10)
            assert not client.connected
            await platform.wait_for_connections(0)
        assert len(seen) == 1

    run_clean(scenario)
