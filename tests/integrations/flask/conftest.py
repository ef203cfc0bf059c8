"""Fixtures for the Flask adapter tests: a Flask app on the request vectors' receiver config."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("flask")

from flask import Flask
from lark_events_flask import make_blueprint

from lark_events_core import Dispatcher
from tests.support.vectors import receiver

KEY = "flask_test_key"
TOKEN = "flask_test_token"


@pytest.fixture
def calls() -> list[Any]:
    """Every event a handler of the test apps received."""
    return []


@pytest.fixture
def dispatcher(calls: list[Any]) -> Dispatcher:
    """A dispatcher with KEY/TOKEN and recording handlers for a message, a card and legacy cards."""
    disp = Dispatcher(encrypt_key=KEY, verification_token=TOKEN)
    disp.on("im.message.receive_v1", calls.append)

    @disp.on("card.action.trigger")
    def on_card(event: Any) -> dict[str, Any]:
        calls.append(event)
        return {"toast": {"type": "info", "content": "ok"}}

    @disp.on_legacy_card
    def on_legacy(event: Any) -> dict[str, Any]:
        calls.append(event)
        return {"card": {"elements": []}}

    return disp


@pytest.fixture
def app(dispatcher: Dispatcher) -> Flask:
    """A Flask app with the blueprint at its default paths."""
    flask_app = Flask(__name__)
    flask_app.register_blueprint(make_blueprint(dispatcher))
    return flask_app


@pytest.fixture
def vector_app(calls: list[Any]) -> Flask:
    """A Flask app configured as the receiver the request vectors expect."""
    config = receiver()
    disp = Dispatcher(
        encrypt_key=config["encrypt_key"], verification_token=config["verification_token"]
    )
    for event_type in config["handlers"]:
        disp.on(event_type, calls.append)
    flask_app = Flask(__name__)
    flask_app.register_blueprint(make_blueprint(disp))
    return flask_app
