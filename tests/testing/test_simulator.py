"""LarkSimulator: requests a real dispatcher accepts, refused with other keys, delivered by HTTP."""

from __future__ import annotations

import json
import sys
import urllib.error
from collections.abc import Iterator
from typing import Any

import pytest

from lark_events_core import Dispatcher, Event, Request
from lark_events_core.crypto import decrypt
from lark_events_core.testing import LarkSimulator, Simulator
from tests.support.servers import Server, free_port, run_server

KEY, TOKEN = "sim-key", "sim-token"


def _dispatcher() -> tuple[Dispatcher, list[Event[Any]]]:
    dispatcher = Dispatcher(encrypt_key=KEY, verification_token=TOKEN)
    seen: list[Event[Any]] = []
    dispatcher.on("im.message.receive_v1", seen.append)
    dispatcher.on_legacy_card(seen.append)
    return dispatcher, seen


def test_events_are_encrypted_signed_and_accepted() -> None:
    dispatcher, seen = _dispatcher()
    request = LarkSimulator(KEY, TOKEN).request("im.message.receive_v1", event_id="e-1")
    assert set(json.loads(request.body)) == {"encrypt"}
    assert request.event_id == "e-1"
    assert dispatcher.handle(request.as_request()).status == 200
    assert [e.event_id for e in seen] == ["e-1"]


def test_other_key_or_token_is_refused() -> None:
    dispatcher, seen = _dispatcher()
    for sim in (LarkSimulator("other", TOKEN), LarkSimulator(KEY, "other")):
        response = dispatcher.handle(sim.request("im.message.receive_v1").as_request())
        assert response.status == 401
    assert seen == []


def test_unsigned_and_plain_variants() -> None:
    dispatcher, _ = _dispatcher()
    sim = LarkSimulator(KEY, TOKEN, encrypt=False)
    plain = sim.request("im.message.receive_v1")
    assert json.loads(plain.body)["schema"] == "2.0"
    assert dispatcher.handle(plain.as_request()).status == 200
    unsigned = sim.request("im.message.receive_v1", sign=False)
    assert "X-Lark-Signature" not in unsigned.headers
    assert dispatcher.handle(unsigned.as_request()).json_body() == {
        "msg": "signature headers missing"
    }


def test_overrides_reach_the_handler() -> None:
    dispatcher, seen = _dispatcher()
    sim = LarkSimulator(KEY, TOKEN)
    request = sim.request("im.message.receive_v1", set={"event.message.content": '{"text":"yo"}'})
    dispatcher.handle(request.as_request())
    assert seen[0].event.message.text == "yo"


def test_challenge_is_unsigned_and_encrypted_when_a_key_is_known() -> None:
    # The console encrypts the challenge when the app has an Encrypt Key (the Go SDK answers a
    # plain one with 500), so that is the default; encrypt=False sends it plain.
    dispatcher, _ = _dispatcher()
    sim = LarkSimulator(KEY, TOKEN)
    for encrypt, expected in ((None, True), (True, True), (False, False)):
        request = sim.challenge("c-1", encrypt=encrypt)
        assert "X-Lark-Signature" not in request.headers
        assert ("encrypt" in json.loads(request.body)) is expected
        assert dispatcher.handle(request.as_request()).json_body() == {"challenge": "c-1"}
    assert "encrypt" not in json.loads(LarkSimulator(KEY, TOKEN, encrypt=False).challenge().body)
    assert "encrypt" not in json.loads(LarkSimulator(None, TOKEN).challenge().body)


def test_bodies_are_compact_json_as_the_platform_sends() -> None:
    sim = LarkSimulator(None, TOKEN)
    for event_type in ("im.message.receive_v1", "message", "legacy_card"):
        body = sim.request(event_type).body
        assert json.dumps(json.loads(body), ensure_ascii=False, separators=(",", ":")).encode() == (
            body
        )
    assert b": " not in sim.challenge("c").body


