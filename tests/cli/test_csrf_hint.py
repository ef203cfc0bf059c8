"""``lark-events send`` against a Flask app whose Flask-WTF CSRF protection guards the route:
the hint names CSRF."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from lark_events_flask import make_blueprint
from werkzeug.serving import make_server

from lark_events_core import Dispatcher

from .conftest import cli

pytest.importorskip("flask_wtf", reason="needs Flask-WTF (the test extra)")
from flask_wtf.csrf import CSRFProtect

KEY, TOKEN = "csrf-hint-key", "csrf-hint-token"


@pytest.fixture
def csrf_guarded_url() -> Iterator[str]:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "s" * 32
    CSRFProtect(app)
    # A blueprint registered by hand (not through LarkEvents) and not exempted: the mistake.
    app.register_blueprint(make_blueprint(Dispatcher(encrypt_key=KEY, verification_token=TOKEN)))
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/webhook/event"
    server.shutdown()
    thread.join(5)


def test_send_names_csrf_when_the_answer_is_flask_wtfs_400_page(csrf_guarded_url: str) -> None:
    result = cli("send", "--url", csrf_guarded_url, "--encrypt-key", KEY, "--token", TOKEN)
    assert result.code == 1
    assert "CSRF error (400)" in result.err
    assert "csrf.exempt" in result.err
