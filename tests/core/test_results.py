"""Callback results: toast (with i18n), card (raw or template), URL preview, dict, None."""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any

import pytest

from lark_events_core import CallbackResponse, Card, Event, HandlerCall, Kind, Toast, UrlPreview
from lark_events_core.results import SupportsToDict, result_to_body
from lark_events_core.testing import make_event
from tests.core.helpers import TOKEN, body_of, dispatcher, signed


def test_toast_with_i18n() -> None:
    toast = Toast("saved", type="success", i18n={"zh_cn": "已保存", "en_us": "Saved"})
    assert toast.to_dict() == {
        "toast": {
            "type": "success",
            "content": "saved",
            "i18n": {"zh_cn": "已保存", "en_us": "Saved"},
        }
    }
    assert Toast("hi").to_dict() == {"toast": {"type": "info", "content": "hi"}}


def test_raw_card() -> None:
    card = {"schema": "2.0", "body": {"elements": []}}
    assert Card.raw(card).to_dict() == {"card": {"type": "raw", "data": card}}


def test_template_card_with_variables_and_version() -> None:
    assert Card.template("AAq", {"name": "x"}, version="1.0.1").to_dict() == {
        "card": {
            "type": "template",
            "data": {
                "template_id": "AAq",
                "template_variable": {"name": "x"},
                "template_version_name": "1.0.1",
            },
        }
    }
    assert Card.template("AAq").to_dict() == {
        "card": {"type": "template", "data": {"template_id": "AAq"}}
    }


def test_callback_response_combines_toast_and_card() -> None:
    both = CallbackResponse(toast=Toast("t"), card=Card.template("T1"))
    assert both.to_dict() == {
        "toast": {"type": "info", "content": "t"},
        "card": {"type": "template", "data": {"template_id": "T1"}},
    }
    assert CallbackResponse().to_dict() == {}


def test_url_preview_inline_and_card() -> None:
    preview = UrlPreview(
        title="Doc",
        i18n_title={"zh_cn": "文档"},
        image_key="img_1",
        url={"ios": "https://i", "pc": "https://p"},
        card=Card.template("T2", {"v": 1}),
    )
    assert preview.to_dict() == {
        "inline": {
            "title": "Doc",
            "i18n_title": {"zh_cn": "文档"},
            "image_key": "img_1",
            "url": {"ios": "https://i", "pc": "https://p"},
        },
        "card": {"type": "template", "data": {"template_id": "T2", "template_variable": {"v": 1}}},
    }
    assert UrlPreview().to_dict() == {}


@pytest.mark.parametrize(
    ("result", "body"),
    [
        (None, {}),
        ({"toast": {"type": "info", "content": "d"}}, {"toast": {"type": "info", "content": "d"}}),
        (Toast("x"), {"toast": {"type": "info", "content": "x"}}),
    ],
)
def test_result_to_body(result: Any, body: dict[str, Any]) -> None:
    assert result_to_body(result) == body


class _Builder:
    def to_dict(self) -> dict[str, Any]:
        return {"built": True}


class _BuilderDict(dict):  # type: ignore[type-arg]
    def to_dict(self) -> dict[str, Any]:
        return {"built": True}


class _NotABuilder:
    to_dict = None  # None: not a builder (as isinstance with the SupportsToDict Protocol says)


def test_results_are_taken_as_the_protocol_and_mapping_checks_say() -> None:
    # result_to_body checks what isinstance(result, SupportsToDict) and Mapping would, inline.
    plain = {"toast": {"type": "info", "content": "d"}}
    copied = result_to_body(plain)
    assert copied == plain
    assert copied is not plain  # a copy: the handler's dict is not held by the response
    assert result_to_body(MappingProxyType({"a": 1})) == {"a": 1}  # any Mapping, copied
    for builder in (_Builder(), _BuilderDict(ignored=True)):
        assert isinstance(builder, SupportsToDict)
        assert result_to_body(builder) == {"built": True}  # to_dict first, even on a dict
    assert not isinstance(_NotABuilder(), SupportsToDict)
    with pytest.raises(TypeError):
        result_to_body(_NotABuilder())


@pytest.mark.parametrize("result", ["text", 5, ["list"], object()])
def test_other_results_are_a_type_error(result: Any) -> None:
    with pytest.raises(TypeError):
        result_to_body(result)


@pytest.mark.parametrize(
    ("event_type", "result", "expected"),
    [
        (
            "card.action.trigger",
            Toast("ok", i18n={"en_us": "OK"}),
            Toast("ok", i18n={"en_us": "OK"}).to_dict(),
        ),
        (
            "card.action.trigger",
            Card.raw({"elements": []}),
            {"card": {"type": "raw", "data": {"elements": []}}},
        ),
        ("card.action.trigger", {"plain": "dict"}, {"plain": "dict"}),
        ("card.action.trigger", None, {}),
        ("url.preview.get", UrlPreview(title="T"), {"inline": {"title": "T"}}),
        ("url.preview.get", None, {}),
    ],
)
def test_new_style_callbacks_answer_their_result(
    event_type: str, result: Any, expected: dict[str, Any]
) -> None:
    d = dispatcher()
    seen: list[Any] = []

    def handler(event: Any) -> Any:
        seen.append(event)
        return result

    d.on(event_type, handler)
    response = d.handle(signed(make_event(event_type, {"host": "im_message"}, token=TOKEN)))
    assert (response.status, body_of(response)) == (200, expected)
    assert seen[0].kind.is_callback


def test_callbacks_are_not_deduplicated_by_default() -> None:
    d = dispatcher()
    seen: list[Any] = []
    d.on("card.action.trigger", seen.append)
    payload = make_event("card.action.trigger", {}, token=TOKEN, event_id="cb-same")
    for _ in range(2):
        assert d.handle(signed(payload)).status == 200
    assert len(seen) == 2


def test_custom_callback_type() -> None:
    d = dispatcher()
    d.on("custom.callback", lambda e: Toast("c"), callback=True)
    response = d.handle(signed(make_event("custom.callback", {}, token=TOKEN)))
    assert body_of(response) == {"toast": {"type": "info", "content": "c"}}


def test_a_callback_type_registered_after_requests_is_one_from_the_next_request() -> None:
    # The dispatcher reads the registry's cached set of callback types on every request: a
    # registration must reach the requests after it (classified as a callback: not deduplicated).
    d = dispatcher()
    d.on("early.callback", lambda e: Toast("e"), callback=True)
    early = make_event("early.callback", {}, token=TOKEN, event_id="cb-early")
    assert body_of(d.handle(signed(early))) == {"toast": {"type": "info", "content": "e"}}
    kinds: list[Kind] = []

    def late(event: Event[Any]) -> Toast:
        kinds.append(event.kind)
        return Toast("l")

    d.on("late.callback", late, callback=True)
    payload = make_event("late.callback", {}, token=TOKEN, event_id="cb-late")
    for _ in range(2):
        assert body_of(d.handle(signed(payload))) == {"toast": {"type": "info", "content": "l"}}
    call = d.prepare_plaintext(json.dumps(payload).encode())
    assert isinstance(call, HandlerCall)
    assert [*kinds, call.event.kind] == [Kind.CALLBACK] * 3
