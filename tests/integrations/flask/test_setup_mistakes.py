"""Set-up mistakes the Flask extension catches: Flask-WTF's CSRF, config set after init_app, the
no-key warning printed once."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from lark_events_flask import LarkEvents

from lark_events_core.testing import make_event, sign_event

from .conftest import KEY, TOKEN

pytest.importorskip("flask_wtf", reason="the CSRF tests need Flask-WTF (the test extra)")
from flask_wtf.csrf import CSRFProtect


@pytest.fixture(autouse=True)
def _no_env_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LARK_ENCRYPT_KEY", raising=False)
    monkeypatch.delenv("LARK_VERIFICATION_TOKEN", raising=False)


def _app() -> Flask:
    app = Flask(__name__)
    app.config.update(LARK_ENCRYPT_KEY=KEY, LARK_VERIFICATION_TOKEN=TOKEN, SECRET_KEY="s" * 32)

    @app.post("/form")
    def form() -> str:
        return "saved"

    return app


def _event_status(app: Flask) -> tuple[int, Any]:
    req = sign_event(make_event("im.message.receive_v1", {}, token=TOKEN), encrypt_key=KEY)
    response = app.test_client().post("/webhook/event", data=req.body, headers=req.headers)
    return response.status_code, response.get_json(silent=True)


def _csrf_first(app: Flask) -> None:
    CSRFProtect(app)
    LarkEvents(app)


def _csrf_after(app: Flask) -> None:
    LarkEvents(app)
    CSRFProtect(app)


def _factory_pattern(app: Flask) -> None:
    csrf, lark = CSRFProtect(), LarkEvents()
    lark.init_app(app)
    csrf.init_app(app)


@pytest.mark.parametrize("set_up", [_csrf_first, _csrf_after, _factory_pattern])
def test_the_endpoints_are_exempt_from_flask_wtf_csrf_whatever_the_order(
    set_up: Callable[[Flask], None],
) -> None:
    app = _app()
    set_up(app)
    assert _event_status(app) == (200, {"msg": "success"})
    assert _event_status(app) == (200, {"msg": "success"})
    # The rest of the app is still protected.
    assert app.test_client().post("/form").status_code == 400


def test_config_set_after_init_app_is_named_in_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = _app()
    LarkEvents(app)
    app.config["LARK_VERIFICATION_TOKEN"] = "another"
    app.config["LARK_EVENTS_EVENT_PATH"] = "/lark/event"
    with caplog.at_level(logging.WARNING, logger="lark_events.flask"):
        _event_status(app)
        _event_status(app)
    warned = [r.getMessage() for r in caplog.records if "after LarkEvents.init_app" in r.message]
    assert len(warned) == 1
    assert "LARK_EVENTS_EVENT_PATH, LARK_VERIFICATION_TOKEN" in warned[0]


def test_config_set_before_init_app_gives_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    app = _app()
    LarkEvents(app)
    with caplog.at_level(logging.WARNING, logger="lark_events.flask"):
        assert _event_status(app)[0] == 200
    assert "init_app" not in caplog.text


def test_the_no_key_warning_is_printed_once() -> None:
    script = textwrap.dedent(
        """
        from flask import Flask
        from lark_events_flask import LarkEvents

        app = Flask(__name__)
        LarkEvents(app)
        app.config["LARK_ENCRYPT_KEY"] = "too late"
        app.test_client().post("/webhook/event", data=b'{"type":"url_verification"}')
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={k: v for k, v in os.environ.items() if "LARK" not in k},
    )
    assert result.stderr.count("anyone who knows the URL can post events") == 1, result.stderr
    assert result.stderr.count("LARK_ENCRYPT_KEY set after LarkEvents.init_app") == 1


def test_the_first_request_check_leaves_the_hooks_after_the_first_request() -> None:
    app = _app()
    seen: list[str] = []
    LarkEvents(app)

    @app.before_request
    def app_hook() -> None:
        seen.append("app hook")

    before = list(app.before_request_funcs[None])
    assert len(before) == 2
    assert _event_status(app)[0] == 200
    assert app.before_request_funcs[None] == before[1:]  # only the app's own hook is left
    assert _event_status(app)[0] == 200
    assert seen == ["app hook", "app hook"]  # the app's hook ran on both requests
