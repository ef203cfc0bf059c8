"""The generic ASGI application through httpx's ASGI transport and the ASGI protocol itself."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator, MutableMapping
from typing import Any

import httpx
import pytest

from lark_events_core import Dispatcher, Event, Toast
from lark_events_core.asgi import ASGIApp, route_path
from lark_events_core.testing import make_event, make_legacy_card, sign_event, sign_legacy_card
from tests.support.vectors import core_answer

KEY = "asgi_test_key"
TOKEN = "asgi_test_token"
JSON = "application/json; charset=utf-8"
Message = MutableMapping[str, Any]


def recording_dispatcher(**kwargs: Any) -> tuple[Dispatcher, list[Event[Any]]]:
    calls: list[Event[Any]] = []
    dispatcher = Dispatcher(encrypt_key=KEY, verification_token=TOKEN, **kwargs)
    dispatcher.on("im.message.receive_v1", calls.append)
    return dispatcher, calls


def signed_message(event_id: str | None = None) -> tuple[bytes, dict[str, str]]:
    req = sign_event(
        make_event("im.message.receive_v1", {"message": {}}, token=TOKEN, event_id=event_id),
        encrypt_key=KEY,
    )
    return req.body, req.headers


def request(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request through httpx's ASGI transport (no network, the app's real ASGI interface)."""

    async def main() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lark.test") as client:
            response = await client.request(method, path, **kwargs)
            await response.aread()
            return response

    return asyncio.run(main())


def test_request_vector_through_asgi(
    request_vector: dict[str, Any], vector_receiver: dict[str, Any]
) -> None:
    calls: list[Event[Any]] = []
    dispatcher = Dispatcher(
        encrypt_key=vector_receiver["encrypt_key"],
        verification_token=vector_receiver["verification_token"],
    )
    for event_type in vector_receiver["handlers"]:
        dispatcher.on(event_type, calls.append)
    resp = request(
        ASGIApp(dispatcher),
        "POST",
        "/webhook/event",
        content=request_vector["body"].encode("utf-8"),
        headers=request_vector["headers"],
    )
    assert resp.status_code == request_vector["expect_status"]
    assert resp.headers["content-type"] == JSON
    assert resp.headers["content-length"] == str(len(resp.content))
    payload = json.loads(resp.content)
    assert isinstance(payload, dict)
    if "expect_json" in request_vector:
        assert payload == request_vector["expect_json"]
    assert (resp.status_code, payload) == core_answer(request_vector)  # the message too
    handled = resp.status_code == 200 and request_vector["name"].startswith(
        ("v2-event-ok", "v2-event-lowercase")
    )
    assert len(calls) == (1 if handled else 0)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_get_a_json_405_with_allow(method: str) -> None:
    dispatcher, calls = recording_dispatcher()
    data, headers = signed_message()
    resp = request(ASGIApp(dispatcher), method, "/webhook/event", content=data, headers=headers)
    assert resp.status_code == 405
    assert resp.headers["content-type"] == JSON
    assert resp.headers["allow"] == "POST"
    assert resp.json() == {"msg": "method not allowed"}
    assert calls == []


def test_unknown_paths_get_a_json_404() -> None:
    dispatcher, calls = recording_dispatcher()
    data, headers = signed_message()
    resp = request(ASGIApp(dispatcher), "POST", "/webhook/other", content=data, headers=headers)
    assert (resp.status_code, resp.json()) == (404, {"msg": "not found"})
    assert resp.headers["content-type"] == JSON
    assert calls == []


def test_a_none_path_leaves_that_endpoint_out() -> None:
    dispatcher, _ = recording_dispatcher()
    app = ASGIApp(dispatcher, card_path=None)
    assert request(app, "POST", "/webhook/card", content=b"{}").status_code == 404


