"""The Flask adapter through Flask's real test client: vectors, methods, limits, callbacks."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from flask import Flask
from lark_events_flask import make_blueprint

from lark_events_core import Dispatcher, Event
from lark_events_core.testing import (
    make_event,
    make_legacy_card,
    sign_event,
    sign_legacy_card,
)
from tests.support.vectors import core_answer

from .conftest import KEY, TOKEN

JSON_CT = "application/json; charset=utf-8"


def _message(event_id: str | None = None) -> dict[str, Any]:
    content = json.dumps({"text": "hello"})
    event = {"message": {"message_id": "om_1", "message_type": "text", "content": content}}
    return make_event("im.message.receive_v1", event, token=TOKEN, event_id=event_id)


def _json(response: Any) -> Any:
    assert response.headers["Content-Type"] == JSON_CT
    return json.loads(response.get_data())


def test_request_vector_gets_the_expected_answer(
    request_vector: dict[str, Any], vector_app: Flask, calls: list[Any]
) -> None:
    client = vector_app.test_client()
    response = client.post(
        "/webhook/event",
        data=request_vector["body"].encode("utf-8"),
        headers=request_vector["headers"],
    )
    assert response.status_code == request_vector["expect_status"]
    body = _json(response)
    assert isinstance(body, dict)
    if "expect_json" in request_vector:
        assert body == request_vector["expect_json"]
    assert (response.status_code, body) == core_answer(request_vector)  # the message too
    handled = request_vector["name"] in ("v2-event-ok", "v2-event-lowercase-headers")
    assert len(calls) == (1 if handled else 0)
    if handled:
        assert calls[0].type == "im.message.receive_v1"


def test_signed_encrypted_event_reaches_the_handler_once(app: Flask, calls: list[Any]) -> None:
    req = sign_event(_message("evt-once"), encrypt_key=KEY)
    client = app.test_client()
    first = client.post("/webhook/event", data=req.body, headers=req.headers)
    again = client.post("/webhook/event", data=req.body, headers=req.headers)
    assert (first.status_code, _json(first)) == (200, {"msg": "success"})
    assert (again.status_code, _json(again)) == (200, {"msg": "success"})
    assert [e.event_id for e in calls] == ["evt-once"]
    assert calls[0].event.message.text == "hello"


@pytest.mark.parametrize("path", ["/webhook/event", "/webhook/card"])
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_other_methods_get_a_json_405(app: Flask, path: str, method: str) -> None:
    response = app.test_client().open(path, method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert _json(response) == {"msg": "method not allowed"}


def test_head_gets_405_without_a_body(app: Flask) -> None:
    response = app.test_client().head("/webhook/event")
    assert response.status_code == 405
    assert response.headers["Content-Type"] == JSON_CT


class _Exploding(io.RawIOBase):
    """A body that must never be read."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the body was read")


class _Endless(io.RawIOBase):
    """A body far larger than any limit (8 MiB) that counts how much was read from it."""

    def __init__(self, size: int = 8 << 20) -> None:
        self.consumed = 0
        self.size = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.size - self.consumed)
        buffer[:n] = b"x" * n
        self.consumed += n
        return n


def _chunked(stream: Any) -> dict[str, Any]:
    """What a server that de-chunks the body puts in the environ (gunicorn, Werkzeug)."""
    return {"wsgi.input": stream, "wsgi.input_terminated": True, "CONTENT_LENGTH": ""}


def _small_app(limit: int, calls: list[Any]) -> Flask:
    disp = Dispatcher(encrypt_key=KEY, verification_token=TOKEN, max_body_bytes=limit)
    disp.on("im.message.receive_v1", calls.append)
    app = Flask(__name__)
    app.register_blueprint(make_blueprint(disp))
    return app


def test_content_length_over_the_limit_is_413_before_reading(calls: list[Any]) -> None:
    app = _small_app(1024, calls)
    response = app.test_client().post(
        "/webhook/event",
        content_type="application/json",
        environ_overrides={"wsgi.input": _Exploding(), "CONTENT_LENGTH": "1025"},
    )
    assert response.status_code == 413
    assert _json(response) == {"msg": "request body too large"}


def test_chunked_body_over_the_limit_is_read_only_up_to_the_limit(calls: list[Any]) -> None:
    app = _small_app(4096, calls)
    stream = _Endless()
    response = app.test_client().post(
        "/webhook/event",
        headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        environ_overrides=_chunked(stream),
    )
    assert response.status_code == 413
    assert _json(response) == {"msg": "request body too large"}
    assert 4096 < stream.consumed <= 4097
    assert calls == []


def test_chunked_body_within_the_limit_is_handled(calls: list[Any]) -> None:
    app = _small_app(64 * 1024, calls)
    req = sign_event(_message("evt-chunked"), encrypt_key=KEY)
    response = app.test_client().post(
        "/webhook/event",
        headers={**req.headers, "Transfer-Encoding": "chunked"},
        environ_overrides=_chunked(io.BytesIO(req.body)),
    )
    assert (response.status_code, _json(response)) == (200, {"msg": "success"})
    assert [e.event_id for e in calls] == ["evt-chunked"]


def test_body_exactly_at_the_limit_is_accepted(calls: list[Any]) -> None:
    req = sign_event(_message("evt-limit"), encrypt_key=KEY)
    app = _small_app(len(req.body), calls)
    response = app.test_client().post("/webhook/event", data=req.body, headers=req.headers)
    assert response.status_code == 200
    assert len(calls) == 1


