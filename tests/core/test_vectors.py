"""Every byte-exact vector of PROTOCOL.md through the core: decryption, signatures, requests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lark_events_core import Dispatcher, Request, card_signature, decrypt, event_signature
from lark_events_core.testing import sign_event
from tests.support.vectors import vectors

DECRYPT = vectors()["decrypt"]
EVENT_SIG = vectors()["event_signature"]
CARD_SIG = vectors()["card_signature"]


@pytest.mark.parametrize("vec", DECRYPT, ids=[v["name"] for v in DECRYPT])
def test_decrypt_vector(vec: dict[str, Any]) -> None:
    assert decrypt(vec["encrypt"], vec["encrypt_key"]) == vec["plaintext"].encode("utf-8")


@pytest.mark.parametrize("vec", [v for v in DECRYPT if "iv_hex" in v], ids=lambda v: v["name"])
def test_encrypt_with_the_vector_iv_gives_the_vector_bytes(vec: dict[str, Any]) -> None:
    from lark_events_core import encrypt

    got = encrypt(vec["plaintext"], vec["encrypt_key"], iv=bytes.fromhex(vec["iv_hex"]))
    assert got == vec["encrypt"]


@pytest.mark.parametrize("vec", EVENT_SIG, ids=[v["name"] for v in EVENT_SIG])
def test_event_signature_vector(vec: dict[str, Any]) -> None:
    body = vec["body"].encode("utf-8")
    assert (
        event_signature(vec["timestamp"], vec["nonce"], vec["encrypt_key"], body)
        == vec["signature"]
    )


@pytest.mark.parametrize("vec", CARD_SIG, ids=[v["name"] for v in CARD_SIG])
def test_card_signature_vector(vec: dict[str, Any]) -> None:
    body = vec["body"].encode("utf-8")
    got = card_signature(vec["timestamp"], vec["nonce"], vec["verification_token"], body)
    assert got == vec["signature"]


def _receiver(vector_receiver: dict[str, Any], calls: list[Any]) -> Dispatcher:
    dispatcher = Dispatcher(
        encrypt_key=vector_receiver["encrypt_key"],
        verification_token=vector_receiver["verification_token"],
    )
    for event_type in vector_receiver["handlers"]:
        dispatcher.on(event_type, calls.append)
    return dispatcher


def test_request_vector_sync(
    request_vector: dict[str, Any], vector_receiver: dict[str, Any]
) -> None:
    calls: list[Any] = []
    dispatcher = _receiver(vector_receiver, calls)
    request = Request.build("POST", request_vector["headers"], request_vector["body"].encode())
    response = dispatcher.handle(request)
    assert response.status == request_vector["expect_status"]
    assert dict(response.headers)["Content-Type"] == "application/json; charset=utf-8"
    body = json.loads(response.body)  # every answer is valid JSON
    assert isinstance(body, dict)
    if "expect_json" in request_vector:
        assert body == request_vector["expect_json"]
    expect_call = request_vector["expect_status"] == 200 and request_vector["name"].startswith(
        ("v2-event-ok", "v2-event-lowercase")
    )
    assert len(calls) == (1 if expect_call else 0)


async def _handle_async(dispatcher: Dispatcher, request: Request) -> Any:
    return await dispatcher.handle_async(request)


def test_request_vector_async(
    request_vector: dict[str, Any], vector_receiver: dict[str, Any]
) -> None:
    import asyncio

    calls: list[Any] = []
    dispatcher = _receiver(vector_receiver, calls)
    request = Request.build("POST", request_vector["headers"], request_vector["body"].encode())
    response = asyncio.run(_handle_async(dispatcher, request))
    assert response.status == request_vector["expect_status"]
    if "expect_json" in request_vector:
        assert json.loads(response.body) == request_vector["expect_json"]


def test_testing_helper_signs_like_the_vectors(vector_receiver: dict[str, Any]) -> None:
    vec = EVENT_SIG[1]
    signed = sign_event(
        vec["body"],
        encrypt_key=vec["encrypt_key"],
        encrypt=False,
        timestamp=vec["timestamp"],
        nonce=vec["nonce"],
    )
    assert signed.headers["X-Lark-Signature"] == vec["signature"]
