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
