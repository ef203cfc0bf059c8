"""The built-in event templates: realistic, typed, fresh, and overridable."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lark_events_core import MODELS, Dispatcher, Event, HandlerCall
from lark_events_core.testing import EVENT_TYPES, LarkSimulator, build_payload, set_path
from lark_events_core.testing.templates import parse_assignment, template_kind


def test_every_typed_event_has_a_template() -> None:
    assert set(MODELS) == set(EVENT_TYPES)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_each_template_goes_through_the_dispatcher_as_its_type(event_type: str) -> None:
    dispatcher = Dispatcher(encrypt_key="k", verification_token="t")
    seen: list[Event[Any]] = []
    dispatcher.register(event_type, seen.append)
    sim = LarkSimulator("k", "t")
    request = sim.request(event_type).as_request()
    response = dispatcher.handle(request, card=event_type == "legacy_card")
    assert response.status == 200, response.body
    (event,) = seen
    assert event.type == event_type
    typed = event.event
    assert type(typed) is MODELS[event_type]
    optional = {
        "delivery_type",
        "union_id",
        "timezone",
        "name",
        "input_value",
        "form_value",
        "option",
        "checked",
        "url",
        "preview_token",
        "image_key",
        "file_key",
        "title",
    }
    missing = [
        f
        for f in typed.__struct_fields__
        if f not in optional and getattr(typed, f) in (None, "")
        and f not in ("root_id", "parent_id", "thread_id")
    ]  # fmt: skip
    assert not missing, f"{event_type} template leaves {missing} empty"


def test_message_template_is_a_text_message_with_json_content() -> None:
    payload = build_payload("im.message.receive_v1", token="t")
    message = payload["event"]["message"]
    assert message["message_type"] == "text"
    assert json.loads(message["content"]) == {"text": "Hello from the lark-events simulator"}
    assert message["content"] == '{"text":"Hello from the lark-events simulator"}'  # compact
    assert payload["header"]["token"] == "t"
    assert payload["header"]["create_time"].isdigit()


def test_each_build_has_fresh_ids() -> None:
    a, b = (build_payload("im.message.receive_v1") for _ in range(2))
    assert a["header"]["event_id"] != b["header"]["event_id"]
    assert a["event"]["message"]["message_id"] != b["event"]["message"]["message_id"]


def test_kinds() -> None:
    assert template_kind("im.message.receive_v1") == "v2"
    assert template_kind("card.action.trigger") == "callback"
    assert template_kind("message") == "v1"
    assert template_kind("legacy_card") == "legacy_card"
    assert template_kind("some.new.type_v9") == "v2"
    v1 = build_payload("app_ticket", token="t", event_id="u-1")
    assert v1["uuid"] == "u-1"
    assert v1["type"] == "event_callback"
    assert v1["event"]["type"] == "app_ticket"
    assert v1["token"] == "t"


def test_unknown_type_gets_an_empty_event() -> None:
    payload = build_payload("custom.thing_v1", overrides={"event.count": "3"})
    assert payload["header"]["event_type"] == "custom.thing_v1"
    assert payload["event"] == {"count": 3}


def test_set_path_keeps_text_fields_text_and_parses_others() -> None:
    payload = build_payload("im.message.receive_v1")
    set_path(payload, "event.message.content", '{"text":"hi"}')
    set_path(payload, "event.message.mentions", '[{"key":"@_user_1"}]')
    set_path(payload, "event.new.deep.flag", "true")
    set_path(payload, "event.message.chat_type", "group")
    assert payload["event"]["message"]["content"] == '{"text":"hi"}'
    assert payload["event"]["message"]["mentions"] == [{"key": "@_user_1"}]
    assert payload["event"]["new"] == {"deep": {"flag": True}}
    assert payload["event"]["message"]["chat_type"] == "group"


@pytest.mark.parametrize("bad", ["", ".a", "a..b", "a."])
def test_set_path_rejects_bad_paths(bad: str) -> None:
    with pytest.raises(ValueError):
        set_path({}, bad, "x")


def test_parse_assignment() -> None:
    assert parse_assignment("a.b=c=d") == ("a.b", "c=d")
    with pytest.raises(ValueError):
        parse_assignment("no-equals")


def test_callback_templates_are_classified_as_callbacks_by_the_core() -> None:
    sim = LarkSimulator(verification_token="t")
    dispatcher = Dispatcher(verification_token="t", dedup=False)
    for event_type in EVENT_TYPES:
        dispatcher.register(event_type, lambda event: None)
        call = dispatcher.prepare(
            sim.request(event_type).as_request(), card=event_type == "legacy_card"
        )
        assert isinstance(call, HandlerCall), event_type
        expected = template_kind(event_type) in ("callback", "legacy_card")
        assert call.event.kind.is_callback is expected, event_type


def test_v1_templates_carry_the_platforms_fields() -> None:
    # app_ticket is an app-level event: the platform sends app_id but no tenant_key.
    ticket = build_payload("app_ticket", token="t", app_id="cli_a")
    assert set(ticket) == {"uuid", "token", "ts", "type"} | {"event"}
    assert set(ticket["event"]) == {"app_id", "app_ticket", "type"}
    message = build_payload("message", app_id="cli_a", tenant_key="tk")
    assert (message["event"]["app_id"], message["event"]["tenant_key"]) == ("cli_a", "tk")
    assert message["event"]["type"] == "message"
