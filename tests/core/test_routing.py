"""Message and card-action routes, precedence, the catch-all and middleware, in the core."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from lark_events_core import ConfigurationError, Dispatcher, Event, HandlerContext, Response
from lark_events_core.events import MessageReceive
from lark_events_core.testing import make_event, make_legacy_card

MESSAGE = "im.message.receive_v1"
BOT = {"open_id": "ou_bot", "union_id": "on_bot"}
USER = {"open_id": "ou_u", "user_id": "u_1", "union_id": "on_u"}


def message(
    text: str = "hello",
    *,
    chat_type: str = "p2p",
    message_type: str = "text",
    mentions: list[dict[str, Any]] | None = None,
) -> bytes:
    body = {
        "sender": {"sender_id": USER, "sender_type": "user", "tenant_key": "tk"},
        "message": {
            "message_id": "om_1",
            "chat_id": "oc_1",
            "chat_type": chat_type,
            "message_type": message_type,
            "content": json.dumps({"text": text} if message_type == "text" else {"k": "v"}),
            "mentions": mentions or [],
        },
    }
    return json.dumps(make_event(MESSAGE, body, token=None)).encode()


def card(value: Any, tag: str = "button", name: str | None = None) -> bytes:
    action: dict[str, Any] = {"value": value, "tag": tag}
    if name is not None:
        action["name"] = name
    body = {"operator": {"open_id": "ou_u"}, "token": "c-1", "action": action}
    return json.dumps(make_event("card.action.trigger", body, token=None)).encode()


def answer(d: Dispatcher, plaintext: bytes, *, is_card: bool = False) -> Response:
    step = d.prepare_plaintext(plaintext, card=is_card)
    return step if isinstance(step, Response) else d.run(step)


def new() -> Dispatcher:
    return Dispatcher(verification_token="t", dedup=False)


def recorder(d_calls: list[str], name: str) -> Callable[..., Any]:
    def handler(event: Event[Any], ctx: HandlerContext) -> None:
        d_calls.append(f"{name}:{ctx.text}")

    return handler


# -- message routes --------------------------------------------------------------------------


def test_exact_text_prefix_and_regex_each_reach_their_handler() -> None:
    d, calls = new(), []
    d.message("/help")(recorder(calls, "help"))
    d.message(prefix="/deploy")(recorder(calls, "deploy"))

    @d.message(regex=r"^ticket (\d+)$")
    def ticket(event: Event[MessageReceive], ctx: HandlerContext) -> None:
        assert ctx.match is not None
        calls.append(f"ticket:{ctx.match.group(1)}")

    for text in ("/help", "/deploy prod", "ticket 42", "something else"):
        assert answer(d, message(text)).status == 200
    assert calls == ["help:/help", "deploy:/deploy prod", "ticket:42"]


def test_compiled_pattern_as_text_is_a_regex_route() -> None:
    d, calls = new(), []
    d.message(re.compile(r"hi", re.I))(recorder(calls, "hi"))
    answer(d, message("oh HI there"))
    assert calls == ["hi:oh HI there"]


def test_chat_type_and_message_type_conditions() -> None:
    d, calls = new(), []
    d.message(chat_type="group")(recorder(calls, "group"))
    d.message(message_type="image")(recorder(calls, "image"))
    answer(d, message("x", chat_type="p2p"))
    answer(d, message("x", chat_type="group"))
    answer(d, message(message_type="image"))
    assert calls == ["group:x", "image:None"]


def test_bot_mention_is_matched_and_stripped_from_the_text() -> None:
    d, calls = new(), []
    d.bot_open_id = "ou_bot"
    d.message("/help", mentioned=True)(recorder(calls, "mentioned"))
    d.message("/help")(recorder(calls, "plain"))
    bot = [{"key": "@_user_1", "id": BOT, "name": "Bot"}]
    other = [{"key": "@_user_1", "id": USER, "name": "Tom"}]
    answer(d, message("@_user_1 /help", chat_type="group", mentions=bot))
    answer(d, message("/help"))
    answer(d, message("@_user_1 /help", chat_type="group", mentions=other))  # not the bot
    assert calls == ["mentioned:/help", "plain:/help"]


def test_without_bot_open_id_a_mention_without_user_id_is_the_bot() -> None:
    d, calls = new(), []
    d.message("/help", mentioned=True)(recorder(calls, "m"))
    answer(d, message("@_user_1  /help", mentions=[{"key": "@_user_1", "id": BOT}]))
    assert calls == ["m:/help"]


# -- precedence ------------------------------------------------------------------------------


def test_more_conditions_first_then_exact_over_regex_over_prefix_then_registration_order() -> None:
    d, calls = new(), []
    d.message(prefix="/d")(recorder(calls, "prefix"))
    d.message(regex="^/d")(recorder(calls, "regex"))
    d.message("/deploy")(recorder(calls, "exact"))
    d.message("/deploy", chat_type="group")(recorder(calls, "exact+group"))
    d.message(prefix="/de")(recorder(calls, "prefix2"))  # same strength as prefix: later
    answer(d, message("/deploy", chat_type="group"))
    answer(d, message("/deploy"))
    answer(d, message("/deploy now"))
    answer(d, message("/dx"))
    assert calls == ["exact+group:/deploy", "exact:/deploy", "regex:/deploy now", "regex:/dx"]


def test_plain_on_handler_is_the_fallback_whether_registered_before_or_after_routes() -> None:
    for first in ("on", "route"):
        d, calls = new(), []
        fallback = recorder(calls, "fallback")
        if first == "on":
            d.on(MESSAGE, fallback)
        d.message("/help")(recorder(calls, "help"))
        if first == "route":
            d.on(MESSAGE, fallback)
        answer(d, message("/help"))
        answer(d, message("other"))
        assert calls == ["help:/help", "fallback:None"], first


def test_unmatched_message_without_fallback_is_acknowledged() -> None:
    d = new()
    d.message("/help")(lambda e: None)
    assert answer(d, message("nothing")).body == b'{"msg":"success"}'


def test_same_conditions_twice_can_never_be_reached_and_name_the_first_route() -> None:
    d = new()

    @d.message("/help")
    def first(event: Event[Any]) -> None: ...

    with pytest.raises(ConfigurationError, match=r"never be reached.*first \(.*test_routing.py"):
        d.message("/help")(lambda e: None)
    with pytest.raises(ConfigurationError, match="never be reached"):
        d.action({"a": 1})(lambda e: None)
        d.action({"a": 1})(lambda e: None)


def test_contradictory_conditions_are_refused() -> None:
    d = new()
    with pytest.raises(ConfigurationError, match="only text messages have text"):
        d.message("/help", message_type="image")(lambda e: None)
    with pytest.raises(ConfigurationError, match="one of text, prefix or regex"):
        d.message("/help", prefix="/h")(lambda e: None)


# -- card actions ----------------------------------------------------------------------------


def test_each_button_gets_its_own_handler_and_answer() -> None:
    d = new()
    d.action({"action": "approve"})(lambda e: {"toast": {"type": "success", "content": "ok"}})
    d.action({"action": "reject"})(lambda e: {"toast": {"type": "info", "content": "no"}})
    d.action(tag="select_static")(lambda e: {"toast": {"type": "info", "content": "sel"}})
    d.action(name="notes")(lambda e: {"toast": {"type": "info", "content": "named"}})
    assert b"ok" in answer(d, card({"action": "approve", "id": 7})).body
    assert b"no" in answer(d, card({"action": "reject"})).body
    assert b"sel" in answer(d, card("x", tag="select_static")).body
    assert b"named" in answer(d, card("x", tag="input", name="notes")).body
    assert answer(d, card({"action": "other"})).body == b"{}"


def test_action_routes_also_serve_legacy_cards_unless_told_not_to() -> None:
    d = new()
    d.action({"action": "approve"})(lambda e: {"toast": {"type": "info", "content": "legacy"}})
    body = json.dumps(make_legacy_card({"value": {"action": "approve"}, "tag": "button"}))
    assert b"legacy" in answer(d, body.encode(), is_card=True).body
    d2 = new()
    d2.action({"action": "approve"}, legacy=False)(lambda e: {})
    assert d2.handler_for("legacy_card") is None


# -- catch-all and middleware ----------------------------------------------------------------


def test_catch_all_gets_types_without_a_handler_typed_when_known() -> None:
    d, seen = new(), []
    d.on("im.message.message_read_v1", lambda e: seen.append("read"))

    @d.catch_all
    def anything(event: Event[Any]) -> Any:
        seen.append(f"{event.type}:{type(event.event).__name__}")
        return {"toast": {"type": "info", "content": "caught"}}

    answer(d, message())
    answer(d, json.dumps(make_event("custom.thing", {"a": 1}, token=None)).encode())
    assert b"caught" in answer(d, card({"x": 1})).body  # a callback: its result is the answer
    assert seen == ["im.message.receive_v1:MessageReceive", "custom.thing:dict",
                    "card.action.trigger:CardActionTrigger"]  # fmt: skip


def test_middleware_wraps_every_handler_in_order_and_may_short_circuit() -> None:
    d, calls = new(), []
    d.on(MESSAGE, lambda e: calls.append("handler"))

    def outer(event: Event[Any], call_next: Callable[[], Any]) -> Any:
        calls.append("outer>")
        result = call_next()
        calls.append("<outer")
        return result

    @d.use
    def tenant_filter(event: Event[Any], call_next: Callable[[], Any]) -> Any:
        if event.tenant_key == "blocked":
            return {"toast": {"type": "error", "content": "blocked"}}
        return call_next()

    d.use(outer)  # added after the handler: still applies
    d.action({"a": 1})(lambda e: {"toast": {"type": "info", "content": "fine"}})
    answer(d, message())
    assert calls == ["outer>", "handler", "<outer"]
    blocked = json.loads(card({"a": 1}))
    blocked["header"]["tenant_key"] = "blocked"
    assert b"blocked" in answer(d, json.dumps(blocked).encode()).body
    assert b"fine" in answer(d, card({"a": 1})).body


def test_async_middleware_and_handlers_sync_or_async_run_under_both_callers() -> None:
    d, calls = new(), []

    async def timing(event: Event[Any], call_next: Callable[[], Any]) -> Any:
        calls.append("async-mw")
        return await call_next()

    def sync_mw(event: Event[Any], call_next: Callable[[], Any]) -> Any:
        calls.append("sync-mw")
        return call_next()

    d.use(timing)
    d.use(sync_mw)

    @d.message("/a")
    async def a(event: Event[Any], ctx: HandlerContext) -> None:
        calls.append(f"async:{ctx.text}")

    @d.message("/s")
    def s(event: Event[Any]) -> None:
        calls.append("sync")

    answer(d, message("/a"))
    answer(d, message("/s"))

    async def from_loop() -> None:
        for text in ("/a", "/s"):
            step = d.prepare_plaintext(message(text))
            assert not isinstance(step, Response)
            await d.run_async(step)

    asyncio.run(from_loop())
    assert calls == ["async-mw", "sync-mw", "async:/a", "async-mw", "sync-mw", "sync"] * 2


def test_a_plain_handler_without_middleware_is_called_as_registered() -> None:
    d = new()

    def handler(event: Event[Any]) -> None: ...

    assert d.register(MESSAGE, handler).fn is handler


# -- mistakes caught -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("im.message.recieve_v1", "im.message.receive_v1"),
        ("p2.im.message.receive_v1", "im.message.receive_v1"),
        ("calender.calendar.changed_v4", "calendar.calendar.changed_v4"),
        ("p2.card.action.trigger", "card.action.trigger"),
    ],
)
def test_a_type_close_to_a_known_one_says_did_you_mean(typo: str, meant: str) -> None:
    with pytest.raises(ConfigurationError, match=f"did you mean '{re.escape(meant)}'"):
        new().on(typo, lambda e: None)


def test_custom_types_are_accepted_and_near_misses_may_be_forced() -> None:
    d = new()
    d.on("my.custom.event", lambda e: None)
    d.on("im.message.recieve_v1", lambda e: None, callback=True)  # explicitly custom


def test_decorator_without_parentheses_is_a_type_error() -> None:
    d = new()
    with pytest.raises(TypeError, match=r"with parentheses"):

        @d.on  # type: ignore[call-overload]
        def handler(event: Event[Any]) -> None: ...

    with pytest.raises(TypeError, match="with parentheses"):

        @d.message  # type: ignore[arg-type]
        def handler2(event: Event[Any]) -> None: ...


def test_second_handler_for_a_type_names_where_the_first_was_registered() -> None:
    d = new()

    def first_handler(event: Event[Any]) -> None: ...

    d.on(MESSAGE, first_handler)
    with pytest.raises(ConfigurationError, match=r"first_handler \(.*test_routing.py:\d+\)"):
        d.on(MESSAGE, lambda e: None)


@dataclass(frozen=True)
class Custom:
    a: int | None = None


def test_event_annotation_decides_the_model() -> None:
    d, seen = new(), []

    def handler(event: Event[Custom]) -> None:
        seen.append(event.event)

    d.on("custom.typed", handler)
    answer(d, json.dumps(make_event("custom.typed", {"a": "5"}, token=None)).encode())
    assert seen == [Custom(a=5)]


def test_registering_many_callback_types_is_linear() -> None:
    # Each registration adds to a set; the frozen view is built once, when it is read.
    d = new()
    for i in range(20000):
        d.on(f"custom.callback.{i}", lambda e: {}, callback=True)
    assert len(d.callback_types) >= 20000
    assert d.callback_types is d.callback_types  # cached until the next registration


def test_second_parameter_gets_the_context_unless_it_has_a_default() -> None:
    d, seen = new(), []

    def with_default(event: Event[Any], retries: int = 3) -> None:
        seen.append(retries)

    def named_ctx(event: Event[Any], ctx: HandlerContext | None = None) -> None:
        seen.append(type(ctx).__name__)

    class Handler:
        def method(self, event: Event[Any], ctx: HandlerContext) -> None:
            seen.append(ctx.text)

    d.on(MESSAGE, with_default)
    d.on("im.message.message_read_v1", named_ctx)
    d.message("/m")(Handler().method)
    answer(d, message("x"))
    answer(d, json.dumps(make_event("im.message.message_read_v1", {}, token=None)).encode())
    answer(d, message("/m"))
    assert seen == [3, "HandlerContext", "/m"]


def test_routing_modules_load_on_first_registration_not_on_import() -> None:
    import subprocess
    import sys

    code = (
        "import sys, lark_events_core as c;"
        "lazy = ('lark_events_core.routing', 'lark_events_core.middleware');"
        "assert not any(m in sys.modules for m in lazy);"
        "c.Dispatcher(verification_token='t').on('im.message.receive_v1', print);"
        "assert all(m in sys.modules for m in lazy)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