def test_legacy_card_goes_to_the_card_path_signed_with_the_token() -> None:
    dispatcher, seen = _dispatcher()
    sim = LarkSimulator(KEY, TOKEN, card_path="/lark/card")
    request = sim.request("legacy_card")
    assert request.card
    assert sim.path_for(request) == "/lark/card"
    assert dispatcher.handle(request.as_request(), card=True).status == 200
    assert seen[0].type == "legacy_card"
    forged = LarkSimulator(KEY, "other").request("legacy_card")
    assert dispatcher.handle(forged.as_request(), card=True).status == 401


def test_a_ready_body_is_sent_as_given() -> None:
    sim = LarkSimulator(KEY, TOKEN)
    body = {"schema": "2.0", "header": {"event_id": "x", "event_type": "t"}, "event": {}}
    request = sim.request(body)
    assert json.loads(decrypt(json.loads(request.body)["encrypt"], KEY)) == body


def test_repr_never_shows_secrets() -> None:
    text = repr(LarkSimulator("very-secret-key", "very-secret-token"))
    assert "very-secret" not in text
    assert Simulator is LarkSimulator


class _RecordingClient:
    """Any client with post(path, data=, headers=) (requests.Session, httpx, Starlette...)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes, dict[str, str]]] = []

    def post(self, path: str, data: bytes, headers: dict[str, str]) -> str:
        self.calls.append((path, data, headers))
        return "answer"


def test_post_uses_the_clients_post_with_the_right_path() -> None:
    client = _RecordingClient()
    sim = LarkSimulator(KEY, TOKEN, event_path="/lark/events")
    assert sim.post(client, "im.message.receive_v1") == "answer"
    assert sim.post(client, "legacy_card") == "answer"
    assert [c[0] for c in client.calls] == ["/lark/events", "/webhook/card"]
    dispatcher, seen = _dispatcher()
    for path, body, headers in client.calls:
        dispatcher.handle(Request.build("POST", headers, body, path), card="card" in path)
    assert [e.type for e in seen] == ["im.message.receive_v1", "legacy_card"]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    env = {"LARK_ENCRYPT_KEY": KEY, "LARK_VERIFICATION_TOKEN": TOKEN}
    with run_server([sys.executable, "-m", "tests.cli.echo_app"], env=env) as srv:
        yield srv


@pytest.mark.e2e
def test_send_over_real_http(server: Server) -> None:
    sim = LarkSimulator(KEY, TOKEN)
    response = sim.send(server.url, "im.message.receive_v1", event_id="http-1")
    assert response.status == 200
    assert response.json() == {"msg": "success"}
    assert response.elapsed > 0
    card = sim.send(server.url, "card.action.trigger")
    assert card.json() == {"toast": {"type": "info", "content": "ok"}}
    refused = LarkSimulator("not-" + KEY, TOKEN).send(server.url, "im.message.receive_v1")
    assert refused.status == 401  # an error status is returned, not raised
    assert "event_id=http-1" in server.log()


def test_send_errors() -> None:
    sim = LarkSimulator(KEY, TOKEN)
    with pytest.raises(urllib.error.URLError):
        sim.send(f"http://127.0.0.1:{free_port()}", "im.message.receive_v1", timeout=2)
    with pytest.raises(ValueError):
        sim.send("file:///etc", "im.message.receive_v1")


def test_post_through_starlettes_test_client_sends_the_raw_bytes_without_deprecation() -> None:
    import warnings

    pytest.importorskip("starlette", reason="needs the test extra (fastapi)")
    from starlette.testclient import TestClient

    from lark_events_core.asgi import ASGIApp
    from lark_events_core.testing import LarkSimulator

    seen: list[str] = []
    dispatcher = Dispatcher(encrypt_key="sim-key", verification_token="sim-token")
    dispatcher.on("im.message.receive_v1", lambda event: seen.append(event.event_id))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        with TestClient(ASGIApp(dispatcher)) as client:
            response = LarkSimulator("sim-key", "sim-token").post(client, "im.message.receive_v1")
    assert (response.status_code, response.json()) == (200, {"msg": "success"})
    assert len(seen) == 1  # signature over the exact bytes held
