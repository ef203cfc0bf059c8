"""``forward --inspect``: what the long connection delivers is recorded as it was forwarded."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from lark_events_core._secrets import Secret
from lark_events_core.inspector import REDACTED
from lark_events_core.testing import make_event, make_legacy_card
from tests.support.servers import free_port

from .helpers import KEY, TOKEN, Stack


def scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **options: Any) -> Any:
    monkeypatch.setenv("LARK_EVENTS_INSPECTOR_DB", str(tmp_path / "inspector.sqlite3"))

    async def run(steps: Any) -> Any:
        stack = Stack(free_port(), **options)
        await stack.start()
        try:
            async with aiohttp.ClientSession(f"http://127.0.0.1:{stack.inspector_port}") as http:
                return await steps(stack, http)
        finally:
            await stack.stop()

    return lambda steps: asyncio.run(asyncio.wait_for(run(steps), 60))


def test_forwarded_events_are_recorded_decrypted_and_replayable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def steps(stack: Stack, http: aiohttp.ClientSession) -> None:
        message = make_event("im.message.receive_v1", {"message": {"message_id": "om_1"}})
        assert await stack.push(message) == 200
        legacy = make_legacy_card({"value": {"x": 1}, "tag": "button"})
        pushed = await stack.platform.push(legacy, frame_type="card")
        assert (await pushed.ack(timeout=10)).code == 200
        rows = (await (await http.get("/api/exchanges")).json())["exchanges"]
        assert [(r["source"], r["event_type"], r["status"]) for r in rows] == [
            ("forwarded", "legacy_card", 200),
            ("forwarded", "im.message.receive_v1", 200),
        ]
        detail = await (await http.get(f"/api/exchanges/{rows[1]['id']}")).json()
        # The forwarder put the app's token in; the inspector shows it redacted.
        assert detail["payload"]["header"]["token"] == REDACTED
        assert detail["payload"]["event"]["message"]["message_id"] == "om_1"
        assert "X-Request-Id" in detail["request_headers"]
        assert detail["url"] == f"{stack.base_url}/webhook/event"
        replay = await http.post(f"/api/exchanges/{rows[1]['id']}/replay", json={"mode": "same"})
        again = await replay.json()
        assert again["duplicate_of"] == rows[1]["id"]
        assert stack.handled[message["header"]["event_id"]] == 1
        text = await (await http.get(f"/exchanges/{rows[1]['id']}")).text()
        assert KEY not in text
        assert TOKEN not in text

    scenario(tmp_path, monkeypatch)(steps)


def test_a_forward_the_app_refuses_is_recorded_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def steps(stack: Stack, http: aiohttp.ClientSession) -> None:
        assert await stack.push(make_event("im.message.receive_v1", {})) == 500
        rows = (await (await http.get("/api/exchanges")).json())["exchanges"]
        assert rows[0]["status"] == 401  # signed with another key than the app's
        detail = await (await http.get(f"/api/exchanges/{rows[0]['id']}")).json()
        assert detail["payload"] is not None  # the inspector decrypts with the forward's key
        assert json.loads(detail["answer"])["msg"] == "signature mismatch"

    scenario(tmp_path, monkeypatch, encrypt_key=Secret("not-the-apps-key"))(steps)
