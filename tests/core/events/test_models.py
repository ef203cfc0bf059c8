"""Typed, frozen models for every event issue 2 lists, built tolerantly from real-shaped JSON."""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from lark_events_core import MODELS, Event, events
from lark_events_core.events import (
    AppTicket,
    BotAddedToChat,
    BotMenuClicked,
    BotRemovedFromChat,
    CardActionTrigger,
    EventHeader,
    MessageRead,
    MessageReceive,
    MessageV1,
    UrlPreviewGet,
    UserCreated,
    from_dict,
)
from lark_events_core.testing import make_event, make_v1_event
from tests.core.helpers import TOKEN, dispatcher, signed

OPERATOR_ID = {"open_id": "ou_op", "user_id": "u_op", "union_id": "on_op"}

SAMPLES: dict[str, dict[str, Any]] = {
    "im.message.receive_v1": {
        "sender": {"sender_id": OPERATOR_ID, "sender_type": "user", "tenant_key": "tk"},
        "message": {
            "message_id": "om_1",
            "root_id": "om_r",
            "parent_id": "om_p",
            "create_time": "1609073151345",
            "update_time": "1609073151345",
            "chat_id": "oc_1",
            "thread_id": "omt_1",
            "chat_type": "group",
            "message_type": "text",
            "content": '{"text":"@_user_1 hello"}',
            "mentions": [{"key": "@_user_1", "id": OPERATOR_ID, "name": "Tom", "tenant_key": "tk"}],
            "user_agent": "Mozilla/5.0",
        },
    },
    "im.message.message_read_v1": {
        "reader": {"reader_id": OPERATOR_ID, "read_time": "1609484183000", "tenant_key": "tk"},
        "message_id_list": ["om_a", "om_b"],
    },
    "im.chat.member.bot.added_v1": {
        "chat_id": "oc_9",
        "operator_id": OPERATOR_ID,
        "external": False,
        "operator_tenant_key": "tk",
        "name": "Team",
        "i18n_names": {"zh_cn": "团队", "en_us": "Team", "ja_jp": "チーム"},
    },
    "im.chat.member.bot.deleted_v1": {
        "chat_id": "oc_9",
        "operator_id": OPERATOR_ID,
        "external": True,
        "operator_tenant_key": "tk",
        "name": "Team",
    },
    "contact.user.created_v3": {
        "object": {
            "open_id": "ou_new",
            "union_id": "on_new",
            "user_id": "u_new",
            "name": "张三",
            "en_name": "San Zhang",
            "email": "z@example.com",
            "mobile": "+8613000000000",
            "gender": 1,
            "avatar": {"avatar_72": "https://a/72", "avatar_origin": "https://a/o"},
            "status": {"is_frozen": False, "is_activated": True},
            "department_ids": ["od_1", "od_2"],
            "join_time": 1615381702,
            "employee_type": 1,
            "is_tenant_manager": False,
        }
    },
    "application.bot.menu_v6": {
        "operator": {"operator_name": "Tom", "operator_id": OPERATOR_ID},
        "event_key": "menu.help",
        "timestamp": 1669278930,
    },
    "card.action.trigger": {
        "operator": {"tenant_key": "tk", "user_id": "u_op", "open_id": "ou_op"},
        "token": "c-update-token",
        "action": {
            "value": {"choice": "yes"},
            "tag": "button",
            "option": "opt1",
            "timezone": "Asia/Shanghai",
            "name": "confirm",
            "form_value": {"field": "v"},
            "input_value": "typed",
        },
        "host": "im_message",
        "delivery_type": "url_preview",
        "context": {
            "url": "https://x",
            "preview_token": "pt",
            "open_message_id": "om_c",
            "open_chat_id": "oc_c",
        },
    },
    "url.preview.get": {
        "operator": {"tenant_key": "tk", "open_id": "ou_op"},
        "host": "im_message",
        "context": {"url": "https://example.com/doc", "preview_token": "pt2"},
    },
}


def _event(event_type: str, body: dict[str, Any]) -> Event[Any]:
    d = dispatcher(dedup=False)
    seen: list[Event[Any]] = []
    d.on(event_type, seen.append)
    response = d.handle(signed(make_event(event_type, body, token=TOKEN)))
    assert response.status == 200
    return seen[0]


def test_every_listed_type_has_a_frozen_struct_model() -> None:
    listed = {*SAMPLES, "message", "app_ticket", "legacy_card"}
    assert listed <= set(MODELS)
    for model in MODELS.values():
        assert issubclass(model, msgspec.Struct)
        assert model.__struct_config__.frozen


