"""Dispatcher.prepare_plaintext: already-authenticated bodies (long-connection frames)."""

from __future__ import annotations

import json
from typing import Any

from lark_events_core import Dispatcher, Event, HandlerCall, Kind, Response
from lark_events_core.testing import make_event, make_legacy_card


def _dispatcher() -> Dispatcher:
    return Dispatcher("k", "t", dedup=False)


def _body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def test_legacy_card_body_is_a_callback_call_with_card_true() -> None:
    d = _dispatcher()
    d.on_legacy_card(lambda event: {"toast": {"type": "info", "content": "ok"}})
    step = d.prepare_plaintext(_body(make_legacy_card()), request_id="r-1", card=True)
    assert isinstance(step, HandlerCall)
    assert step.event.kind is Kind.LEGACY_CARD
    assert step.event.request_id == "r-1"
    assert step.handler.callback
    response = d.run(step)
    assert (response.status, response.json_body()) == (
        200,
        {"toast": {"type": "info", "content": "ok"}},
    )


def test_legacy_card_body_is_rejected_without_card() -> None:
    d = _dispatcher()
    d.on_legacy_card(lambda event: None)
    step = d.prepare_plaintext(_body(make_legacy_card()))
    assert isinstance(step, Response)
    assert step.status == 400


def test_card_true_keeps_v2_events_and_custom_callback_types() -> None:
    d = Dispatcher("k", "t", dedup=False, callback_types=["my.custom.callback"])
    d.register("my.custom.callback", lambda event: {"done": True})
    seen: list[str | None] = []
    d.on("im.message.receive_v1", lambda event: seen.append(event.event_id))
    custom = d.prepare_plaintext(_body(make_event("my.custom.callback", {})), card=True)
    assert isinstance(custom, HandlerCall)
    assert custom.event.kind is Kind.CALLBACK
    assert d.run(custom).json_body() == {"done": True}
    message = d.prepare_plaintext(
        _body(make_event("im.message.receive_v1", {}, event_id="e-1")), card=True
    )
    assert isinstance(message, HandlerCall)
    assert message.event.kind is Kind.EVENT_V2
    assert d.run(message).status == 200
    assert seen == ["e-1"]


def test_unhandled_legacy_card_is_answered_with_an_empty_object() -> None:
    step = _dispatcher().prepare_plaintext(_body(make_legacy_card()), card=True)
    assert isinstance(step, Response)
    assert (step.status, step.body) == (200, b"{}")


def test_plaintext_that_is_not_an_event_is_a_400_json_answer() -> None:
    for body in (b"", b"[1]", b"not json", b'{"action": "x"}'):
        step = _dispatcher().prepare_plaintext(body, card=True)
        assert isinstance(step, Response)
        assert step.status == 400
        assert isinstance(step.json_body()["msg"], str)


def test_handler_sees_the_plaintext_as_raw() -> None:
    d = _dispatcher()
    raws: list[bytes] = []

    @d.on("im.message.receive_v1")
    def handler(event: Event[Any]) -> None:
        raws.append(event.raw)

    body = _body(make_event("im.message.receive_v1", {}))
    step = d.prepare_plaintext(body)
    assert isinstance(step, HandlerCall)
    d.run(step)
    assert raws == [body]
