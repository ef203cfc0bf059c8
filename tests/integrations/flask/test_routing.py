"""Routes, the catch-all and middleware through Flask's test client."""

from __future__ import annotations

from collections.abc import Callable

import pytest

pytest.importorskip("flask", reason="the Flask adapter needs the 'flask' extra")

from flask import Flask
from lark_events_flask import make_blueprint

from lark_events_core.testing import SignedRequest
from tests.support.routing_app import CASES, build


@pytest.mark.parametrize(("name", "request_of", "path", "answer", "calls"), CASES)
def test_route_answer_and_calls(
    name: str, request_of: Callable[[], SignedRequest], path: str, answer: str, calls: list[str]
) -> None:
    seen: list[str] = []
    app = Flask(__name__)
    app.register_blueprint(make_blueprint(build(seen)))
    req = request_of()
    response = app.test_client().post(f"/webhook/{path}", data=req.body, headers=req.headers)
    assert response.status_code == 200
    assert answer in response.get_data(as_text=True)
    assert seen == calls


def test_the_sample_routes_help_and_one_handler_per_button(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.routing_app import KEY, TOKEN, card, message

    monkeypatch.setenv("LARK_ENCRYPT_KEY", KEY)
    monkeypatch.setenv("LARK_VERIFICATION_TOKEN", TOKEN)
    monkeypatch.delenv("LARK_REDIS_URL", raising=False)
    from sample_projects.flask_echo.app import create_app

    client = create_app().test_client()
    for req, answer in ((card("approve"), "Approved"), (card("reject"), "Rejected"),
                        (card("other"), "Received"), (message("/help"), "success")):  # fmt: skip
        response = client.post("/webhook/event", data=req.body, headers=req.headers)
        assert response.status_code == 200
        assert answer in response.get_data(as_text=True)
