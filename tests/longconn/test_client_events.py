"""Events, callbacks and acks between the client and the strict fake platform, over real sockets."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from typing import Any

from lark_events_core import Event, Toast
from lark_events_core.longconn import Delivery, Reply
from lark_events_core.testing import make_event, make_legacy_card, make_v1_event

from .helpers import (
    NO_SERVER_CONFIG,
    StrictPlatform,
    fast_config,
    make_client,
    quiet_dispatcher,
    run_clean,
)


def test_an_event_reaches_its_handler_and_is_acked_exactly_as_the_protocol_says() -> None:
    async def scenario() -> None:
        dispatcher = quiet_dispatcher()
        seen: list[Event[Any]] = []

        @dispatcher.on("im.message.receive_v1")
        async def on_message(event: Event[Any]) -> None:
            seen.append(event)

        async with StrictPlatform() as platform:
            async with make_client(platform, dispatcher):
                await platform.wait_for_connections(1)
                body = make_event(
                    "im.message.receive_v1",
                    {"message": {"message_id": "om_1", "content": '{"text":"hi"}'}},
                )
                pushed = await platform.push(body)
                ack = await pushed.ack()
            platform.assert_no_violations()
        assert [e.event_id for e in seen] == [body["header"]["event_id"]]
        assert seen[0].request_id == pushed.frames[0].header("trace_id")
        sent = pushed.frames[0]
        assert ack.frame.payload == b'{"code":200,"headers":null,"data":null}'
        assert ack.frame.headers[:-1] == sent.headers
        assert ack.frame.headers[-1][0] == "biz_rt"
        assert ack.biz_rt >= 0
        assert (ack.frame.seq_id, ack.frame.log_id, ack.frame.service, ack.frame.method) == (
            sent.seq_id,
            sent.log_id,
            sent.service,
            sent.method,
        )
        assert ack.frame.log_id_new == sent.log_id_new

    run_clean(scenario)


def test_v1_events_are_dispatched_too() -> None:
    async def scenario() -> None:
        dispatcher = quiet_dispatcher()
        seen: list[str] = []
        dispatcher.register("message", lambda event: seen.append(event.event_id))
        async with StrictPlatform() as platform, make_client(platform, dispatcher):
            await platform.wait_for_connections(1)
            body = make_v1_event("message", {"text": "hello"})
            assert (await (await platform.push(body)).ack()).code == 200
            platform.assert_no_violations()
        assert seen == [body["uuid"]]

    run_clean(scenario)


def test_fragments_out_of_order_are_joined_and_only_the_completing_one_is_acked() -> None:
    async def scenario() -> None:
        dispatcher = quiet_dispatcher()
        texts: list[str] = []

        @dispatcher.on("im.message.receive_v1")
        async def on_message(event: Event[Any]) -> None:
            texts.append(event.data["message"]["content"])

        content = "x" * 5000
        async with StrictPlatform() as platform, make_client(platform, dispatcher):
            await platform.wait_for_connections(1)
            body = make_event("im.message.receive_v1", {"message": {"content": content}})
            pushed = await platform.push(body, fragments=4, order=[3, 1, 0, 2])
            ack = await pushed.ack()
            await asyncio.sleep(0.1)
            platform.assert_no_violations()  # no ack for the three incomplete fragments
        assert texts == [content]
        assert ack.frame.header("seq") == "2"
        assert len(platform.acks) == 1

    run_clean(scenario)


def test_an_incomplete_message_is_never_acked_and_is_dropped_after_the_ttl() -> None:
    async def scenario() -> None:
        dispatcher = quiet_dispatcher()
        calls: list[str] = []
        dispatcher.register("im.message.receive_v1", lambda event: calls.append("x"))
        async with StrictPlatform() as platform:
            client = make_client(platform, dispatcher, fragment_ttl=0.3)
            async with client:
                (conn,) = await platform.wait_for_connections(1)
                body = make_event("im.message.receive_v1", {})
                pushed = await platform.push(body, fragments=3, order=[0, 2], message_id="m1")
                await asyncio.sleep(0.5)
                # The missing fragment arrives too late: the others were dropped.
                frame = pushed.frames[0]
                late = await platform.push(
                    body, fragments=3, order=[1], message_id="m1", connection=conn
                )
                await asyncio.sleep(0.3)
                assert not pushed.acked
                assert not late.acked
            platform.assert_no_violations()
        assert calls == []
        assert frame.header("sum") == "3"

    run_clean(scenario)


def test_a_callback_result_is_the_base64_json_data_of_the_ack() -> None:
    async def scenario() -> None:
        dispatcher = quiet_dispatcher()

        @dispatcher.on("card.action.trigger")
        def on_card(event: Event[Any]) -> Toast:
            return Toast("Done", type="success")

        async with StrictPlatform() as platform, make_client(platform, dispatcher):
            await platform.wait_for_connections(1)
            pushed = await platform.push(make_event("card.action.trigger", {"action": {}}))
            ack = await pushed.ack()
            platform.assert_no_violations()
        assert ack.code == 200
        assert ack.data == {"toast": {"type": "success", "content": "Done"}}
        assert json.loads(base64.b64decode(ack.payload["data"])) == ack.data

    run_clean(scenario)


def test_a_callback_without_a_result_still_sends_an_empty_object() -> None:
    async def scenario() -> None:
        dispatcher = quiet_dispatcher()
        dispatcher.register("card.action.trigger", lambda event: None)
        async with StrictPlatform() as platform, make_client(platform, dispatcher):
            await platform.wait_for_connections(1)
            ack = await (await platform.push(make_event("card.action.trigger", {}))).ack()
        assert (ack.code, ack.data) == (200, {})

    run_clean(scenario)


def test_type_card_frames_are_dispatched_and_acked_with_their_result() -> None:
    async def scenario() -> None:
        dispatcher = quiet_dispatcher()
        dispatcher.register("card.action.trigger", lambda event: {"toast": {"content": "v2"}})
        dispatcher.on_legacy_card(lambda event: {"config": {"wide_screen_mode": True}})
        async with StrictPlatform() as platform, make_client(platform, dispatcher):
            await platform.wait_for_connections(1)
            v2 = await platform.push(make_event("card.action.trigger", {}), frame_type="card")
            legacy = await platform.push(make_legacy_card(), frame_type="card")
            assert (await v2.ack()).data == {"toast": {"content": "v2"}}
            assert (await legacy.ack()).data == {"config": {"wide_screen_mode": True}}
            platform.assert_no_violations()

    run_clean(scenario)


def test_unregistered_types_are_acked_200_so_they_are_not_redelivered() -> None:
    async def scenario() -> None:
        dispatcher = quiet_dispatcher()
        async with StrictPlatform() as platform, make_client(platform, dispatcher):
            await platform.wait_for_connections(1)
            event = await platform.push(make_event("contact.user.created_v3", {}))
            callback = await platform.push(make_event("url.preview.get", {}))
            card = await platform.push(make_event("card.action.trigger", {}), frame_type="card")
            unknown_frame = await platform.push(b"\x00opaque", frame_type="something_new")
            assert ((await event.ack()).code, (await event.ack()).data) == (200, None)
            assert ((await callback.ack()).code, (await callback.ack()).data) == (200, {})
            assert (await card.ack()).data == {}
            assert (await unknown_frame.ack()).code == 200
            platform.assert_no_violations()

    run_clean(scenario)


def test_a_failing_handler_is_acked_500_without_its_exception_text() -> None:
    async def scenario() -> None:
        dispatcher = quiet_dispatcher()

        @dispatcher.on("im.message.receive_v1")
        async def broken(event: Event[Any]) -> None:
            raise RuntimeError("secret detail")

        async with StrictPlatform() as platform, make_client(platform, dispatcher):
            await platform.wait_for_connections(1)
            ack = await (await platform.push(make_event("im.message.receive_v1", {}))).ack()
            platform.assert_no_violations()
        assert ack.code == 500
        assert ack.frame.payload == b'{"code":500,"headers":null,"data":null}'

    run_clean(scenario)


def test_a_payload_that_is_not_an_event_is_acked_so_it_is_not_redelivered_forever() -> None:
    async def scenario() -> None:
        async with StrictPlatform() as platform, make_client(platform, quiet_dispatcher()):
            await platform.wait_for_connections(1)
            ack = await (await platform.push(b"[1,2]")).ack()
        assert ack.code == 200

    run_clean(scenario)


def test_a_custom_target_gets_the_delivery_and_its_reply_becomes_the_ack() -> None:
    async def scenario() -> None:
        deliveries: list[Delivery] = []

        async def target(delivery: Delivery) -> Reply:
            deliveries.append(delivery)
            return Reply(200, b'{"ok":true}')

        async with StrictPlatform() as platform, make_client(platform, target):
            await platform.wait_for_connections(1)
            pushed = await platform.push(b'{"any":"thing"}', frame_type="card")
            ack = await pushed.ack()
        assert ack.data == {"ok": True}
        (delivery,) = deliveries
        assert delivery.payload == b'{"any":"thing"}'
        assert (delivery.frame_type, delivery.message_id) == ("card", pushed.message_id)

    run_clean(scenario)


def test_a_target_that_raises_is_acked_500() -> None:
    async def scenario() -> None:
        async def target(delivery: Delivery) -> Reply:
            raise ValueError("boom")

        async with StrictPlatform() as platform, make_client(platform, target):
            await platform.wait_for_connections(1)
            assert (await (await platform.push(b"{}")).ack()).code == 500

    run_clean(scenario)


def test_sync_handlers_run_off_the_loop_and_never_block_pings_or_other_events() -> None:
    async def scenario() -> None:
        dispatcher = quiet_dispatcher()
        release = threading.Event()
        threads: list[str] = []

        @dispatcher.on("im.message.receive_v1")
        def slow(event: Event[Any]) -> None:
            threads.append(threading.current_thread().name)
            release.wait(5)

        @dispatcher.on("card.action.trigger")
        async def fast(event: Event[Any]) -> dict[str, Any]:
            return {"fast": True}

        async with StrictPlatform(client_config=NO_SERVER_CONFIG) as platform:
            async with make_client(
                platform, dispatcher, liveness_timeout=1.0, config=fast_config(0.1)
            ):
                (conn,) = await platform.wait_for_connections(1)
                blocked = await platform.push(make_event("im.message.receive_v1", {}))
                await asyncio.sleep(0.05)
                pings_before = conn.pings
                started = time.monotonic()
                quick = await platform.push(make_event("card.action.trigger", {}))
                assert (await quick.ack(timeout=2.0)).data == {"fast": True}
                assert time.monotonic() - started < 2.0  # not after the 5 s handler
                await platform.wait_until(
                    lambda: conn.pings >= pings_before + 3, 3.0, "pings while blocked"
                )
                assert not blocked.acked  # the loop kept pinging while the handler blocked
                release.set()
                assert (await blocked.ack()).code == 200
                assert platform.connections() == [conn]  # the watchdog did not fire
            platform.assert_no_violations()
        assert threads
        assert threads[0] != threading.main_thread().name

    run_clean(scenario)


def test_duplicate_deliveries_run_the_handler_once_and_are_both_acked() -> None:
    async def scenario() -> None:
        dispatcher = quiet_dispatcher()
        calls: list[str] = []
        dispatcher.register("im.message.receive_v1", lambda event: calls.append(event.event_id))
        async with StrictPlatform() as platform, make_client(platform, dispatcher):
            await platform.wait_for_connections(1)
            body = make_event("im.message.receive_v1", {})
            first = await (await platform.push(body)).ack()
            again = await (await platform.push(body)).ack()
        assert (first.code, again.code) == (200, 200)
        assert len(calls) == 1

    run_clean(scenario)


def test_max_in_flight_applies_backpressure_instead_of_unbounded_tasks() -> None:
    async def scenario() -> None:
        dispatcher = quiet_dispatcher()
        release = asyncio.Event()
        running: list[str] = []

        @dispatcher.on("im.message.receive_v1")
        async def held(event: Event[Any]) -> None:
            running.append(event.event_id or "")
            await release.wait()

        async with (
            StrictPlatform(client_config=NO_SERVER_CONFIG) as platform,
            make_client(
                platform,
                dispatcher,
                max_in_flight=2,
                liveness_timeout=0.3,
                config=fast_config(0.1),
            ),
        ):
            (conn,) = await platform.wait_for_connections(1)
            pushed = [
                await platform.push(make_event("im.message.receive_v1", {})) for _ in range(5)
            ]
            await asyncio.sleep(0.8)
            assert len(running) == 2  # the third frame is not even read yet
            # Pongs went unread meanwhile, yet the watchdog did not take that for a dead peer.
            assert platform.connections() == [conn]
            release.set()
            acks = [await p.ack() for p in pushed]
            platform.assert_no_violations()
        assert [a.code for a in acks] == [200] * 5
        assert len(running) == 5

    run_clean(scenario)


def test_deferred_handlers_are_acked_first_and_drained_by_dispatcher_aclose() -> None:
    async def scenario() -> None:
        dispatcher = quiet_dispatcher()
        release = asyncio.Event()
        done: list[str] = []

        @dispatcher.on("im.message.receive_v1", deferred=True)
        async def later(event: Event[Any]) -> None:
            await release.wait()
            done.append(event.event_id or "")

        async with StrictPlatform() as platform:
            async with make_client(platform, dispatcher):
                await platform.wait_for_connections(1)
                pushed = await platform.push(make_event("im.message.receive_v1", {}))
                ack = await pushed.ack(timeout=2.0)
                assert ack.code == 200
                assert done == []  # acknowledged before the handler ran
            release.set()
            await dispatcher.aclose(timeout=5.0)
        assert len(done) == 1

    run_clean(scenario)
