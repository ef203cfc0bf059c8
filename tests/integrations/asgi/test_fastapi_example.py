"""docs/fastapi.md's examples, executed as written and driven through FastAPI's test client."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest

from lark_events_core.testing import (
    make_challenge,
    make_event,
    make_legacy_card,
    sign_event,
    sign_legacy_card,
)

pytest.importorskip("fastapi", reason="the FastAPI example needs the test extra (fastapi)")
from fastapi.testclient import TestClient

DOC = Path(__file__).resolve().parents[3] / "docs" / "fastapi.md"
KEY = "fastapi_doc_key"
TOKEN = "fastapi_doc_token"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def run_blocks(*blocks: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "fastapi_doc_example"}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - our own docs
    return namespace


@pytest.fixture(autouse=True)
def lark_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LARK_ENCRYPT_KEY", KEY)
    monkeypatch.setenv("LARK_VERIFICATION_TOKEN", TOKEN)


def test_the_doc_has_the_three_examples() -> None:
    assert len(python_blocks()) == 3


def test_mounted_app_handles_events_callbacks_and_drains_on_shutdown(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    mount, route, _ = python_blocks()
    ns = run_blocks(mount, route)
    drained: list[bool] = []

    async def spy_aclose(timeout: float | None = 30.0) -> None:
        drained.append(True)

    monkeypatch.setattr(ns["dispatcher"], "aclose", spy_aclose)
    message = sign_event(
        make_event(
            "im.message.receive_v1",
            {"message": {"message_type": "text", "content": '{"text":"hello doc"}'}},
            token=TOKEN,
            event_id="doc-1",
        ),
        encrypt_key=KEY,
    )
    click = sign_event(make_event("card.action.trigger", {}, token=TOKEN), encrypt_key=KEY)
    challenge = sign_event(make_challenge("doc-c", token=TOKEN), encrypt_key=KEY, sign=False)
    caplog.set_level(logging.INFO, logger="myapp")
    with TestClient(ns["app"]) as client:
        resp = client.post("/webhook/event", content=message.body, headers=message.headers)
        assert (resp.status_code, resp.json()) == (200, {"msg": "success"})
        resp = client.post("/webhook/event", content=click.body, headers=click.headers)
        assert resp.json() == {"toast": {"type": "success", "content": "Received"}}
        resp = client.post("/webhook/event", content=challenge.body, headers=challenge.headers)
        assert resp.json() == {"challenge": "doc-c"}
        bad = {**message.headers, "X-Lark-Signature": "0" * 64}
        assert client.post("/webhook/event", content=message.body, headers=bad).status_code == 401
        assert client.get("/webhook/event").status_code == 405
        assert client.post("/webhook/nothing", content=b"{}").status_code == 404
        card = sign_legacy_card(make_legacy_card(), verification_token=TOKEN)
        resp = client.post("/webhook/card", content=card.body, headers=card.headers)
        assert (resp.status_code, resp.json()) == (200, {})  # no legacy handler: {}
        assert drained == []
    assert drained == [True]
    assert "message doc-1: hello doc" in caplog.text


def test_route_alternative_answers_like_the_mount() -> None:
    mount, route, _ = python_blocks()
    ns = run_blocks(mount, route)
    message = sign_event(
        make_event("im.message.receive_v1", {"message": {}}, token=TOKEN), encrypt_key=KEY
    )
    with TestClient(ns["app"]) as client:
        resp = client.post("/lark/event", content=message.body, headers=message.headers)
        assert (resp.status_code, resp.json()) == (200, {"msg": "success"})
        assert resp.headers["content-type"] == "application/json; charset=utf-8"
        resp = client.post("/lark/event", content=b"not json", headers=message.headers)
        assert resp.status_code == 401  # the signature covers the exact bytes
        resp = client.post("/lark/event", content=b"x" * (1024 * 1024 + 1))
        assert (resp.status_code, resp.json()) == (413, {"msg": "request body too large"})


def test_plain_asgi_example_serves_the_default_paths() -> None:
    *_, plain = python_blocks()
    ns = run_blocks(plain)
    challenge = sign_event(make_challenge("plain-c", token=TOKEN), encrypt_key=KEY, sign=False)
    with TestClient(ns["app"]) as client:
        resp = client.post("/webhook/event", content=challenge.body, headers=challenge.headers)
        assert (resp.status_code, resp.json()) == (200, {"challenge": "plain-c"})