def test_body_over_the_limit_by_content_length_is_a_json_413() -> None:
    dispatcher, calls = recording_dispatcher(max_body_bytes=100)
    resp = request(ASGIApp(dispatcher), "POST", "/webhook/event", content=b"{" + b" " * 200 + b"}")
    assert resp.status_code == 413
    assert resp.headers["content-type"] == JSON
    assert resp.json() == {"msg": "request body too large"}
    assert calls == []


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_streamed_body_over_the_limit_is_a_413_without_reading_it_all() -> None:
    dispatcher, calls = recording_dispatcher(max_body_bytes=1000)
    pulled = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"x" * 400, "more_body": True}  # endless

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/webhook/event",
        "headers": [(b"transfer-encoding", b"chunked")],
    }
    asyncio.run(asyncio.wait_for(ASGIApp(dispatcher)(scope, receive, send), timeout=5))
    assert pulled == 3  # 1,200 bytes > 1,000: it stopped reading at once
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"]) == {"msg": "request body too large"}
    assert calls == []


def test_streamed_body_within_the_limit_is_handled() -> None:
    dispatcher, calls = recording_dispatcher()
    data, headers = signed_message("stream-1")
    resp = request(
        ASGIApp(dispatcher), "POST", "/webhook/event", content=_chunks(data, 9), headers=headers
    )
    assert resp.request.headers.get("transfer-encoding") == "chunked"
    assert (resp.status_code, resp.json()) == (200, {"msg": "success"})
    assert [e.event_id for e in calls] == ["stream-1"]


def test_client_disconnect_before_the_body_ends_answers_nothing() -> None:
    dispatcher, calls = recording_dispatcher()
    messages: Iterator[dict[str, Any]] = iter(
        [{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}]
    )

    async def receive() -> dict[str, Any]:
        return next(messages)

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/webhook/event", "headers": []}
    asyncio.run(ASGIApp(dispatcher)(scope, receive, send))
    assert sent == []
    assert calls == []


def test_legacy_card_and_callbacks_answer_the_handler_result() -> None:
    dispatcher = Dispatcher(encrypt_key=KEY, verification_token=TOKEN)

    @dispatcher.on_legacy_card
    def on_card(event: Event[Any]) -> Toast:
        return Toast("legacy")

    @dispatcher.on("card.action.trigger")
    async def on_click(event: Event[Any]) -> Toast:
        return Toast("new", type="success")

    app = ASGIApp(dispatcher)
    card = sign_legacy_card(make_legacy_card(), verification_token=TOKEN)
    resp = request(app, "POST", "/webhook/card", content=card.body, headers=card.headers)
    assert (resp.status_code, resp.json()) == (
        200,
        {"toast": {"type": "info", "content": "legacy"}},
    )
    click = sign_event(make_event("card.action.trigger", {}, token=TOKEN), encrypt_key=KEY)
    resp = request(app, "POST", "/webhook/event", content=click.body, headers=click.headers)
    assert resp.json() == {"toast": {"type": "success", "content": "new"}}
    # On the event path the card's SHA-1 signature is checked as an event signature: refused.
    resp = request(app, "POST", "/webhook/event", content=card.body, headers=card.headers)
    assert resp.status_code == 401


def test_an_unexpected_error_is_a_json_500_without_its_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dispatcher, _ = recording_dispatcher()

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(dispatcher, "handle_async", broken)
    data, headers = signed_message()
    resp = request(ASGIApp(dispatcher), "POST", "/webhook/event", content=data, headers=headers)
    assert (resp.status_code, resp.json()) == (500, {"msg": "internal error"})
    assert b"secret" not in resp.content


@pytest.mark.parametrize(
    ("path", "root_path", "expected"),
    [
        ("/webhook/event", "", "/webhook/event"),
        ("/webhook/event", "/webhook", "/event"),  # Starlette >= 0.33: full path + root_path
        ("/event", "/webhook", "/event"),  # older servers strip the prefix themselves
        ("/webhook", "/webhook", "/"),
        ("/webhookx/event", "/webhook", "/webhookx/event"),
    ],
)
def test_route_path_strips_the_mount_prefix(path: str, root_path: str, expected: str) -> None:
    assert route_path({"path": path, "root_path": root_path}) == expected


class _DrainSpy(Dispatcher):
    drained: list[float | None]

    async def aclose(self, timeout: float | None = 30.0) -> None:
        self.drained.append(timeout)


def _lifespan(app: ASGIApp) -> list[Message]:
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[Message] = []

    async def receive() -> dict[str, Any]:
        return next(incoming)

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app({"type": "lifespan"}, receive, send))
    return sent


