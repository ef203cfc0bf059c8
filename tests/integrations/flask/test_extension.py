"""``LarkEvents``: init_app, app.config, the application-factory pattern, decorators."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask import Flask
from lark_events_flask import EXTENSION_KEY, LarkEvents, LarkEventsState, get_dispatcher

from lark_events_core import Dispatcher, Event
from lark_events_core.testing import make_event, make_legacy_card, sign_event, sign_legacy_card

from .conftest import KEY, TOKEN


def _app(**config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update({"LARK_ENCRYPT_KEY": KEY, "LARK_VERIFICATION_TOKEN": TOKEN, **config})
    return app


def _post(
    app: Flask, key: str = KEY, token: str = TOKEN, path: str = "/webhook/event", **kw: Any
) -> Any:
    body = make_event("im.message.receive_v1", {}, token=token, **kw)
    req = sign_event(body, encrypt_key=key)
    return app.test_client().post(path, data=req.body, headers=req.headers)


@pytest.fixture(autouse=True)
def _no_env_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LARK_ENCRYPT_KEY", raising=False)
    monkeypatch.delenv("LARK_VERIFICATION_TOKEN", raising=False)


def test_init_app_reads_key_and_token_from_app_config() -> None:
    lark = LarkEvents()
    seen: list[str] = []
    lark.on("im.message.receive_v1")(lambda e: seen.append(e.event_id))
    app = _app()
    lark.init_app(app)
    assert _post(app, event_id="ok-1").status_code == 200
    assert _post(app, key="wrong-key").status_code == 401
    assert _post(app, token="wrong-token", event_id="bad-token").status_code == 401
    assert seen == ["ok-1"]


def test_state_lives_in_app_extensions() -> None:
    lark = LarkEvents()
    app = _app()
    lark.init_app(app)
    state = app.extensions[EXTENSION_KEY]
    assert isinstance(state, LarkEventsState)
    assert state.extension is lark
    assert get_dispatcher(app) is state.dispatcher
    with app.app_context():
        assert get_dispatcher() is state.dispatcher
        assert lark.dispatcher is state.dispatcher
    assert app.blueprints["lark_events"] is state.blueprint


def test_constructor_with_app_is_init_app() -> None:
    app = _app()
    lark = LarkEvents(app)
    assert app.extensions[EXTENSION_KEY].extension is lark


def test_application_factory_gives_each_app_its_own_config_and_all_handlers() -> None:
    lark = LarkEvents()
    seen: list[tuple[str, str]] = []

    @lark.on("im.message.receive_v1")
    def before(event: Event[Any]) -> None:
        seen.append(("message", event.event_id))

    def create_app(key: str) -> Flask:
        app = _app(LARK_ENCRYPT_KEY=key)
        lark.init_app(app)
        return app

    one, two = create_app("key-one"), create_app("key-two")

    @lark.on("card.action.trigger")  # registered after init_app: reaches both apps
    def after(event: Event[Any]) -> dict[str, Any]:
        seen.append(("card", event.event_id))
        return {"toast": {"type": "info", "content": "hi"}}

    assert _post(one, key="key-one", event_id="m1").status_code == 200
    assert _post(one, key="key-two").status_code == 401
    assert _post(two, key="key-two", event_id="m2").status_code == 200
    card = sign_event(
        make_event("card.action.trigger", {}, token=TOKEN, event_id="c2"), encrypt_key="key-two"
    )
    response = two.test_client().post("/webhook/event", data=card.body, headers=card.headers)
    assert json.loads(response.get_data()) == {"toast": {"type": "info", "content": "hi"}}
    assert seen == [("message", "m1"), ("message", "m2"), ("card", "c2")]
    assert get_dispatcher(one) is not get_dispatcher(two)


def test_explicit_dispatcher_is_shared_and_gets_the_handlers() -> None:
    disp = Dispatcher(encrypt_key=KEY, verification_token=TOKEN)
    lark = LarkEvents(dispatcher=disp)
    lark.on("im.message.receive_v1")(lambda e: None)
    one, two = Flask("one"), Flask("two")
    lark.init_app(one)
    lark.init_app(two)
    assert get_dispatcher(one) is disp is get_dispatcher(two)
    assert disp.handler_for("im.message.receive_v1") is not None
    assert lark.dispatcher is disp


def test_init_app_twice_on_one_app_is_an_error() -> None:
    lark = LarkEvents()
    app = _app()
    lark.init_app(app)
    with pytest.raises(RuntimeError):
        lark.init_app(app)


def test_secrets_fall_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LARK_ENCRYPT_KEY", "env-key")
    monkeypatch.setenv("LARK_VERIFICATION_TOKEN", "env-token")
    app = Flask(__name__)
    LarkEvents(app)
    assert _post(app, key="env-key", token="env-token").status_code == 200
    assert _post(app, key=KEY, token="env-token").status_code == 401


def test_empty_config_values_mean_not_configured() -> None:
    app = _app(LARK_ENCRYPT_KEY="", LARK_VERIFICATION_TOKEN=TOKEN)
    LarkEvents(app)  # an empty string is "not set", not a ConfigurationError
    assert get_dispatcher(app).settings.encrypt_keys == ()


def test_url_prefix_and_paths_come_from_config() -> None:
    app = _app(
        LARK_EVENTS_URL_PREFIX="/lark",
        LARK_EVENTS_EVENT_PATH="/events",
        LARK_EVENTS_CARD_PATH="/cards",
    )
    LarkEvents(app)
    assert _post(app, path="/lark/events").status_code == 200
    assert _post(app, path="/webhook/event").status_code == 404
    card = sign_legacy_card(make_legacy_card(), verification_token=TOKEN)
    client = app.test_client()
    assert client.post("/lark/cards", data=card.body, headers=card.headers).status_code == 200


def test_max_body_bytes_from_config_is_enforced() -> None:
    app = _app(LARK_EVENTS_MAX_BODY_BYTES=100)
    LarkEvents(app)
    response = _post(app)
    assert response.status_code == 413
    assert json.loads(response.get_data()) == {"msg": "request body too large"}


def test_dispatcher_options_from_config() -> None:
    lark = LarkEvents()
    seen: list[str] = []
    lark.on("im.message.receive_v1")(lambda e: seen.append(e.event_id))
    app = _app(LARK_EVENTS_OPTIONS={"dedup": False})
    lark.init_app(app)
    body = make_event("im.message.receive_v1", {}, token=TOKEN, event_id="twice")
    req = sign_event(body, encrypt_key=KEY)
    client = app.test_client()
    for _ in range(2):
        assert client.post("/webhook/event", data=req.body, headers=req.headers).status_code == 200
    assert seen == ["twice", "twice"]  # deduplication switched off through config


def test_on_legacy_card_through_the_extension() -> None:
    lark = LarkEvents()

    @lark.on_legacy_card
    def on_card(event: Event[Any]) -> dict[str, Any]:
        return {"toast": {"type": "info", "content": event.data["open_id"]}}

    app = _app()
    lark.init_app(app)
    req = sign_legacy_card(make_legacy_card(open_id="ou_x"), verification_token=TOKEN)
    response = app.test_client().post("/webhook/card", data=req.body, headers=req.headers)
    assert json.loads(response.get_data()) == {"toast": {"type": "info", "content": "ou_x"}}


def test_init_app_drains_the_dispatcher_at_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    import lark_events_core.wsgi

    registered: list[tuple[Any, ...]] = []
    fake_atexit = types.SimpleNamespace(register=lambda *args: registered.append(args))
    monkeypatch.setattr(lark_events_core.wsgi, "atexit", fake_atexit)
    app = _app(LARK_EVENTS_SHUTDOWN_TIMEOUT=5.0)
    LarkEvents(app)
    disp = get_dispatcher(app)
    assert registered == [(disp.close, 5.0)]


def test_timestamp_tolerance_from_config_rejects_stale_requests() -> None:
    app = _app(LARK_EVENTS_TIMESTAMP_TOLERANCE=60)
    LarkEvents(app)
    client = app.test_client()
    body = make_event("im.message.receive_v1", {}, token=TOKEN)
    stale = sign_event(body, encrypt_key=KEY, timestamp=str(int(time.time()) - 3600))
    fresh = sign_event(body, encrypt_key=KEY)
    assert client.post("/webhook/event", data=stale.body, headers=stale.headers).status_code == 401
    assert client.post("/webhook/event", data=fresh.body, headers=fresh.headers).status_code == 200


def test_make_blueprint_without_a_dispatcher_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lark_events_flask import make_blueprint

    monkeypatch.setenv("LARK_ENCRYPT_KEY", "bp-env-key")
    monkeypatch.setenv("LARK_VERIFICATION_TOKEN", TOKEN)
    app = Flask(__name__)
    app.register_blueprint(make_blueprint(max_body_bytes=4096))
    assert _post(app, key="bp-env-key").status_code == 200
    assert _post(app, key=KEY).status_code == 401


def test_make_view_mounts_on_any_rule() -> None:
    from lark_events_flask import make_view

    disp = Dispatcher(encrypt_key=KEY, verification_token=TOKEN)
    app = Flask(__name__)
    app.add_url_rule("/lark", "lark", make_view(disp), methods=["POST", "GET"])
    assert _post(app, path="/lark").status_code == 200
    assert app.test_client().get("/lark").status_code == 405


def test_make_blueprint_refuses_options_it_would_ignore() -> None:
    from lark_events_flask import make_blueprint

    with pytest.raises(TypeError):
        make_blueprint(Dispatcher(verification_token=TOKEN), max_body_bytes=10)
