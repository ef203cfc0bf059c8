"""Realistic bodies for every event type lark-events knows, shaped like the platform's own.

Each call builds fresh ids (event, message, chat, user), so repeated builds never collide in a
deduplication store. The ``send`` command and :class:`~lark_events_core.testing.LarkSimulator`
share these templates; override any field with a dotted path (:func:`set_path`).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

from ._generated_templates import CALLBACKS as _GENERATED_CALLBACKS
from ._generated_templates import TEMPLATES as _GENERATED
from .requests import make_event, make_legacy_card, make_v1_event

__all__ = [
    "EVENT_TYPES",
    "TemplateKind",
    "build_payload",
    "event_body",
    "parse_assignment",
    "set_path",
    "template_kind",
]

TemplateKind = Literal["v2", "callback", "v1", "legacy_card"]


def _hex(n: int = 16) -> str:
    return secrets.token_hex(n)


def _user(tenant_key: str) -> dict[str, Any]:
    return {
        "union_id": f"on_{_hex()}",
        "user_id": _hex(4),
        "open_id": f"ou_{_hex()}",
    }


def _compact(value: Any) -> str:
    """JSON text as the platform writes it (message ``content``): no spaces."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _ms() -> str:
    return str(int(time.time() * 1000))


def _message_receive(tenant_key: str, app_id: str) -> dict[str, Any]:
    now = _ms()
    return {
        "sender": {
            "sender_id": _user(tenant_key),
            "sender_type": "user",
            "tenant_key": tenant_key,
        },
        "message": {
            "message_id": f"om_{_hex()}",
            "root_id": "",
            "parent_id": "",
            "create_time": now,
            "update_time": now,
            "chat_id": f"oc_{_hex()}",
            "thread_id": "",
            "chat_type": "p2p",
            "message_type": "text",
            "content": _compact({"text": "Hello from the lark-events simulator"}),
            "mentions": [],
            "user_agent": "Mozilla/5.0 (Macintosh) Lark/7.9.0",
        },
    }


def _message_read(tenant_key: str, app_id: str) -> dict[str, Any]:
    return {
        "reader": {"reader_id": _user(tenant_key), "read_time": _ms(), "tenant_key": tenant_key},
        "message_id_list": [f"om_{_hex()}", f"om_{_hex()}"],
    }


def _bot_chat(tenant_key: str, app_id: str) -> dict[str, Any]:
    return {
        "chat_id": f"oc_{_hex()}",
        "operator_id": _user(tenant_key),
        "external": False,
        "operator_tenant_key": tenant_key,
        "name": "Release planning",
        "i18n_names": {"zh_cn": "发布计划", "en_us": "Release planning", "ja_jp": "リリース計画"},
    }


def _user_created(tenant_key: str, app_id: str) -> dict[str, Any]:
    ids = _user(tenant_key)
    return {
        "object": {
            **ids,
            "name": "Zhang San",
            "en_name": "San Zhang",
            "nickname": "Sandy",
            "email": "zhangsan@example.com",
            "enterprise_email": "zhangsan@corp.example.com",
            "job_title": "Software Engineer",
            "mobile": "+86 13800000000",
            "gender": 1,
            "avatar": {
                "avatar_72": "https://example.com/avatar_72.jpg",
                "avatar_240": "https://example.com/avatar_240.jpg",
                "avatar_640": "https://example.com/avatar_640.jpg",
                "avatar_origin": "https://example.com/avatar.jpg",
            },
            "status": {
                "is_frozen": False,
                "is_resigned": False,
                "is_activated": True,
                "is_exited": False,
                "is_unjoin": False,
            },
            "department_ids": [f"od-{_hex()}"],
            "leader_user_id": _hex(4),
            "city": "Hangzhou",
            "country": "CN",
            "work_station": "F3-12",
            "join_time": int(time.time()),
            "is_tenant_manager": False,
            "employee_no": "1001",
            "employee_type": 1,
        }
    }


def _bot_menu(tenant_key: str, app_id: str) -> dict[str, Any]:
    return {
        "operator": {"operator_name": "Li Si", "operator_id": _user(tenant_key)},
        "event_key": "help",
        "timestamp": int(time.time()),
    }


def _operator(tenant_key: str) -> dict[str, Any]:
    return {"tenant_key": tenant_key, **_user(tenant_key)}


def _card_action(tenant_key: str, app_id: str) -> dict[str, Any]:
    return {
        "operator": _operator(tenant_key),
        "token": f"c-{_hex()}",
        "action": {"value": {"action": "approve"}, "tag": "button"},
        "host": "im_message",
        "delivery_type": "",
        "context": {
            "open_message_id": f"om_{_hex()}",
            "open_chat_id": f"oc_{_hex()}",
        },
    }


def _url_preview(tenant_key: str, app_id: str) -> dict[str, Any]:
    return {
        "operator": _operator(tenant_key),
        "host": "im_message",
        "context": {
            "url": "https://example.com/issues/42",
            "preview_token": _hex(),
            "open_message_id": f"om_{_hex()}",
            "open_chat_id": f"oc_{_hex()}",
        },
    }