def test_event_models_and_their_nested_models_are_not_tracked_by_the_gc() -> None:
    """gc=False: frozen, holding only JSON values, a model is in no reference cycle, so the
    models decoded per event add nothing to the collector's work (and cost less to allocate)."""
    import gc

    seen: set[type[Any]] = set()
    todo = [*MODELS.values(), EventHeader]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        assert model.__struct_config__.gc is False, model
        for field in msgspec.structs.fields(model):
            todo += [
                t
                for t in (field.type, *getattr(field.type, "__args__", ()))
                for t in (t, *getattr(t, "__args__", ()))
                if isinstance(t, type) and issubclass(t, msgspec.Struct)
            ]
    assert len(seen) > len(MODELS)  # the nested models were checked too
    body = msgspec.json.decode(
        json.dumps(SAMPLES["im.message.receive_v1"]).encode(), type=MessageReceive
    )
    assert body.message is not None
    assert not gc.is_tracked(body)
    assert not gc.is_tracked(body.message)


def test_the_lazy_model_names_agree_with_all_and_the_type_checking_imports() -> None:
    """The hand-written models are listed three times in ``events/__init__.py`` (the imports
    mypy reads, the table ``__getattr__`` loads from, ``__all__``): they must name the same
    classes, each found at run time in the module the imports name."""
    source = Path(events.__file__).read_text()
    block = next(
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    imported = {
        alias.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert imported == events._LAZY
    assert set(imported) <= set(events.__all__)
    for name, module in imported.items():
        value = getattr(events, name)
        assert value is getattr(importlib.import_module(f"lark_events_core.events.{module}"), name)
    assert {name for name in events.__all__ if not hasattr(events, name)} == set()


def test_message_receive_model_and_text_content() -> None:
    body = _event("im.message.receive_v1", SAMPLES["im.message.receive_v1"]).event
    assert isinstance(body, MessageReceive)
    assert body.sender is not None
    assert body.sender.sender_id is not None
    assert body.sender.sender_id.open_id == "ou_op"
    assert body.sender.sender_type == "user"
    message = body.message
    assert message is not None
    assert message.message_id == "om_1"
    assert message.chat_type == "group"
    assert message.thread_id == "omt_1"
    assert message.text == "@_user_1 hello"
    assert message.content_json == {"text": "@_user_1 hello"}
    assert message.mentions[0].key == "@_user_1"
    assert message.mentions[0].id is not None
    assert message.mentions[0].id.union_id == "on_op"


@pytest.mark.parametrize(
    ("message_type", "content", "text", "content_json"),
    [
        ("text", '{"text":"hi \\"there\\""}', 'hi "there"', {"text": 'hi "there"'}),
        ("image", '{"image_key":"img_1"}', None, {"image_key": "img_1"}),
        ("text", "not json", None, {}),
        ("text", "[1,2]", None, {}),
        ("text", '{"text": 5}', None, {"text": 5}),
        ("text", None, None, {}),
    ],
)
def test_message_text_is_parsed_only_for_valid_text_messages(
    message_type: str, content: str | None, text: str | None, content_json: dict[str, Any]
) -> None:
    message = from_dict(
        MessageReceive, {"message": {"message_type": message_type, "content": content}}
    ).message
    assert message is not None
    assert message.text == text
    assert message.content_json == content_json


def test_message_read_model() -> None:
    body = _event("im.message.message_read_v1", SAMPLES["im.message.message_read_v1"]).event
    assert isinstance(body, MessageRead)
    assert body.message_id_list == ("om_a", "om_b")
    assert body.reader is not None
    assert body.reader.read_time == "1609484183000"


@pytest.mark.parametrize(
    ("event_type", "model"),
    [
        ("im.chat.member.bot.added_v1", BotAddedToChat),
        ("im.chat.member.bot.deleted_v1", BotRemovedFromChat),
    ],
)
def test_bot_added_and_removed_models(event_type: str, model: type[Any]) -> None:
    body = _event(event_type, SAMPLES[event_type]).event
    assert isinstance(body, model)
    assert body.chat_id == "oc_9"
    assert body.operator_id.user_id == "u_op"
    assert body.external is (event_type.endswith("deleted_v1"))


def test_bot_added_i18n_names() -> None:
    body = _event("im.chat.member.bot.added_v1", SAMPLES["im.chat.member.bot.added_v1"]).event
    assert body.i18n_names.zh_cn == "团队"
    assert body.i18n_names.ja_jp == "チーム"


def test_user_created_model() -> None:
    body = _event("contact.user.created_v3", SAMPLES["contact.user.created_v3"]).event
    assert isinstance(body, UserCreated)
    user = body.object
    assert user is not None
    assert user.name == "张三"
    assert user.gender == 1
    assert user.department_ids == ("od_1", "od_2")
    assert user.avatar is not None
    assert user.avatar.avatar_72 == "https://a/72"
    assert user.status is not None
    assert user.status.is_activated is True
    assert user.join_time == 1615381702


def test_bot_menu_model() -> None:
    body = _event("application.bot.menu_v6", SAMPLES["application.bot.menu_v6"]).event
    assert isinstance(body, BotMenuClicked)
    assert body.event_key == "menu.help"
    assert body.timestamp == 1669278930
    assert body.operator is not None
    assert body.operator.operator_id is not None
    assert body.operator.operator_id.open_id == "ou_op"


def test_card_action_trigger_model() -> None:
    body = _event("card.action.trigger", SAMPLES["card.action.trigger"]).event
    assert isinstance(body, CardActionTrigger)
    assert body.token == "c-update-token"
    assert body.action is not None
    assert body.action.value == {"choice": "yes"}
    assert body.action.form_value == {"field": "v"}
    assert body.action.input_value == "typed"
    assert body.context is not None
    assert body.context.open_message_id == "om_c"
    assert body.operator is not None
    assert body.operator.open_id == "ou_op"
    assert "c-update-token" not in repr(body)


def test_url_preview_get_model() -> None:
    body = _event("url.preview.get", SAMPLES["url.preview.get"]).event
    assert isinstance(body, UrlPreviewGet)
    assert body.context is not None
    assert body.context.url == "https://example.com/doc"
    assert body.context.preview_token == "pt2"
    assert body.host == "im_message"


def test_v1_message_and_app_ticket_models() -> None:
    d = dispatcher(encrypt_key=None, dedup=False)
    seen: list[Event[Any]] = []
    d.on("message", seen.append)
    d.on("app_ticket", seen.append)
    v1_message = make_v1_event(
        "message",
        {
            "msg_type": "text",
            "text": "<at open_id='ou_bot'>@bot</at> hi",
            "open_id": "ou_u",
            "open_chat_id": "oc_1",
            "is_mention": True,
            "text_without_at_bot": " hi",
        },
        token=TOKEN,
    )
    ticket = make_v1_event("app_ticket", {"app_ticket": "TICKET-VALUE"}, token=TOKEN)
    from lark_events_core import Request

    for body in (v1_message, ticket):
        assert d.handle(Request.build("POST", {}, json.dumps(body).encode())).status == 200
    message, app_ticket = seen[0].event, seen[1].event
    assert isinstance(message, MessageV1)
    assert message.text_without_at_bot == " hi"
    assert message.is_mention is True
    assert message.open_chat_id == "oc_1"
    assert isinstance(app_ticket, AppTicket)
    assert app_ticket.app_ticket == "TICKET-VALUE"
    assert "TICKET-VALUE" not in repr(app_ticket)


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_unknown_fields_are_ignored(event_type: str) -> None:
    sample = json.loads(json.dumps(SAMPLES[event_type]))
    sample["brand_new_field"] = {"nested": [1, 2, 3]}
    for value in sample.values():
        if isinstance(value, dict):
            value["another_new_field"] = "x"
    model = MODELS[event_type]
    assert from_dict(model, sample) == from_dict(model, SAMPLES[event_type])


@pytest.mark.parametrize("event_type", sorted(MODELS))
@pytest.mark.parametrize(
    "junk",
    [None, [], "text", 5, {"message": "not an object", "sender": [1], "object": 3}],
    ids=["none", "list", "str", "int", "wrong-types"],
)
def test_wrong_shapes_become_defaults_never_exceptions(event_type: str, junk: Any) -> None:
    model = MODELS[event_type]
    built = from_dict(model, junk)
    assert isinstance(built, model)


def test_wrong_json_types_in_fields_become_defaults() -> None:
    body = from_dict(
        MessageReceive,
        {"message": {"message_id": ["x"], "mentions": "nope", "chat_id": 12, "root_id": True}},
    )
    assert body.message is not None
    assert body.message.message_id is None
    assert body.message.mentions == ()
    assert body.message.chat_id == "12"  # numbers become strings for string fields
    assert body.message.root_id is None


def test_int_fields_accept_numeric_strings_only() -> None:
    assert from_dict(BotMenuClicked, {"timestamp": "1669278930"}).timestamp == 1669278930
    assert from_dict(BotMenuClicked, {"timestamp": "12a"}).timestamp is None
    assert from_dict(BotMenuClicked, {"timestamp": True}).timestamp is None
    assert from_dict(BotMenuClicked, {"timestamp": "9" * 100}).timestamp is None


def test_models_are_immutable() -> None:
    body = from_dict(MessageReceive, SAMPLES["im.message.receive_v1"])
    with pytest.raises(AttributeError):
        body.message = None  # type: ignore[misc]
