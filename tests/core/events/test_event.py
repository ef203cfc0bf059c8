"""The :class:`Event` envelope every handler receives, typed or not."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lark_events_core import Event, Kind, Request
from lark_events_core.testing import make_event, make_v1_event, sign_event
from tests.core.helpers import KEY, MESSAGE_TYPE, TOKEN, dispatcher, text_message


def _deliver(payload: Any, headers: dict[str, str] | None = None, **opts: Any) -> Event[Any]:
    d = dispatcher(dedup=False, **opts)
    seen: list[Event[Any]] = []
    event_type = (
        payload["header"]["event_type"] if "header" in payload else payload["event"]["type"]
    )
    d.on(event_type, seen.append)
    signed = sign_event(payload, encrypt_key=opts.get("encrypt_key", KEY))
    response = d.handle(Request.build("POST", {**signed.headers, **(headers or {})}, signed.body))
    assert response.status == 200
    return seen[0]


def test_v2_event_exposes_its_header_fields() -> None:
    payload = make_event(
        "custom.thing_v1",
        {"a": 1},
        token=TOKEN,
        event_id="ev-1",
        app_id="cli_app",
        tenant_key="tk-1",
        create_time="1700000000123",
    )
    event = _deliver(payload, {"X-Request-Id": "req-9"})
    assert event.kind is Kind.EVENT_V2
    assert event.type == event.event_type == "custom.thing_v1"
    assert event.event_id == "ev-1"
    assert event.app_id == "cli_app"
    assert event.tenant_key == "tk-1"
    assert event.create_time == "1700000000123"
    assert event.header.event_type == "custom.thing_v1"
    assert event.header.token == TOKEN
    assert event.request_id == "req-9"


def test_untyped_event_body_is_the_raw_dict() -> None:
    event = _deliver(make_event("custom.thing_v1", {"a": [1, 2]}, token=TOKEN))
    assert event.event == {"a": [1, 2]}
    assert event.data == {"a": [1, 2]}


def test_raw_is_the_decrypted_plaintext_exactly() -> None:
    payload = make_event(MESSAGE_TYPE, {"x": "é"}, token=TOKEN)
    event = _deliver(payload)
    assert json.loads(event.raw) == payload
    assert event.payload == payload


def test_request_id_prefers_x_tt_logid() -> None:
    event = _deliver(text_message(), {"X-Request-Id": "rid", "X-Tt-Logid": "logid"})
    assert event.request_id == "logid"


def test_request_id_is_none_without_headers() -> None:
    assert _deliver(text_message()).request_id is None


def test_v1_event_maps_uuid_ts_and_event_fields_onto_the_header() -> None:
    payload = make_v1_event(
        "message", {"text": "x"}, token=TOKEN, event_uuid="uu-1", app_id="cli_v1", tenant_key="t1"
    )
    event = _deliver(payload)
    assert event.kind is Kind.EVENT_V1
    assert event.type == "message"
    assert event.event_id == "uu-1"
    assert event.app_id == "cli_v1"
    assert event.tenant_key == "t1"
    assert event.create_time == payload["ts"]


def test_event_is_immutable_and_its_repr_hides_the_body() -> None:
    event = _deliver(text_message("BODY-MARKER"))
    with pytest.raises(AttributeError):
        event.type = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del event.raw
    with pytest.raises(AttributeError):  # no __dict__: no attribute can be added either
        event.anything = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        event.event = None
    assert event.type == MESSAGE_TYPE
    assert event.raw
    assert not hasattr(event, "anything")
    assert "BODY-MARKER" not in repr(event)
    assert TOKEN not in repr(event)
    assert MESSAGE_TYPE in repr(event)


def test_typed_body_is_built_once() -> None:
    event = _deliver(text_message())
    assert event.event is event.event


def test_custom_model_for_an_untyped_type() -> None:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Custom:
        a: int | None = None
        b: str | None = None

    d = dispatcher(dedup=False)
    seen: list[Event[Any]] = []
    d.on("custom.x", seen.append, model=Custom)
    d.handle(Request.build("POST", *_signed_parts(make_event("custom.x", {"a": 3, "z": 1}))))
    assert seen[0].event == Custom(a=3)


def _signed_parts(payload: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    payload["header"]["token"] = TOKEN
    s = sign_event(payload, encrypt_key=KEY)
    return s.headers, s.body
