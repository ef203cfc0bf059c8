"""Fixtures: run a scenario against an in-process webhook app and the inspector's test client."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from lark_events_core.inspector import Sender, create_app

from .helpers import make_sender, webhook_app


@dataclass
class Rig:
    """The inspector's client, its sender and what the webhook handled."""

    client: TestClient[web.Request, web.Application]
    sender: Sender
    handled: Counter[str]
    webhook_url: str


Scenario = Callable[[Rig], Awaitable[Any]]


@pytest.fixture
def run_rig(tmp_path: Path) -> Callable[..., Any]:
    """Run ``scenario(rig)`` on a fresh loop; ``access_token`` guards the inspector."""

    def run(
        scenario: Scenario, *, access_token: str = "", webhook: web.Application | None = None
    ) -> Any:
        async def main() -> Any:
            handled: Counter[str] = Counter()
            async with TestServer(webhook or webhook_app(handled)) as hook:
                base = str(hook.make_url("")).rstrip("/")
                sender = make_sender(base, tmp_path / "inspector.sqlite3")
                app = create_app(sender, access_token=access_token)
                try:
                    async with TestClient(TestServer(app)) as client:
                        return await scenario(Rig(client, sender, handled, base))
                finally:
                    await sender.close()
                    sender.store.close()

        return asyncio.run(asyncio.wait_for(main(), 60))

    return run