def test_flask_max_content_length_below_ours_still_answers_json_413(app: Flask) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 10
    req = sign_event(_message(), encrypt_key=KEY)
    response = app.test_client().post(
        "/webhook/event",
        headers={**req.headers, "Transfer-Encoding": "chunked"},
        environ_overrides=_chunked(io.BytesIO(req.body)),
    )
    assert response.status_code == 413
    assert _json(response) == {"msg": "request body too large"}


def test_body_shorter_than_its_content_length_is_400(app: Flask, calls: list[Any]) -> None:
    req = sign_event(_message(), encrypt_key=KEY)
    response = app.test_client().post(
        "/webhook/event",
        headers=req.headers,
        environ_overrides={
            "wsgi.input": io.BytesIO(req.body),
            "CONTENT_LENGTH": str(len(req.body) + 50),
        },
    )
    assert response.status_code == 400
    assert "msg" in _json(response)
    assert calls == []


def test_garbage_body_is_400_json(app: Flask) -> None:
    response = app.test_client().post("/webhook/event", data=b"\xff\xfe garbage")
    assert response.status_code in (400, 401)
    assert isinstance(_json(response), dict)


def test_legacy_card_callback_answers_the_handlers_result(app: Flask, calls: list[Any]) -> None:
    req = sign_legacy_card(make_legacy_card({"value": {"k": "v"}}), verification_token=TOKEN)
    response = app.test_client().post("/webhook/card", data=req.body, headers=req.headers)
    assert (response.status_code, _json(response)) == (200, {"card": {"elements": []}})
    assert calls[0].data["action"]["value"] == {"k": "v"}


def test_legacy_card_with_a_bad_signature_is_401(app: Flask, calls: list[Any]) -> None:
    req = sign_legacy_card(make_legacy_card(), verification_token="someone-else")
    response = app.test_client().post("/webhook/card", data=req.body, headers=req.headers)
    assert response.status_code == 401
    assert calls == []


def test_legacy_card_body_on_the_event_endpoint_is_refused(app: Flask, calls: list[Any]) -> None:
    req = sign_legacy_card(make_legacy_card(), verification_token=TOKEN)
    response = app.test_client().post("/webhook/event", data=req.body, headers=req.headers)
    assert 400 <= response.status_code < 500
    assert calls == []


def test_card_action_callback_answers_with_the_result(app: Flask, calls: list[Any]) -> None:
    body = make_event("card.action.trigger", {"action": {"value": {"a": 1}}}, token=TOKEN)
    req = sign_event(body, encrypt_key=KEY)
    response = app.test_client().post("/webhook/event", data=req.body, headers=req.headers)
    assert (response.status_code, _json(response)) == (
        200,
        {"toast": {"type": "info", "content": "ok"}},
    )
    assert len(calls) == 1


def test_async_handler_runs_under_flask() -> None:
    disp = Dispatcher(encrypt_key=KEY, verification_token=TOKEN)
    seen: list[str] = []

    @disp.on("card.action.trigger")
    async def on_card(event: Event[Any]) -> dict[str, Any]:
        import asyncio

        await asyncio.sleep(0)
        seen.append(event.event_id)
        return {"toast": {"type": "success", "content": "async"}}

    app = Flask(__name__)
    app.register_blueprint(make_blueprint(disp))
    req = sign_event(
        make_event("card.action.trigger", {}, token=TOKEN, event_id="e-a"), encrypt_key=KEY
    )
    response = app.test_client().post("/webhook/event", data=req.body, headers=req.headers)
    assert (response.status_code, _json(response)) == (
        200,
        {"toast": {"type": "success", "content": "async"}},
    )
    assert seen == ["e-a"]


def test_failing_handler_is_500_without_exception_text() -> None:
    disp = Dispatcher(encrypt_key=KEY, verification_token=TOKEN)

    @disp.on("im.message.receive_v1")
    def boom(event: Event[Any]) -> None:
        raise RuntimeError("secret detail")

    app = Flask(__name__)
    app.register_blueprint(make_blueprint(disp))
    req = sign_event(_message(), encrypt_key=KEY)
    response = app.test_client().post("/webhook/event", data=req.body, headers=req.headers)
    assert response.status_code == 500
    assert _json(response) == {"msg": "internal error"}
    assert b"secret detail" not in response.get_data()


def test_blueprint_options_place_and_omit_endpoints(dispatcher: Dispatcher) -> None:
    app = Flask(__name__)
    bp = make_blueprint(dispatcher, name="lark", url_prefix="/lark", card_path=None)
    app.register_blueprint(bp)
    client = app.test_client()
    req = sign_event(_message(), encrypt_key=KEY)
    assert client.post("/lark/webhook/event", data=req.body, headers=req.headers).status_code == 200
    assert client.post("/lark/webhook/card", data=b"{}").status_code == 404
    assert client.post("/webhook/event", data=req.body, headers=req.headers).status_code == 404
    with app.test_request_context():
        from flask import url_for

        assert url_for("lark.event") == "/lark/webhook/event"


def test_custom_response_class_is_used(app: Flask) -> None:
    class Tagged(app.response_class):  # type: ignore[name-defined,misc]
        pass

    app.response_class = Tagged
    client = app.test_client()
    response = client.get("/webhook/event")
    assert response.status_code == 405