def test_lifespan_shutdown_drains_the_dispatcher() -> None:
    dispatcher = _DrainSpy(encrypt_key=KEY)
    dispatcher.drained = []
    sent = _lifespan(ASGIApp(dispatcher, shutdown_timeout=3.0))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert dispatcher.drained == [3.0]


def test_a_failing_drain_reports_lifespan_shutdown_failed() -> None:
    class Failing(Dispatcher):
        async def aclose(self, timeout: float | None = 30.0) -> None:
            raise RuntimeError("stuck")

    sent = _lifespan(ASGIApp(Failing(encrypt_key=KEY)))
    assert sent[-1]["type"] == "lifespan.shutdown.failed"
    assert "stuck" not in sent[-1]["message"]


def test_websocket_connections_are_closed() -> None:
    dispatcher, _ = recording_dispatcher()
    sent: list[Message] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(ASGIApp(dispatcher)({"type": "websocket", "path": "/"}, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008}]


def test_mounted_in_starlette_under_a_prefix() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    dispatcher, calls = recording_dispatcher()
    app = Starlette(
        routes=[Mount("/lark", app=ASGIApp(dispatcher, event_path="/event", card_path="/card"))]
    )
    data, headers = signed_message("starlette-1")
    resp = request(app, "POST", "/lark/event", content=data, headers=headers)
    assert (resp.status_code, resp.json()) == (200, {"msg": "success"})
    assert request(app, "GET", "/lark/event").status_code == 405
    assert [e.event_id for e in calls] == ["starlette-1"]


def test_lifespan_shutdown_waits_for_deferred_handlers() -> None:
    dispatcher = Dispatcher(encrypt_key=KEY, verification_token=TOKEN)
    finished: list[str | None] = []

    @dispatcher.on("im.message.receive_v1", deferred=True)
    async def slow(event: Event[Any]) -> None:
        await asyncio.sleep(0.3)
        finished.append(event.event_id)

    app = ASGIApp(dispatcher)
    data, headers = signed_message("deferred-asgi")
    shutdown = asyncio.Event()
    sent: list[Message] = []

    async def lifespan_receive() -> dict[str, Any]:
        if not sent:
            return {"type": "lifespan.startup"}
        await shutdown.wait()
        return {"type": "lifespan.shutdown"}

    async def lifespan_send(message: Message) -> None:
        sent.append(message)

    async def main() -> list[str | None]:
        lifespan = asyncio.ensure_future(app({"type": "lifespan"}, lifespan_receive, lifespan_send))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            resp = await client.post("/webhook/event", content=data, headers=headers)
            assert (resp.status_code, resp.json()) == (200, {"msg": "success"})
        at_answer = list(finished)
        shutdown.set()
        await asyncio.wait_for(lifespan, timeout=5)
        return at_answer

    assert asyncio.run(main()) == []
    assert finished == ["deferred-asgi"]
    assert sent[-1] == {"type": "lifespan.shutdown.complete"}


def test_a_sync_handler_runs_in_a_worker_thread_unless_registered_blocking_false() -> None:
    import threading

    threads: dict[str, int] = {}
    dispatcher = Dispatcher(encrypt_key=KEY, verification_token=TOKEN)
    dispatcher.on("im.message.receive_v1", lambda e: threads.update(hop=threading.get_ident()))
    dispatcher.on(
        "card.action.trigger",
        lambda e: threads.update(loop=threading.get_ident()) or Toast("ok"),
        blocking=False,
    )
    app = ASGIApp(dispatcher)
    card = sign_event(make_event("card.action.trigger", {}, token=TOKEN), encrypt_key=KEY)

    async def main() -> tuple[int, int, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lark.test") as client:
            data, headers = signed_message()
            first = await client.post("/webhook/event", content=data, headers=headers)
            second = await client.post("/webhook/event", content=card.body, headers=card.headers)
            return first.status_code, second.status_code, threading.get_ident()

    first, second, loop_thread = asyncio.run(main())
    assert (first, second) == (200, 200)
    assert threads["hop"] != loop_thread
    assert threads["loop"] == loop_thread
