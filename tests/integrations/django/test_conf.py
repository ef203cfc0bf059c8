"""settings.LARK_EVENTS → the default dispatcher; DISPATCHER and DEDUP dotted paths; on()."""

from __future__ import annotations

import json
import sys
from typing import Any

import lark_events_django
import pytest
from django.test import override_settings
from lark_events_django import conf

from lark_events_core import ConfigurationError, Event, MemoryDedupStore
from lark_events_core.testing import make_event, sign_event

from . import custom
from .client import post
from .conftest import lark_settings
from .handlers import CALLS

KEY = lark_settings()["ENCRYPT_KEY"]
TOKEN = lark_settings()["VERIFICATION_TOKEN"]


def _send(event_id: str, key: str = KEY, path: str = "/sync/event") -> int:
    req = sign_event(
        make_event("im.message.receive_v1", token=TOKEN, event_id=event_id), encrypt_key=key
    )
    return post(path, req.body, req.headers).status_code


def test_the_default_dispatcher_follows_the_settings() -> None:
    first = lark_events_django.get_dispatcher()
    assert first is lark_events_django.get_dispatcher()
    assert first.settings.max_body_bytes == 1024 * 1024
    with override_settings(LARK_EVENTS=lark_settings(MAX_BODY_BYTES=4096)):
        second = lark_events_django.get_dispatcher()
        assert second is not first
        assert second.settings.max_body_bytes == 4096
        assert second.event_types >= {"im.message.receive_v1", "card.action.trigger"}


def test_rotated_keys_from_settings_are_all_accepted() -> None:
    with override_settings(LARK_EVENTS=lark_settings(ENCRYPT_KEY=["new-key", KEY])):
        assert _send("ev-old", KEY) == 200
        assert _send("ev-new", "new-key") == 200
        assert _send("ev-bad", "other-key") == 401
    assert [c[1] for c in CALLS] == ["ev-old", "ev-new"]


def test_dispatcher_setting_serves_the_users_own_dispatcher(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(conf, "_registry", {})
    custom.CUSTOM_CALLS.clear()
    with override_settings(
        LARK_EVENTS={"DISPATCHER": "tests.integrations.django.custom.dispatcher"}
    ):
        assert lark_events_django.get_dispatcher() is custom.dispatcher
        assert _send("ev-custom") == 200
    assert custom.CUSTOM_CALLS == ["ev-custom"]
    assert CALLS == []


def test_dispatcher_setting_with_on_registrations_refuses_to_serve() -> None:
    with override_settings(
        LARK_EVENTS={"DISPATCHER": "tests.integrations.django.custom.dispatcher"}
    ):
        with pytest.raises(ConfigurationError, match="would be ignored"):
            lark_events_django.get_dispatcher()
        response = post("/sync/event", b"{}")
    assert response.status_code == 500
    assert json.loads(response.content) == {"msg": "internal error"}


@pytest.mark.parametrize(
    "path",
    ["tests.integrations.django.custom.STORE", "lark_events_core.MemoryDedupStore"],
)
def test_dedup_setting_takes_a_store_or_a_class(path: str) -> None:
    with override_settings(LARK_EVENTS=lark_settings(DEDUP=path)):
        store = lark_events_django.get_dispatcher().dedup
    assert isinstance(store, MemoryDedupStore)
    if path.endswith("STORE"):
        assert store is custom.STORE


def test_dedup_can_be_switched_off() -> None:
    with override_settings(LARK_EVENTS=lark_settings(DEDUP=False)):
        assert _send("ev-twice") == 200
        assert _send("ev-twice") == 200
    assert [c[1] for c in CALLS] == ["ev-twice", "ev-twice"]


def test_registering_a_type_twice_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="already registered"):
        lark_events_django.on("im.message.receive_v1")(lambda event: None)


def test_on_after_the_dispatcher_is_built_registers_at_once() -> None:
    dispatcher = lark_events_django.get_dispatcher()
    seen: list[Any] = []

    @lark_events_django.on("contact.user.created_v3")
    def created(event: Event[Any]) -> None:
        seen.append(event.event_id)

    try:
        assert dispatcher.handler_for("contact.user.created_v3") is not None
        req = sign_event(
            make_event("contact.user.created_v3", token=TOKEN, event_id="u1"), encrypt_key=KEY
        )
        assert post("/sync/event", req.body, req.headers).status_code == 200
        assert seen == ["u1"]
    finally:
        conf.unregister("contact.user.created_v3")
    assert "contact.user.created_v3" not in lark_events_django.get_dispatcher().event_types


def test_the_exit_drain_is_registered_once_to_run_before_the_executors_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # atexit runs last-registered-first: registered after lark_events_core.executors is imported,
    # close_at_exit() (which cuts retry back-offs short) runs before that module's exit drain.
    registered: list[tuple[Any, bool]] = []

    def register(fn: Any) -> Any:
        registered.append((fn, "lark_events_core.executors" in sys.modules))
        return fn

    monkeypatch.setattr(conf.atexit, "register", register)
    monkeypatch.setattr(conf, "_exit_hook", False)
    conf.reset()
    lark_events_django.get_dispatcher()
    conf.reset()
    lark_events_django.get_dispatcher()  # built again: not registered again
    assert registered == [(conf.close_at_exit, True)]


def test_the_default_dispatcher_is_closed_at_process_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[float | None] = []
    dispatcher = lark_events_django.get_dispatcher()
    monkeypatch.setattr(dispatcher, "close", lambda timeout=30.0: closed.append(timeout))
    conf.close_at_exit()
    assert closed == [30.0]
    conf.reset()
    conf.close_at_exit()  # nothing built: nothing to close
    assert closed == [30.0]


def test_deferred_handlers_from_settings_run_after_the_answer_in_the_named_context() -> None:
    import time

    custom.CONTEXTS.clear()
    lark = lark_settings(
        DEFER=True,
        BACKGROUND_CONTEXT="tests.integrations.django.custom.background_context",
        ON_GIVE_UP="tests.integrations.django.custom.on_give_up",
        RETRIES=0,
    )
    with override_settings(LARK_EVENTS=lark):
        dispatcher = lark_events_django.get_dispatcher()
        assert dispatcher.defer is True
        assert _send("ev-deferred") == 200
        deadline = time.monotonic() + 5
        while not CALLS and time.monotonic() < deadline:
            time.sleep(0.01)
        dispatcher.close(5)
    assert [c[1] for c in CALLS] == ["ev-deferred"]
    assert CALLS[0][2] != "MainThread"  # a background thread, not the request's
    assert custom.CONTEXTS == ["ev-deferred"]


def test_the_package_exports_exactly_its_public_names() -> None:
    import inspect

    public = {
        name
        for name, value in vars(lark_events_django).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert set(lark_events_django.__all__) == public
