"""A deduplication store in Redis (the ``redis`` extra): one claim across processes and hosts.

- claim: ``SET key owner NX PX ttl`` — a single atomic command, so two processes or hosts can
  never both win, and a claim whose owner crashed expires by itself.
- complete / release: a short Lua script that only touches a claim the caller still owns (so a
  slow owner whose claim expired and was taken over cannot undo the new owner's claim).
- Redis unreachable: every method raises quickly (short connect and socket timeouts, no client
  retries) and, for ``cooldown`` seconds after a failure, raises at once without trying again, so a
  dead Redis costs each request microseconds, not a timeout. The dispatcher's ``on_store_error``
  policy then decides: handle the event anyway (default) or answer 503.

Importing this module imports ``redis``; the core never does unless this store is used.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from . import _extras

try:
    import redis
    import redis.asyncio as aioredis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
except ImportError as exc:
    _extras.missing_extra(exc, "redis", __name__)

__all__ = ["RedisDedupStore", "StoreUnavailable"]

_DONE = "1"
# KEYS[1] key, ARGV[1] owner, ARGV[2] done ttl (ms). Marks done unless another owner holds it.
_COMPLETE = """
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] or v == '1' then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
  return 1
end
return 0
"""
# KEYS[1] key, ARGV[1] owner. Deletes the claim only when this owner holds it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class StoreUnavailable(ConnectionError):
    """Redis failed recently; calls fail fast until the cooldown ends."""


class RedisDedupStore:
    """Claims and handled ids in Redis, keyed ``{prefix}{key}``.

    Build it from a URL (clients with short timeouts and no retries are made for you) or pass your
    own ``client`` (``redis.Redis``) and/or ``async_client`` (``redis.asyncio.Redis``). Async
    callers use the async client when one is available, the sync one in a thread otherwise.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: redis.Redis | None = None,
        async_client: aioredis.Redis | None = None,
        prefix: str = "lark-events:",
        timeout: float = 0.5,
        cooldown: float = 1.0,
    ) -> None:
        if url is None and client is None and async_client is None:
            raise ValueError("give a Redis url, a client or an async_client")
        if timeout <= 0 or cooldown < 0:
            raise ValueError("timeout must be positive and cooldown >= 0")
        self.prefix = prefix
        self.timeout = timeout
        self.cooldown = cooldown
        options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "health_check_interval": 0,
        }
        if client is None and url is not None:
            client = redis.Redis.from_url(url, retry=Retry(NoBackoff(), 0), **options)
        if async_client is None and url is not None:
            from redis.asyncio.retry import Retry as AsyncRetry

            async_client = aioredis.Redis.from_url(url, retry=AsyncRetry(NoBackoff(), 0), **options)
        self.client = client
        self.async_client = async_client
        self._complete = client.register_script(_COMPLETE) if client is not None else None
        self._release = client.register_script(_RELEASE) if client is not None else None
        self._acomplete = async_client.register_script(_COMPLETE) if async_client else None
        self._arelease = async_client.register_script(_RELEASE) if async_client else None
        self._down_until = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RedisDedupStore(prefix={self.prefix!r})"  # the URL may hold a password

    # -- sync ------------------------------------------------------------------------------------

    def claim(self, key: str, owner: str, ttl: float) -> bool:
        """``SET {prefix}key owner NX PX ttl``: ``True`` when this call won the claim."""
        client = self._sync()
        return bool(self._guard(lambda: client.set(self.prefix + key, owner, nx=True, px=_ms(ttl))))

    def complete(self, key: str, owner: str, ttl: float) -> None:
        """Mark ``key`` done for ``ttl`` seconds unless another owner has taken it over."""
        script = self._complete
        self._sync()
        assert script is not None
        self._guard(lambda: script(keys=[self.prefix + key], args=[owner, _ms(ttl)]))

    def release(self, key: str, owner: str) -> None:
        """Delete ``owner``'s claim on ``key`` (nothing else)."""
        script = self._release
        self._sync()
        assert script is not None
        self._guard(lambda: script(keys=[self.prefix + key], args=[owner]))

    # -- async -----------------------------------------------------------------------------------

    async def aclaim(self, key: str, owner: str, ttl: float) -> bool:
        """:meth:`claim` with the asyncio client (the sync one in a thread if there is none)."""
        client = self.async_client
        if client is None:
            return bool(await _in_thread(self.claim, key, owner, ttl))
        self._check_cooldown()
        try:
            return bool(await client.set(self.prefix + key, owner, nx=True, px=_ms(ttl)))
        except redis.RedisError as exc:
            raise self._failed() from exc

    async def acomplete(self, key: str, owner: str, ttl: float) -> None:
        """:meth:`complete` with the asyncio client."""
        script = self._acomplete
        if script is None:
            await _in_thread(self.complete, key, owner, ttl)
            return
        self._check_cooldown()
        try:
            await script(keys=[self.prefix + key], args=[owner, _ms(ttl)])
        except redis.RedisError as exc:
            raise self._failed() from exc

    async def arelease(self, key: str, owner: str) -> None:
        """:meth:`release` with the asyncio client."""
        script = self._arelease
        if script is None:
            await _in_thread(self.release, key, owner)
            return
        self._check_cooldown()
        try:
            await script(keys=[self.prefix + key], args=[owner])
        except redis.RedisError as exc:
            raise self._failed() from exc

    async def aclose(self) -> None:
        """Close the asyncio client's connections."""
        if self.async_client is not None:
            await self.async_client.aclose()

    def close(self) -> None:
        """Close the sync client's connections."""
        if self.client is not None:
            self.client.close()

    # -- failure handling ------------------------------------------------------------------------

    def _sync(self) -> redis.Redis:
        if self.client is None:
            raise RuntimeError("this RedisDedupStore has only an async client")
        return self.client

    def _guard(self, op: Any) -> Any:
        self._check_cooldown()
        try:
            return op()
        except redis.RedisError as exc:
            raise self._failed() from exc

    def _check_cooldown(self) -> None:
        if self._down_until and time.monotonic() < self._down_until:
            raise StoreUnavailable("Redis failed recently; not retrying yet")

    def _failed(self) -> StoreUnavailable:
        with self._lock:
            self._down_until = time.monotonic() + self.cooldown
        return StoreUnavailable("Redis command failed")


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


async def _in_thread(fn: Any, *args: Any) -> Any:
    import asyncio

    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)
