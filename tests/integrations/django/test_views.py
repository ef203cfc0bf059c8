"""The views through Django's test clients: methods, sizes, callbacks, CSRF, login, include()."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import django
import pytest
from django.http import HttpResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import reverse
from lark_events_django import make_view

from lark_events_core import LEGACY_CARD_TYPE, Dispatcher, Event
from lark_events_core.testing import (
    make_challenge,
    make_event,
    make_legacy_card,
    sign_event,
    sign_legacy_card,
)

from .client import apost, asgi_request, post
from .conftest import lark_settings
from .handlers import CALLS

KEY = lark_settings()["ENCRYPT_KEY"]
TOKEN = lark_settings()["VERIFICATION_TOKEN"]
SYNC_AND_ASYNC = pytest.mark.parametrize("send", [post, apost], ids=["sync", "async"])
PREFIX = {post: "/sync", apost: "/async"}


def _json(response: HttpResponse) -> Any:
    assert response["Content-Type"] == "application/json; charset=utf-8"
    return json.loads(response.content)


def _message(event_id: str = "ev-1") -> tuple[bytes, dict[str, str]]:
    body = make_event(
        "im.message.receive_v1",
        {"message": {"message_id": "om_1", "message_type": "text", "content": '{"text":"hi"}'}},
        token=TOKEN,
        event_id=event_id,
    )
    req = sign_event(body, encrypt_key=KEY)
    return req.body, req.headers


# -- methods and sizes ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch", "options"])
@pytest.mark.parametrize("path", ["/sync/event", "/async/card", "/webhook/event", "/webhook/card"])
def test_other_methods_get_a_json_405_with_allow(method: str, path: str) -> None:
    response = getattr(Client(), method)(path)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert _json(response) == {"msg": "method not allowed"}


def test_head_gets_405_too_on_the_async_view() -> None:
    response = asyncio.run(AsyncClient().head("/async/event"))
    assert response.status_code == 405


def test_declared_length_over_the_limit_is_413_before_the_body_is_read() -> None:
    # The stream holds 2 bytes but claims 2 MiB: reading it would trip the test client's
    # FakePayload ("cannot read more than the available bytes"), so 413 proves nothing was read.
    response = post("/sync/event", b"{}", CONTENT_LENGTH=str(2 * 1024 * 1024))
    assert response.status_code == 413
    assert _json(response) == {"msg": "request body too large"}
    assert CALLS == []


def test_declared_length_over_the_limit_is_413_under_the_asgi_handler() -> None:
    # Django's ASGI handler buffers the body itself; the view still refuses by the declared length.
    status, headers, body = asgi_request(
        "/async/event", b"{}", [(b"content-length", str(2 * 1024 * 1024).encode())]
    )
    assert status == 413
    assert headers[b"Content-Type"] == b"application/json; charset=utf-8"
    assert json.loads(body) == {"msg": "request body too large"}


@SYNC_AND_ASYNC
def test_body_over_a_configured_limit_is_413(send: Any) -> None:
    body, headers = _message()
    with override_settings(LARK_EVENTS=lark_settings(MAX_BODY_BYTES=len(body) - 1)):
        response = send(f"{PREFIX[send]}/event", body, headers)
    assert response.status_code == 413
    assert CALLS == []


@SYNC_AND_ASYNC
def test_body_at_the_limit_is_accepted(send: Any) -> None:
    body, headers = _message()
    with override_settings(LARK_EVENTS=lark_settings(MAX_BODY_BYTES=len(body))):
        response = send(f"{PREFIX[send]}/event", body, headers)
    assert response.status_code == 200
    assert len(CALLS) == 1


@SYNC_AND_ASYNC
def test_djangos_own_upload_limit_answers_413_json_not_400_html(send: Any) -> None:
    body, headers = _message()
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=len(body) - 1):
        response = send(f"{PREFIX[send]}/event", body, headers)
    assert response.status_code == 413
    assert _json(response) == {"msg": "request body too large"}
    assert CALLS == []


@pytest.mark.parametrize("length", ["abc", "-5", "1e3"])
def test_malformed_content_length_is_a_json_400(length: str) -> None:
    response = post("/sync/event", b"{}", CONTENT_LENGTH=length)
    assert response.status_code == 400
    assert _json(response) == {"msg": "bad request"}


# -- events, callbacks, legacy cards -----------------------------------------------------------


@SYNC_AND_ASYNC
def test_event_is_handled_once_and_a_redelivery_is_acknowledged(send: Any) -> None:
    body, headers = _message("ev-dup")
    first = send(f"{PREFIX[send]}/event", body, headers)
    again = send(f"{PREFIX[send]}/event", body, headers)
    assert (first.status_code, _json(first)) == (200, {"msg": "success"})
    assert (again.status_code, _json(again)) == (200, {"msg": "success"})
    assert [c[:2] for c in CALLS] == [("im.message.receive_v1", "ev-dup")]


@SYNC_AND_ASYNC
def test_card_action_callback_answers_with_the_async_handlers_toast(send: Any) -> None:
    body = make_event("card.action.trigger", {"action": {"value": {"k": "v"}}}, token=TOKEN)
    req = sign_event(body, encrypt_key=KEY)
    response = send(f"{PREFIX[send]}/event", req.body, req.headers)
    assert response.status_code == 200
    assert _json(response) == {"toast": {"type": "success", "content": "clicked"}}
    assert [c[0] for c in CALLS] == ["card.action.trigger"]


@SYNC_AND_ASYNC
def test_legacy_card_callback_on_the_card_view(send: Any) -> None:
    req = sign_legacy_card(make_legacy_card(open_id="ou_42"), verification_token=TOKEN)
    response = send(f"{PREFIX[send]}/card", req.body, req.headers)
    assert response.status_code == 200
    assert _json(response) == {"toast": {"type": "info", "content": "ou_42"}}
    assert [c[0] for c in CALLS] == [LEGACY_CARD_TYPE]


@SYNC_AND_ASYNC
def test_legacy_card_with_a_wrong_signature_is_401(send: Any) -> None:
    req = sign_legacy_card(make_legacy_card(), verification_token="not-the-token")
    response = send(f"{PREFIX[send]}/card", req.body, req.headers)
    assert response.status_code == 401
    assert CALLS == []


@SYNC_AND_ASYNC
def test_legacy_card_body_on_the_event_view_is_refused(send: Any) -> None:
    req = sign_legacy_card(make_legacy_card(), verification_token=TOKEN)
    response = send(f"{PREFIX[send]}/event", req.body, req.headers)
    assert response.status_code in (400, 401)  # not an event signature, not an event body
    assert CALLS == []


@SYNC_AND_ASYNC
def test_card_url_verification_is_answered(send: Any) -> None:
    body = json.dumps(make_challenge("ch-9", token=TOKEN)).encode()
    response = send(f"{PREFIX[send]}/card", body)
    assert (response.status_code, _json(response)) == (200, {"challenge": "ch-9"})


@SYNC_AND_ASYNC
def test_a_raising_handler_is_a_json_500_without_the_exception_text(send: Any) -> None:
    dispatcher = Dispatcher()

    @dispatcher.on("im.message.receive_v1")
    def boom(event: Event[Any]) -> None:
        raise RuntimeError("secret detail")

    view = make_view(dispatcher, asynchronous=send is apost)
    body = json.dumps(make_event("im.message.receive_v1")).encode()
    from django.test import AsyncRequestFactory, RequestFactory

    if send is apost:
        request = AsyncRequestFactory().post("/x", body, content_type="application/json")
        response = asyncio.run(view(request))  # type: ignore[arg-type]
    else:
        response = view(RequestFactory().post("/x", body, content_type="application/json"))
    assert response.status_code == 500
    assert json.loads(response.content) == {"msg": "internal error"}
    assert b"secret" not in response.content


@SYNC_AND_ASYNC
def test_broken_settings_answer_a_json_500_not_an_html_page(send: Any) -> None:
    body, headers = _message()
    with override_settings(LARK_EVENTS={"MAX_BODY_BYTES": 0}):
        response = send(f"{PREFIX[send]}/event", body, headers)
    assert response.status_code == 500
    assert _json(response) == {"msg": "internal error"}


# -- how handlers run ----------------------------------------------------------------------------


def test_the_async_view_runs_sync_handlers_off_the_event_loop_thread() -> None:
    body, headers = _message()
    loop_threads: list[str] = []

    async def go() -> HttpResponse:
        loop_threads.append(threading.current_thread().name)
        response: HttpResponse = await AsyncClient().post(
            "/async/event", data=body, content_type="application/json", headers=headers
        )
        return response

    response = asyncio.run(go())
    assert response.status_code == 200
    assert len(CALLS) == 1
    assert CALLS[0][2] != loop_threads[0]


def test_the_async_view_is_a_coroutine_function_and_the_sync_view_is_not() -> None:
    from lark_events_django import async_lark_event_view, lark_event_view

    assert asyncio.iscoroutinefunction(async_lark_event_view)
    assert not asyncio.iscoroutinefunction(lark_event_view)


def _load_urls() -> list[Any]:
    """A fresh copy of ``lark_events_django.urls``: what a server process loads once."""
    import importlib.util

    import lark_events_django.urls

    spec = importlib.util.spec_from_file_location(
        "lark_events_django._urls_copy", lark_events_django.urls.__file__
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    patterns: list[Any] = module.urlpatterns
    return patterns


async def _load_urls_in_loop() -> list[Any]:
    return _load_urls()


def test_async_views_are_chosen_when_urls_load_in_an_event_loop() -> None:
    in_loop = asyncio.run(_load_urls_in_loop())
    outside = _load_urls()
    assert all(asyncio.iscoroutinefunction(p.callback) for p in in_loop)
    assert not any(asyncio.iscoroutinefunction(p.callback) for p in outside)


@pytest.mark.parametrize("setting", [True, False])
def test_the_async_setting_overrides_the_detection(setting: bool) -> None:
    with override_settings(LARK_EVENTS=lark_settings(ASYNC=setting)):
        patterns = asyncio.run(_load_urls_in_loop()) + _load_urls()
    assert all(asyncio.iscoroutinefunction(p.callback) is setting for p in patterns)


# -- Django integration ---------------------------------------------------------------------------


def test_included_urls_have_names_in_the_lark_events_namespace() -> None:
    assert reverse("lark_events:event") == "/webhook/event"
    assert reverse("lark_events:card") == "/webhook/card"


@pytest.mark.parametrize("path", ["/sync/event", "/async/event", "/webhook/event"])
def test_views_are_csrf_exempt_where_csrf_is_enforced(path: str) -> None:
    body, headers = _message()
    client = Client(enforce_csrf_checks=True)
    response = client.post(path, data=body, content_type="application/json", headers=headers)
    assert response.status_code == 200
    # The same client is refused on an ordinary view: the middleware is really active.
    assert client.post("/protected", data=b"{}", content_type="application/json").status_code in (
        302,
        403,
    )


@pytest.mark.skipif(django.VERSION < (5, 1), reason="LoginRequiredMiddleware is Django 5.1+")
@pytest.mark.parametrize("path", ["/sync/event", "/async/card", "/webhook/event"])
def test_views_need_no_login_under_login_required_middleware(path: str) -> None:
    assert Client().get("/protected").status_code == 302  # the middleware is active
    assert Client().get(path).status_code == 405  # ours answer without a login
