"""``lark-events send`` and ``verify-url`` against the official SDKs' webhook receivers.

lark-oapi (Flask) and node-sdk (``adaptDefault``), each configured like an app with an Encrypt
Key and a verification token ("encrypted") or with a token only, must accept every template we
send and the URL verification, and their handlers must receive the fields we sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from lark_events_core.testing import EVENT_TYPES
from lark_events_core.testing._generated_templates import TEMPLATES as GENERATED_TEMPLATES
from lark_events_core.testing.templates import template_kind
from tests.interop._webhook_support import (
    MARKED_FIELDS,
    MODES,
    SDKS,
    Receiver,
    lark_events,
    leaf_values,
    marker,
    start_receiver,
)

pytestmark = [pytest.mark.interop, pytest.mark.e2e]

APP_ID = "cli_a1b2c3d4e5f60718"
TENANT = "tenant_interop"


@pytest.fixture(
    scope="module", params=[(sdk, mode) for sdk in SDKS for mode in MODES], ids="-".join
)
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    sdk, mode = request.param
    with start_receiver(sdk, mode, f"{request.node.nodeid}[{sdk}-{mode}]") as running:
        yield running


#: The hand-written templates; the generated ones (one per typed event) are sent through the
#: dispatcher in-process by tests/core/events/test_generated.py, a process each is too slow here.
HAND_WRITTEN = tuple(t for t in EVENT_TYPES if t not in GENERATED_TEMPLATES)


def test_every_hand_written_template_has_a_marked_field() -> None:
    assert set(MARKED_FIELDS) == set(HAND_WRITTEN)


@pytest.mark.parametrize("event_type", HAND_WRITTEN)
def test_every_template_reaches_the_official_handler_with_its_fields(
    receiver: Receiver, event_type: str, request: pytest.FixtureRequest
) -> None:
    mark = marker(request.node.nodeid)
    event_id = marker(request.node.nodeid, "event-id")
    field = MARKED_FIELDS[event_type]
    kind = template_kind(event_type)
    args = ["send", event_type, "--set", f"{field}={mark}", "--app-id", APP_ID,
            "--tenant-key", TENANT, *receiver.keys()]  # fmt: skip
    if kind == "legacy_card":
        args += ["--url", receiver.card_url]
    else:
        args += ["--url", receiver.url, "--event-id", event_id]
    if event_type == "im.message.receive_v1":
        args += ["--text", f"text {mark}"]
    result = lark_events(*args)
    assert result.code == 0, result.text
    assert "Traceback" not in result.text

    data = receiver.wait_handled(event_type, mark)["data"]
    assert mark in leaf_values(data, field.rsplit(".", 1)[-1])
    if kind in ("v2", "callback"):
        assert event_id in leaf_values(data, "event_id")
        assert APP_ID in leaf_values(data, "app_id")
        assert TENANT in leaf_values(data, "tenant_key")
        assert event_type in leaf_values(data, "event_type")
    elif kind == "v1":
        assert event_id in leaf_values(data, "uuid")
        assert APP_ID in leaf_values(data, "app_id")
    else:
        assert TENANT in leaf_values(data, "tenant_key")
    if event_type == "im.message.receive_v1":
        assert json.dumps({"text": f"text {mark}"}, separators=(",", ":")) in leaf_values(
            data, "content"
        )
    if kind in ("callback", "legacy_card") and event_type != "url.preview.get":
        assert f"handled by {receiver.sdk}" in result.out  # the callback's answer came back


def test_verify_url_passes(receiver: Receiver) -> None:
    # Encrypted when the app has an Encrypt Key (as the console does), plain otherwise.
    result = lark_events("verify-url", "--url", receiver.url, *receiver.keys())
    assert result.code == 0, result.text
    mode = "encrypted" if receiver.mode == "encrypted" else "plain"
    assert f"URL verification ({mode}, with the token)" in result.out
    assert "ok: the app answered the challenge correctly" in result.out


def test_the_keys_can_come_from_the_environment(receiver: Receiver) -> None:
    mark = marker(receiver.sdk + receiver.mode, "env")
    result = lark_events("send", "--url", receiver.url, "--set",
                         f"event.message.message_id={mark}", env=receiver.env())  # fmt: skip
    assert result.code == 0, result.text
    receiver.wait_handled("im.message.receive_v1", mark)


def test_the_official_receivers_check_what_we_sign(receiver: Receiver) -> None:
    # The oracles are only worth something if they refuse what the real platform would not send.
    mark = marker(receiver.sdk + receiver.mode, "forged")
    if receiver.mode == "encrypted":
        # Plain but signed with another key.
        forged = ["--plain", "--encrypt-key", "not-the-key", "--verification-token", receiver.token]
    else:
        forged = ["--verification-token", "not-the-token"]
    result = lark_events("send", "--url", receiver.url,
                         "--set", f"event.message.message_id={mark}", *forged)  # fmt: skip
    assert "Traceback" not in result.text
    handled = any(mark in json.dumps(call["data"]) for call in receiver.handled())
    if receiver.sdk == "lark-oapi":
        assert result.code == 1, result.text  # 500
        assert "the app answered 500" in result.err
        assert not handled
    elif receiver.mode == "encrypted":
        # node-sdk: an empty 200 without calling the handler (the platform counts it delivered).
        assert result.code == 0, result.text
        assert "warning: the answer body is empty" in result.out
        assert not handled
    else:
        # node-sdk never checks the verification token (PROTOCOL.md section 6).
        assert result.code == 0, result.text
        receiver.wait_handled("im.message.receive_v1", mark)
