"""The aiohttp adapter through aiohttp's real test server and client."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from lark_events_aiohttp import DISPATCHER_KEY, get_dispatcher, make_handler, setup

from lark_events_core import Dispatcher, Event, Toast
from lark_events_core.testing import (
    make_challenge,
    make_event,
    make_legacy_card,
    sign_event,
    sign_legacy_card,
)
from tests.support.vectors import core_answer

KEY = "aiohttp_test_key"
TOKEN = "aiohttp_test_token"
JSON = "application/json; charset=utf-8"
T = TypeVar("T")


def run_with_client(
    app: web.Application, body: Callable[[TestClient[web.Request, web.Application]], Awaitable[T]]
) -> T:
    """Serve ``app`` on a real socket (aiohttp's TestServer) and run ``body`` with a client."""

    async def main() -> T:
        async with TestClient(TestServer(app)) as client:
            return await body(client)

    return asyncio.run(main())


def app_with(dispatcher: Dispatcher, **kwargs: Any) -> web.Application:
    app = web.Application()
    setup(app, dispatcher, **kwargs)
    return app


def recording_dispatcher(**kwargs: Any) -> tuple[Dispatcher, list[Event[Any]]]:
    calls: list[Event[Any]] = []
    dispatcher = Dispatcher(encrypt_key=KEY, verification_token=TOKEN, **kwargs)
    dispatcher.on("im.message.receive_v1", calls.append)
    return dispatcher, calls


def message(event_id: str | None = None) -> bytes:
    return sign_event(
        make_event("im.message.receive_v1", {"message": {}}, token=TOKEN, event_id=event_id),
        encrypt_key=KEY,
    ).body


def signed_message(event_id: str | None = None) -> tuple[bytes, dict[str, str]]:
    req = sign_event(
        make_event("im.message.receive_v1", {"message": {}}, token=TOKEN, event_id=event_id),
        encrypt_key=KEY,
    )
    return req.body, req.headers


# -- every request vector ---------------------------------------------------------------------


def test_request_vector_through_aiohttp(
    request_vector: dict[str, Any], vector_receiver: dict[str, Any]
) -> None:
    calls: list[Event[Any]] = []
    dispatcher = Dispatcher(
        encrypt_key=vector_receiver["encrypt_key"],
        verification_token=vector_receiver["verification_token"],
    )
    for event_type in vector_receiver["handlers"]:
        dispatcher.on(event_type, calls.append)

    async def body(client: TestClient[web.Request, web.Application]) -> tuple[int, str, Any]:
        resp = await client.post(
            "/webhook/event",
            data=request_vector["body"].encode("utf-8"),
            headers=request_vector["headers"],
        )
        return resp.status, resp.headers["Content-Type"], json.loads(await resp.read())

    status, content_type, payload = run_with_client(app_with(dispatcher), body)
    assert status == request_vector["expect_status"]
    assert content_type == JSON
    assert isinstance(payload, dict)
    if "expect_json" in request_vector:
        assert payload == request_vector["expect_json"]
    assert (status, payload) == core_answer(request_vector)  # the message too
    handled = status == 200 and request_vector["name"].startswith(
        ("v2-event-ok", "v2-event-lowercase")
    )
    assert len(calls) == (1 if handled else 0)


# -- methods and sizes ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/webhook/event", "/webhook/card"])
def test_other_methods_get_a_json_405(method: str, path: str) -> None:
    dispatcher, calls = recording_dispatcher()

    async def body(client: TestClient[web.Request, web.Application]) -> None:
        resp = await client.request(method, path, data=message())
        assert resp.status == 405
        assert resp.headers["Content-Type"] == JSON
        assert resp.headers["Allow"] == "POST"
        assert await resp.json() == {"msg": "method not allowed"}

    run_with_client(app_with(dispatcher), body)
    assert calls == []


def test_head_gets_405_without_a_body() -> None:
    dispatcher, _ = recording_dispatcher()

    async def body(client: TestClient[web.Request, web.Application]) -> None:
        resp = await client.head("/webhook/event")
        assert resp.status == 405
        assert resp.headers["Content-Type"] == JSON

    run_with_client(app_with(dispatcher), body)


def test_body_over_the_limit_by_content_length_is_a_json_413() -> None:
    dispatcher, calls = recording_dispatcher(max_body_bytes=256)

    async def body(client: TestClient[web.Request, web.Application]) -> None:
        resp = await client.post("/webhook/event", data=b"{" + b" " * 300 + b"}")
        assert resp.status == 413
        assert resp.headers["Content-Type"] == JSON
        assert await resp.json() == {"msg": "request body too large"}

    run_with_client(app_with(dispatcher), body)
    assert calls == []


def test_413_is_sent_before_the_body_arrives() -> None:
    """A huge Content-Length is refused at once: the server does not wait for the body."""
    dispatcher, _ = recording_dispatcher(max_body_bytes=1024)

    async def body(client: TestClient[web.Request, web.Application]) -> bytes:
        server = client.server
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(
            b"POST /webhook/event HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n{"
        )
        await writer.drain()
        try:
            return await asyncio.wait_for(reader.read(4096), timeout=5)
        finally:
            writer.close()

    raw = run_with_client(app_with(dispatcher), body)
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert b"content-type: application/json; charset=utf-8" in head.lower()
    assert json.loads(rest) == {"msg": "request body too large"}


async def _chunks(data: bytes, size: int = 100) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length-0", "chunked"])
def test_an_empty_body_is_the_cores_400_not_an_incomplete_one(
    chunked: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # aiohttp's empty stream raises IncompleteReadError on readexactly(0): a Content-Length: 0
    # body was answered "incomplete body" and logged as one that ended early.
    dispatcher, calls = recording_dispatcher()

    async def body(client: TestClient[web.Request, web.Application]) -> None:
        resp = await client.post("/webhook/event", data=_chunks(b"") if chunked else b"")
        sent = resp.request_info.headers
        if chunked:
            assert sent.get("Transfer-Encoding") == "chunked"
        else:
            assert sent.get("Content-Length") == "0"
        assert resp.status == 400
        assert resp.headers["Content-Type"] == JSON
        assert await resp.json() == {"msg": "empty body"}

    with caplog.at_level("INFO", logger="lark_events"):
        run_with_client(app_with(dispatcher), body)
    assert calls == []
    assert "ended early" not in caplog.text
    assert "empty body" in caplog.text


def test_chunked_body_over_the_limit_is_a_json_413() -> None:
    dispatcher, calls = recording_dispatcher(max_body_bytes=1000)

    async def body(client: TestClient[web.Request, web.Application]) -> None:
        resp = await client.post("/webhook/event", data=_chunks(b"x" * 5000))
        assert resp.request_info.headers.get("Transfer-Encoding") == "chunked"
        assert resp.status == 413
        assert resp.headers["Content-Type"] == JSON
        assert await resp.json() == {"msg": "request body too large"}

    run_with_client(app_with(dispatcher), body)
    assert calls == []


def test_chunked_body_within_the_limit_is_handled() -> None:
    dispatcher, calls = recording_dispatcher()
    data, headers = signed_message("chunked-1")

    async def body(client: TestClient[web.Request, web.Application]) -> None:
        resp = await client.post("/webhook/event", data=_chunks(data, 7), headers=headers)
        assert resp.request_info.headers.get("Transfer-Encoding") == "chunked"
        assert resp.status == 200
        assert await resp.json() == {"msg": "success"}

    run_with_client(app_with(dispatcher), body)
    assert [e.event_id for e in calls] == ["chunked-1"]


def test_the_dispatcher_limit_wins_over_client_max_size() -> None:
    """aiohttp's own (plain-text) 413 never answers: a body under our limit is read in full."""
    dispatcher, calls = recording_dispatcher(max_body_bytes=4 * 1024 * 1024)
    req = sign_event(
        make_event(
            "im.message.receive_v1",
            {"message": {"content": "x" * 300_000}},
            token=TOKEN,
            event_id="big-1",
        ),
        encrypt_key=KEY,
    )
    app = web.Application(client_max_size=1024)
    setup(app, dispatcher)

    async def body(client: TestClient[web.Request, web.Application]) -> None:
        resp = await client.post("/webhook/event", data=req.body, headers=req.headers)
        assert resp.status == 200

    assert len(req.body) > 300_000
    run_with_client(app, body)
    assert [e.event_id for e in calls] == ["big-1"]


# -- callbacks ----------------------------------------------------------------------------------


def test_legacy_card_callback_on_the_card_path_answers_the_handler_result() -> None:
    dispatcher = Dispatcher(encrypt_key=KEY, verification_token=TOKEN)
    seen: list[Any] = []

    @dispatcher.on_legacy_card
    async def on_card(event: Event[Any]) -> Toast:
        seen.append(event.data["open_message_id"])
        return Toast("done", type="success")

    req = sign_legacy_card(
        make_legacy_card({"value": {"k": "v"}, "tag": "button"}, open_message_id="om_1"),
        verification_token=TOKEN,
    )

    async def body(client: TestClient[web.Request, web.Application]) -> tuple[int, Any, int]:
        resp = await client.post("/webhook/card", data=req.body, headers=req.headers)
        wrong = await client.post(
            "/webhook/card", data=req.body, headers={**req.headers, "X-Lark-Signature": "0" * 40}
        )
        return resp.status, await resp.json(), wrong.status

    status, payload, wrong_status = run_with_client(app_with(dispatcher), body)
    assert status == 200
    assert payload == {"toast": {"type": "success", "content": "done"}}
    assert wrong_status == 401
    assert seen == ["om_1"]


def test_card_action_callback_answers_the_handler_result_and_empty_object_for_none() -> None:
    dispatcher = Dispatcher(encrypt_key=KEY, verification_token=TOKEN)

    @dispatcher.on("card.action.trigger")
    def on_click(event: Event[Any]) -> Toast | None:
        return Toast("saved") if event.data["action"]["value"] == "save" else None

    def click(value: str) -> Any:
        return sign_event(
            make_event("card.action.trigger", {"action": {"value": value}}, token=TOKEN),
            encrypt_key=KEY,
        )

    async def body(client: TestClient[web.Request, web.Application]) -> list[Any]:
        out = []
        for value in ("save", "other"):
            req = click(value)
            resp = await client.post("/webhook/event", data=req.body, headers=req.headers)
            assert resp.status == 200
            out.append(await resp.json())
        return out

    assert run_with_client(app_with(dispatcher), body) == [
        {"toast": {"type": "info", "content": "saved"}},
        {},
    ]


def test_url_verification_is_answered_plain_on_both_paths() -> None:
    dispatcher, _ = recording_dispatcher()

    async def body(client: TestClient[web.Request, web.Application]) -> list[Any]:
        out = []
        for path in ("/webhook/event", "/webhook/card"):
            req = sign_event(make_challenge("c-1", token=TOKEN), encrypt_key=KEY, sign=False)
            resp = await client.post(path, data=req.body, headers=req.headers)
            out.append((resp.status, await resp.json()))
        return out

    assert run_with_client(app_with(dispatcher), body) == [(200, {"challenge": "c-1"})] * 2


# -- errors ---------------------------------------------------------------------------------------


def test_handler_exception_is_a_json_500_without_its_text() -> None:
    dispatcher = Dispatcher(encrypt_key=KEY, verification_token=TOKEN)

    @dispatcher.on("im.message.receive_v1")
    async def boom(event: Event[Any]) -> None:
        raise RuntimeError("secret detail")

    data, headers = signed_message()

    async def body(client: TestClient[web.Request, web.Application]) -> tuple[int, bytes]:
        resp = await client.post("/webhook/event", data=data, headers=headers)
        return resp.status, await resp.read()

    status, raw = run_with_client(app_with(dispatcher), body)
    assert status == 500
    assert json.loads(raw) == {"msg": "internal error"}
    assert b"secret" not in raw


def test_an_unexpected_error_in_the_adapter_is_a_json_500(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dispatcher, _ = recording_dispatcher()

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(dispatcher, "handle_async", broken)
    data, headers = signed_message()

    async def body(client: TestClient[web.Request, web.Application]) -> tuple[int, str, bytes]:
        resp = await client.post("/webhook/event", data=data, headers=headers)
        return resp.status, resp.headers["Content-Type"], await resp.read()

    status, content_type, raw = run_with_client(app_with(dispatcher), body)
    assert (status, content_type) == (500, JSON)
    assert json.loads(raw) == {"msg": "internal error"}


# -- the event loop -------------------------------------------------------------------------------


def test_a_sync_handler_runs_in_a_thread_and_never_blocks_the_loop() -> None:
    """While a sync handler blocks, another request on the same loop is served."""
    released = threading.Event()
    handler_thread: list[str] = []
    dispatcher = Dispatcher(encrypt_key=KEY, verification_token=TOKEN)

    @dispatcher.on("im.message.receive_v1")
    def slow(event: Event[Any]) -> None:
        handler_thread.append(threading.current_thread().name)
        # Only the /ping handler, which runs on the loop, can set this.
        if not released.wait(timeout=5):
            raise RuntimeError("the event loop was blocked")

    async def ping(request: web.Request) -> web.Response:
        released.set()
        return web.json_response({"pong": True})

    app = app_with(dispatcher)
    app.router.add_get("/ping", ping)
    data, headers = signed_message()

    async def body(client: TestClient[web.Request, web.Application]) -> tuple[int, int]:
        slow_request = asyncio.ensure_future(
            client.post("/webhook/event", data=data, headers=headers)
        )
        while not handler_thread:
            await asyncio.sleep(0.01)
        pong = await asyncio.wait_for(client.get("/ping"), timeout=4)
        slow_response = await slow_request
        return pong.status, slow_response.status

    assert run_with_client(app, body) == (200, 200)
    assert handler_thread[0] != threading.main_thread().name


def test_a_blocking_false_sync_handler_runs_on_the_servers_loop_thread() -> None:
    dispatcher = Dispatcher(encrypt_key=KEY, verification_token=TOKEN)
    threads: list[int] = []
    dispatcher.on(
        "im.message.receive_v1", lambda e: threads.append(threading.get_ident()), blocking=False
    )
    data, headers = signed_message()

    async def body(client: TestClient[web.Request, web.Application]) -> tuple[int, int]:
        resp = await client.post("/webhook/event", data=data, headers=headers)
        return resp.status, threading.get_ident()

    status, loop_thread = run_with_client(app_with(dispatcher), body)
    assert status == 200
    assert threads == [loop_thread]


# -- state, routes, shutdown ----------------------------------------------------------------------


def test_setup_keeps_the_dispatcher_under_the_typed_app_key() -> None:
    dispatcher, _ = recording_dispatcher()
    app = app_with(dispatcher)
    assert isinstance(DISPATCHER_KEY, web.AppKey)
    assert app[DISPATCHER_KEY] is dispatcher
    assert get_dispatcher(app) is dispatcher
    with pytest.raises(RuntimeError, match="already"):
        setup(app, dispatcher)


def test_the_dispatcher_is_reachable_from_a_sub_application_request() -> None:
    dispatcher, calls = recording_dispatcher()
    parent = web.Application()
    sub = web.Application()
    setup(sub, dispatcher, card_path=None)

    async def which(request: web.Request) -> web.Response:
        return web.json_response({"same": get_dispatcher(request) is dispatcher})

    sub.router.add_get("/which", which)
    parent.add_subapp("/lark", sub)
    data, headers = signed_message("sub-1")

    async def body(client: TestClient[web.Request, web.Application]) -> tuple[Any, int, int]:
        which_resp = await client.get("/lark/which")
        event = await client.post("/lark/webhook/event", data=data, headers=headers)
        card = await client.post("/lark/webhook/card", data=data, headers=headers)
        return await which_resp.json(), event.status, card.status

    assert run_with_client(parent, body) == ({"same": True}, 200, 404)
    assert [e.event_id for e in calls] == ["sub-1"]


def test_routes_are_named_and_paths_are_configurable() -> None:
    dispatcher, calls = recording_dispatcher()
    app = app_with(dispatcher, event_path="/lark/events", card_path="/lark/cards")
    assert str(app.router["lark_events_event"].url_for()) == "/lark/events"
    assert str(app.router["lark_events_card"].url_for()) == "/lark/cards"
    data, headers = signed_message("path-1")

    async def body(client: TestClient[web.Request, web.Application]) -> tuple[int, int]:
        ok = await client.post("/lark/events", data=data, headers=headers)
        old = await client.post("/webhook/event", data=data, headers=headers)
        return ok.status, old.status

    assert run_with_client(app, body) == (200, 404)
    assert len(calls) == 1


class _DrainSpy(Dispatcher):
    """A dispatcher that records that (and with which timeout) it was drained."""

    drained: list[float | None]

    async def aclose(self, timeout: float | None = 30.0) -> None:
        self.drained.append(timeout)
        await super().aclose(timeout)


def test_on_cleanup_drains_the_dispatcher_when_the_runner_stops() -> None:
    dispatcher = _DrainSpy(encrypt_key=KEY, verification_token=TOKEN)
    dispatcher.drained = []
    app = app_with(dispatcher, shutdown_timeout=7.5)

    async def main() -> None:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        assert dispatcher.drained == []
        await runner.cleanup()

    asyncio.run(main())
    assert dispatcher.drained == [7.5]


def test_make_handler_alone_serves_a_route() -> None:
    dispatcher, calls = recording_dispatcher()
    app = web.Application()
    app.router.add_route("*", "/custom", make_handler(dispatcher))
    data, headers = signed_message("custom-1")

    async def body(client: TestClient[web.Request, web.Application]) -> tuple[int, int]:
        ok = await client.post("/custom", data=data, headers=headers)
        wrong = await client.get("/custom")
        return ok.status, wrong.status

    assert run_with_client(app, body) == (200, 405)
    assert [e.event_id for e in calls] == ["custom-1"]


def test_runner_cleanup_waits_for_deferred_handlers_still_running() -> None:
    """A deferred handler is answered at once and finishes before the app is torn down."""
    dispatcher = Dispatcher(encrypt_key=KEY, verification_token=TOKEN)
    finished: list[str | None] = []

    @dispatcher.on("im.message.receive_v1", deferred=True)
    async def slow(event: Event[Any]) -> None:
        await asyncio.sleep(0.5)
        finished.append(event.event_id)

    app = app_with(dispatcher)
    data, headers = signed_message("deferred-1")

    async def main() -> list[str | None]:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}/webhook/event"
            async with session.post(url, data=data, headers=headers) as resp:
                assert (resp.status, await resp.json()) == (200, {"msg": "success"})
        at_answer = list(finished)
        await runner.cleanup()
        return at_answer

    assert asyncio.run(main()) == []  # answered before the handler ran
    assert finished == ["deferred-1"]  # drained by on_cleanup


def test_setup_without_a_dispatcher_builds_one_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LARK_ENCRYPT_KEY", KEY)
    monkeypatch.setenv("LARK_VERIFICATION_TOKEN", TOKEN)
    app = web.Application()
    dispatcher = setup(app, max_body_bytes=2048)
    assert get_dispatcher(app) is dispatcher
    assert dispatcher.settings.max_body_bytes == 2048
    calls: list[Event[Any]] = []
    dispatcher.on("im.message.receive_v1", calls.append)
    data, headers = signed_message("env-1")

    async def body(client: TestClient[web.Request, web.Application]) -> tuple[int, int]:
        ok = await client.post("/webhook/event", data=data, headers=headers)
        forged = await client.post(
            "/webhook/event", data=data, headers={**headers, "X-Lark-Signature": "0" * 64}
        )
        return ok.status, forged.status

    assert run_with_client(app, body) == (200, 401)
    assert [e.event_id for e in calls] == ["env-1"]
