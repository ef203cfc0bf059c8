"""``lark-events forward`` relays the fake platform's long connection into official receivers.

The real command runs as a process against :class:`FakePlatform`; every pushed event and
callback must reach the lark-oapi (Flask) and node-sdk (``adaptDefault``) handlers, encrypted and
signed as they expect, and each callback's answer must come back as the acknowledgement.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from lark_events_core._json import dumps
from lark_events_core.testing import build_payload
from lark_events_core.testing.fake_platform import FakePlatform
from tests.interop._webhook_support import LARK_EVENTS, SDKS, Receiver, marker, start_receiver

pytestmark = [pytest.mark.interop, pytest.mark.e2e]


@pytest.fixture(scope="module", params=SDKS)
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    with start_receiver(request.param, "encrypted", f"{request.node.nodeid}[{request.param}]") as r:
        yield r


async def _forwarding(
    receiver: Receiver, pushes: list[tuple[dict[str, Any], str]]
) -> tuple[list[Any], str]:
    """Run ``lark-events forward`` into ``receiver``, push each (body, frame type), ack them."""
    async with FakePlatform() as platform:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("LARK_")},
            **receiver.env(),
            "LARK_APP_ID": platform.app_id,
            "LARK_APP_SECRET": platform.app_secret,
            "PYTHONUNBUFFERED": "1",
        }
        proc = await asyncio.create_subprocess_exec(
            LARK_EVENTS, "forward", "--url", receiver.url, "--card-url", receiver.card_url,
            "--domain", platform.domain, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            await platform.wait_for_connections(1, timeout=20.0)
            acks = []
            for body, frame_type in pushes:
                pushed = await platform.push(dumps(body), frame_type=frame_type)
                acks.append(await pushed.ack(timeout=15))
        finally:
            proc.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(proc.communicate(), 15)
        assert proc.returncode == 0, output.decode(errors="replace")
        return acks, output.decode(errors="replace")


def test_forward_relays_events_and_callbacks_into_the_official_receiver(
    receiver: Receiver, request: pytest.FixtureRequest
) -> None:
    mark = marker(request.node.nodeid)
    # As the long connection delivers them: no verification token (forward adds the app's).
    message = build_payload("im.message.receive_v1", overrides={"event.message.message_id": mark})
    v1 = build_payload("message", overrides={"event.open_message_id": mark + "v1"})
    click = build_payload("card.action.trigger", overrides={"event.context.open_message_id": mark})
    legacy = build_payload("legacy_card", overrides={"open_message_id": mark + "card"})
    pushes = [(message, "event"), (v1, "event"), (click, "event"), (legacy, "card")]
    acks, output = asyncio.run(_forwarding(receiver, pushes))

    assert [ack.code for ack in acks] == [200, 200, 200, 200], output
    receiver.wait_handled("im.message.receive_v1", mark)
    receiver.wait_handled("message", mark + "v1")
    receiver.wait_handled("card.action.trigger", mark)
    receiver.wait_handled("legacy_card", mark + "card")
    toast = {"type": "info", "content": f"handled by {receiver.sdk}"}
    assert acks[2].data["toast"] == toast  # the callback's answer is the ack's data
    assert acks[3].data["toast"] == toast
    assert "Traceback" not in output
    assert receiver.token not in output


def test_forward_says_when_a_callback_got_an_empty_answer(request: pytest.FixtureRequest) -> None:
    # node-sdk answers an empty 200 when a callback handler returns nothing; the ack is {} and
    # the output says so, so a handler that never ran does not go unnoticed.
    mark = marker(request.node.nodeid)
    click = build_payload(
        "card.action.trigger",
        overrides={"event.context.open_message_id": mark, "event.action.value": {"silent": True}},
    )
    with start_receiver("node-sdk", "encrypted", request.node.nodeid) as node:
        acks, output = asyncio.run(_forwarding(node, [(click, "event")]))
        node.wait_handled("card.action.trigger", mark)
    assert acks[0].code == 200
    assert acks[0].data == {}
    assert "answered 200 with an empty body to a v2 callback" in output
