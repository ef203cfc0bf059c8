"""The one-pass decoding of a plaintext (``decode_plaintext``) and the lazily parsed payload.

Whatever the one pass takes must classify exactly as ``classify(parse_object(...))`` does;
whatever it declines takes that general path. A field of an unexpected type never loses the
event: the typed model falls back to the tolerant builder, and the raw dict stays available.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lark_events_core import BadRequest, Dispatcher, Event, HandlerCall
from lark_events_core.envelope import Envelope, classify, decode_plaintext, parse_object
from lark_events_core.events import MessageReceive
from lark_events_core.testing import make_challenge, make_event, make_v1_event
from tests.core.helpers import MESSAGE_TYPE, TOKEN, dispatcher, signed, text_message


def _general(plaintext: bytes) -> Envelope | type[BadRequest]:
    try:
        return classify(parse_object(plaintext))
    except BadRequest:
        return BadRequest


def _same(fast: Envelope, general: Envelope) -> None:
    assert (fast.kind, fast.type, fast.header, fast.token, fast.challenge) == (
        general.kind,
        general.type,
        general.header,
        general.token,
        general.challenge,
    )
    assert fast.payload == general.payload


def test_a_v2_event_is_classified_in_one_pass_with_its_payload_parsed_on_first_access() -> None:
    plaintext = json.dumps(text_message("hi", event_id="ev-1")).encode()
    fast = decode_plaintext(plaintext)
    assert fast is not None
    assert fast.source is not None
    assert json.loads(bytes(fast.source)) == json.loads(plaintext)["event"]
    general = _general(plaintext)
    assert isinstance(general, Envelope)
    _same(fast, general)
    assert fast.payload is fast.payload  # parsed once
    assert "token" not in repr(fast)
    assert TOKEN not in repr(fast)


@pytest.mark.parametrize(
    "payload",
    [
        make_challenge(token=TOKEN),
        make_v1_event("message", {"text": "x"}, token=TOKEN),
        {"action": {"value": 1}, "open_id": "ou"},
        {"schema": "2.0", "header": {"event_type": 5}, "event": {}},
        {"schema": "2.0", "header": {"event_type": "a.b", "token": 7}, "event": {}},
        {"schema": "2.0", "header": None, "event": {}},
        {"schema": "2.0", "header": {"event_type": ""}, "event": {}},
        {"schema": "2.0", "header": {"event_type": "a.b"}, "type": "url_verification"},
        {"schema": "2.0", "header": {"event_type": "a.b"}, "encrypt": "abc"},
        {"schema": "2.0", "header": {"event_type": "a.b"}, "type": 3},
        [1, 2],
        "text",
    ],
    ids=[
        "url-verification",
        "v1",
        "legacy-card",
        "int-type",
        "int-token",
        "null-header",
        "empty-type",
        "challenge-type",
        "encrypted",
        "int-body-type",
        "array",
        "string",
    ],
)
def test_anything_but_a_plain_v2_body_is_left_to_the_general_path(payload: Any) -> None:
    assert decode_plaintext(json.dumps(payload).encode()) is None


@pytest.mark.parametrize(
    "plaintext",
    [b"", b"{", b'{"schema":"2.0","header":{"event_type":"a"},"x":"\xff"}', b"\xef\xbb\xbf{}"],
    ids=["empty", "truncated", "invalid-utf8", "bom"],
)
def test_what_the_parser_refuses_the_one_pass_refuses_too(plaintext: bytes) -> None:
    assert decode_plaintext(plaintext) is None
    assert _general(plaintext) is BadRequest


def test_a_number_msgspec_refuses_in_a_skipped_field_is_parsed_like_the_stdlib_does() -> None:
    plaintext = b'{"schema":"2.0","header":{"event_type":"a.b"},"event":{"x":1e999},"y":1e999}'
    fast = decode_plaintext(plaintext)
    assert fast is not None
    assert fast.payload == json.loads(plaintext)


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=5)
)
_json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=8,
)
_HEADER_FIELDS = ("event_id", "event_type", "create_time", "token", "app_id")
_header_values = st.one_of(_scalars, st.just("a.b"), st.just(TOKEN))
_bodies = st.fixed_dictionaries(
    {},
    optional={
        "schema": _json_values,
        "type": st.one_of(_json_values, st.just("url_verification"), st.just("event_callback")),
        "header": st.one_of(
            _json_values,
            st.fixed_dictionaries(
                {},
                optional=dict.fromkeys(_HEADER_FIELDS, _header_values),
            ),
        ),
        "event": _json_values,
        "encrypt": _json_values,
        "uuid": _json_values,
        "challenge": _json_values,
        "extra": _json_values,
    },
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_bodies)
def test_the_one_pass_classifies_exactly_as_the_general_path(body: dict[str, Any]) -> None:
    plaintext = json.dumps(body).encode()
    fast = decode_plaintext(plaintext)
    if fast is not None:
        general = _general(plaintext)
        assert isinstance(general, Envelope)
        _same(fast, general)


def _delivered(payload: dict[str, Any], **on: Any) -> Event[Any]:
    d = dispatcher(dedup=False)
    seen: list[Event[Any]] = []
    d.on(payload["header"]["event_type"], **on)(seen.append)
    response = d.handle(signed(payload))
    assert response.status == 200
    (event,) = seen
    return event


def test_a_mistyped_field_falls_back_to_the_tolerant_builder_and_loses_nothing() -> None:
    payload = text_message("hi")
    payload["event"]["message"]["chat_id"] = 12  # a number for a string
    payload["event"]["message"]["mentions"] = None  # null for a list
    payload["event"]["sender"]["sender_id"]["open_id"] = {"not": "a string"}
    event = _delivered(payload)
    body = event.event
    assert isinstance(body, MessageReceive)
    assert body.message is not None
    assert body.message.text == "hi"
    assert body.message.chat_id == "12"
    assert body.message.mentions == ()
    assert body.sender is not None
    assert body.sender.sender_id is not None
    assert body.sender.sender_id.open_id is None
    assert event.data == payload["event"]
    assert json.loads(event.raw) == payload


def test_data_and_payload_are_one_object_whichever_is_read_first() -> None:
    first_data = _delivered(text_message("a"))
    assert first_data.data is first_data.payload["event"]
    first_payload = _delivered(text_message("b"))
    assert first_payload.payload["event"] is first_payload.data
    assert first_payload.payload is first_payload.payload


def test_the_typed_body_decoded_from_the_raw_event_equals_the_tolerant_builders() -> None:
    from lark_events_core.events import from_dict

    payload = text_message("same")
    event = _delivered(payload)
    assert event.event == from_dict(MessageReceive, payload["event"])


def test_a_dataclass_model_is_built_from_the_lazily_parsed_data() -> None:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Mine:
        sender: Any = None

    payload = text_message("dc")
    event = _delivered(payload, model=Mine)
    assert event.event == Mine(sender=payload["event"]["sender"])


def test_the_long_connection_entry_takes_the_one_pass_too() -> None:
    d = Dispatcher(dedup=False)
    seen: list[Event[Any]] = []
    d.on(MESSAGE_TYPE, seen.append)
    plaintext = json.dumps(make_event(MESSAGE_TYPE, {"message": {"message_id": "om"}})).encode()
    call = d.prepare_plaintext(plaintext)
    assert isinstance(call, HandlerCall)
    assert call.event.event.message.message_id == "om"
    assert isinstance(call.event.header, msgspec.Struct)
