"""django_echo under uvicorn with the Redis store: a burst on a healthy Redis makes no duplicate.

300 concurrent requests (150 events, each delivered twice at once) hit a freshly started server:
every connection the async client opens is new, and there are more requests than redis-py's
default pool of 100 connections allows. A connect that is merely slow on a busy event
loop must not count as "Redis unreachable", which the ``process`` policy answers by handling the
event anyway, a second time.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import aiohttp
import pytest
import redis

from tests.support.servers import ROOT, VENV_BIN, Server, handled_count, run_server
from tests.support.servers import text_message_request as message
from tests.support.services import service_url

pytestmark = [pytest.mark.e2e, pytest.mark.services]

KEY = "e2e_burst_encrypt_key"
TOKEN = "e2e_burst_verification_token"
SAMPLE = ROOT / "sample_projects" / "django_echo"
EVENTS = 150
DELIVERIES = 2
BURSTS = 3


@pytest.fixture
def redis_prefix() -> Iterator[tuple[str, str]]:
    url = service_url("REDIS_URL")
    prefix = f"lark-burst:{uuid.uuid4().hex}:"
    yield url, prefix
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def _uvicorn(url: str, prefix: str) -> Iterator[Server]:
    argv = [
        str(VENV_BIN / "uvicorn"),
        "--app-dir",
        str(SAMPLE),
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--lifespan",
        "off",
        "--no-access-log",
        "echo_project.asgi:application",
    ]
    env = {
        "LARK_ENCRYPT_KEY": KEY,
        "LARK_VERIFICATION_TOKEN": TOKEN,
        "LARK_REDIS_URL": url,
        "LARK_REDIS_PREFIX": prefix,
    }
    with run_server(argv, env=env, cwd=SAMPLE) as server:
        yield server


async def _burst(server: Server, event_ids: list[str]) -> list[int]:
    requests = [
        message(event_id, encrypt_key=KEY, token=TOKEN)
        for event_id in event_ids
        for _ in range(DELIVERIES)
    ]
    start = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def send(body: bytes, headers: dict[str, str]) -> int:
            await start.wait()
            async with session.post(
                server.url + "/webhook/event", data=body, headers=headers
            ) as resp:
                await resp.read()
                return resp.status

        tasks = [asyncio.ensure_future(send(r.body, dict(r.headers))) for r in requests]
        await asyncio.sleep(0.2)
        start.set()
        return await asyncio.gather(*tasks)


def test_burst_on_a_fresh_server_handles_every_event_exactly_once(
    redis_prefix: tuple[str, str],
) -> None:
    url, prefix = redis_prefix
    for _ in range(BURSTS):  # a fresh server (no pooled connection yet) for every burst
        for server in _uvicorn(url, prefix):
            event_ids = [f"burst-{uuid.uuid4().hex}" for _ in range(EVENTS)]
            try:
                statuses = asyncio.run(_burst(server, event_ids))
            except aiohttp.ClientError as error:  # say what the server said, then fail as before
                pytest.fail(f"{error!r}; the server's log:\n{server.log()[-3000:]}")
            assert statuses == [200] * (EVENTS * DELIVERIES)
            log = server.log()
            assert "deduplication store failed" not in log, log[-3000:]
            counts = {e: handled_count(server, "im.message.receive_v1", e) for e in event_ids}
            assert set(counts.values()) == {1}, {e: c for e, c in counts.items() if c != 1}