def _message_v1(tenant_key: str, app_id: str) -> dict[str, Any]:
    ids = _user(tenant_key)
    return {
        "root_id": "",
        "parent_id": "",
        "open_chat_id": f"oc_{_hex()}",
        "chat_type": "private",
        "msg_type": "text",
        "open_id": ids["open_id"],
        "employee_id": ids["user_id"],
        "union_id": ids["union_id"],
        "open_message_id": f"om_{_hex()}",
        "is_mention": False,
        "text": "Hello from the lark-events simulator (v1)",
        "text_without_at_bot": "Hello from the lark-events simulator (v1)",
    }


def _app_ticket(tenant_key: str, app_id: str) -> dict[str, Any]:
    return {"app_ticket": f"ticket-{_hex()}"}


_V2: dict[str, Callable[[str, str], dict[str, Any]]] = {
    "im.message.receive_v1": _message_receive,
    "im.message.message_read_v1": _message_read,
    "im.chat.member.bot.added_v1": _bot_chat,
    "im.chat.member.bot.deleted_v1": _bot_chat,
    "contact.user.created_v3": _user_created,
    "application.bot.menu_v6": _bot_menu,
    "card.action.trigger": _card_action,
    "url.preview.get": _url_preview,
}
_V2.update({t: build for t, build in _GENERATED.items() if t not in _V2})  # every typed event
_V1: dict[str, Callable[[str, str], dict[str, Any]]] = {
    "message": _message_v1,
    "app_ticket": _app_ticket,
}
_CALLBACKS = frozenset({"card.action.trigger", "url.preview.get"}) | _GENERATED_CALLBACKS
#: v1 events whose ``event`` has no ``tenant_key`` on the platform (an app-level event).
_V1_WITHOUT_TENANT = frozenset({"app_ticket"})
LEGACY_CARD = "legacy_card"

#: Every type with a built-in template (the ``send`` command's choices).
EVENT_TYPES: tuple[str, ...] = (*_V2, *_V1, LEGACY_CARD)


def template_kind(event_type: str) -> TemplateKind:
    """How a type is delivered: a v2 event, a v2 callback, a v1 event or a legacy card callback.

    Types without a template are treated as v2 events.
    """
    if event_type == LEGACY_CARD:
        return "legacy_card"
    if event_type in _V1:
        return "v1"
    return "callback" if event_type in _CALLBACKS else "v2"


def event_body(
    event_type: str, *, tenant_key: str = "tenant_test", app_id: str = "cli_test_app"
) -> dict[str, Any]:
    """The ``event`` object of a fresh realistic body (``{}`` for a type without a template)."""
    build = _V2.get(event_type) or _V1.get(event_type)
    return build(tenant_key, app_id) if build is not None else {}


def build_payload(
    event_type: str,
    *,
    token: str | None = None,
    event_id: str | None = None,
    app_id: str = "cli_test_app",
    tenant_key: str = "tenant_test",
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A whole plaintext body for ``event_type``, with ``overrides`` (dotted path → value) applied.

    v2 types get the ``schema 2.0`` envelope, v1 types the ``event_callback`` one, and
    ``legacy_card`` the flat card-callback body. ``event_id`` is the v1 ``uuid`` for v1 types.
    """
    kind = template_kind(event_type)
    payload: dict[str, Any]
    if kind == "legacy_card":
        payload = make_legacy_card(
            {"value": {"action": "approve"}, "tag": "button"},
            open_id=f"ou_{_hex()}",
            user_id=_hex(4),
            tenant_key=tenant_key,
            open_message_id=f"om_{_hex()}",
            open_chat_id=f"oc_{_hex()}",
        )
    elif kind == "v1":
        body = event_body(event_type, tenant_key=tenant_key, app_id=app_id)
        payload = make_v1_event(
            event_type,
            body,
            token=token,
            event_uuid=event_id,
            app_id=app_id,
            tenant_key=None if event_type in _V1_WITHOUT_TENANT else tenant_key,
        )
    else:
        body = event_body(event_type, tenant_key=tenant_key, app_id=app_id)
        payload = make_event(
            event_type, body, token=token, event_id=event_id, app_id=app_id, tenant_key=tenant_key
        )
    for path, value in (overrides or {}).items():
        set_path(payload, path, value)
    return payload


def set_path(payload: dict[str, Any], path: str, value: Any) -> None:
    """Set ``payload["a"]["b"]["c"] = value`` for ``path="a.b.c"``, creating objects on the way.

    A value given as JSON text for a field that holds a string (such as ``message.content``,
    itself JSON text) stays text; otherwise JSON text is parsed (numbers, booleans, objects).
    """
    keys = path.split(".")
    if not path or any(not k for k in keys):
        raise ValueError(f"not a dotted path: {path!r}")
    node: dict[str, Any] = payload
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    last = keys[-1]
    if isinstance(value, str) and not isinstance(node.get(last), str):
        value = _json_or_text(value)
    node[last] = value


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_assignment(text: str) -> tuple[str, str]:
    """Split ``path=value`` (the ``--set`` syntax) into the path and the raw value."""
    path, sep, value = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise ValueError(f"expected PATH=VALUE, got {text!r}")
    return path, value
