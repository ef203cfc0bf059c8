"""A deduplication store in Redis (the ``redis`` extra): one claim across processes and hosts.

- claim: ``SET key owner NX PX ttl`` — a single atomic command, so two processes or hosts can
  never both win, and a claim whose owner crashed expires by itself.
- complete / release: a short Lua script that only touches a claim the caller still owns (so a
  slow owner whose claim expired and was taken over cannot undo the new owner's claim).
- Keys: ``prefix + key`` encoded as UTF-8 with ``surrogatepass``, so every string (even one with a
  lone surrogate, which JSON allows) is a key; a key over 256 bytes is stored as its SHA-256
  digest, so Redis keeps a bounded size per event however long the id a sender invents.
- Connections: at most ``max_connections`` commands in flight per process (per event loop for the
  async client), on reused pooled connections. A burst waits for a free connection (up to
  ``pool_timeout``) instead of opening a hundred at once; waiting is never counted as Redis
  being down.
- Redis unreachable: a refused connection fails at once; a connect has ``connect_timeout``
  (a new connection on a busy event loop can take longer than a command), a command
  ``timeout``; the client never retries. After a failure every call fails at once, without
  touching the network, for ``cooldown`` seconds, so a dead Redis costs each request
  microseconds. A *timeout* while Redis answered other calls within the last ``cooldown``
  seconds is a busy server, not a dead one: that call fails, the others go on.
  The dispatcher's ``on_store_error`` policy then decides: handle the event anyway (default) or
  answer 503.

Importing this module imports ``redis``; the core never does unless this store is used.
"""

from __future__ import annotations

import asyncio
import hashlib
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
_MAX_KEY_BYTES = 256
# 0xFF never occurs in UTF-8, so a digest key can never equal the key of another event id.
_DIGEST_MARK = b"\xffsha256:"
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
    """Redis failed (or every connection stayed busy); the call did not reach a verdict."""


class RedisDedupStore:
    """Claims and handled ids in Redis, keyed ``{prefix}{key}``.

    Build it from a URL (pooled clients with short timeouts and no retries are made for you) or
    pass your own ``client`` (``redis.Redis``) and/or ``async_client`` (``redis.asyncio.Redis``);
    give their pools at least ``max_connections`` connections. Async callers use the async
    client when one is available, the sync one in a thread otherwise.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: redis.Redis | None = None,
        async_client: aioredis.Redis | None = None,
        prefix: str = "lark-events:",
        timeout: float = 0.5,
        connect_timeout: float = 2.0,
        cooldown: float = 1.0,
        max_connections: int = 32,
        pool_timeout: float = 2.0,
    ) -> None:
        if url is None and client is None and async_client is None:
            raise ValueError("give a Redis url, a client or an async_client")
        if timeout <= 0 or connect_timeout <= 0 or pool_timeout <= 0 or cooldown < 0:
            raise ValueError("timeouts must be positive and cooldown >= 0")
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.prefix = prefix
        self._prefix_bytes = _encode(prefix)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.cooldown = cooldown
        self.max_connections = max_connections
        self.pool_timeout = pool_timeout
        options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": connect_timeout,
            "health_check_interval": 0,
            # The gates below keep the in-flight count within the pool: the pool never refuses.
            "max_connections": max_connections,
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
        self._last_ok = 0.0
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_connections)
        # The async client's connections belong to one event loop; so does this gate.
        self._aslots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    def __repr__(self) -> str:
        return f"RedisDedupStore(prefix={self.prefix!r})"  # the URL may hold a password

    def redis_key(self, key: str) -> bytes:
        """The Redis key of ``key``: the prefix and key in UTF-8 (surrogates kept), or a digest."""
        raw = _encode(key)
        if len(raw) > _MAX_KEY_BYTES:
            raw = _DIGEST_MARK + hashlib.sha256(raw).hexdigest().encode("ascii")
        return self._prefix_bytes + raw

    # -- sync ------------------------------------------------------------------------------------

    def claim(self, key: str, owner: str, ttl: float) -> bool:
        """``SET {prefix}key owner NX PX ttl``: ``True`` when this call won the claim."""
        client = self._sync()
        name = self.redis_key(key)
        return bool(self._guard(lambda: client.set(name, owner, nx=True, px=_ms(ttl))))

    def complete(self, key: str, owner: str, ttl: float) -> None:
        """Mark ``key`` done for ``ttl`` seconds unless another owner has taken it over."""
        script = self._complete
        self._sync()
        assert script is not None
        name = self.redis_key(key)
        self._guard(lambda: script(keys=[name], args=[owner, _ms(ttl)]))

    def release(self, key: str, owner: str) -> None:
        """Delete ``owner``'s claim on ``key`` (nothing else)."""
        script = self._release
        self._sync()
        assert script is not None
        name = self.redis_key(key)
        self._guard(lambda: script(keys=[name], args=[owner]))

    # -- async -----------------------------------------------------------------------------------

    async def aclaim(self, key: str, owner: str, ttl: float) -> bool:
        """:meth:`claim` with the asyncio client (the sync one in a thread if there is none)."""
        client = self.async_client
        if client is None:
            return bool(await _in_thread(self.claim, key, owner, ttl))
        name = self.redis_key(key)
        return bool(await self._aguard(lambda: client.set(name, owner, nx=True, px=_ms(ttl))))

    async def acomplete(self, key: str, owner: str, ttl: float) -> None:
        """:meth:`complete` with the asyncio client."""
        script = self._acomplete
        if script is None:
            await _in_thread(self.complete, key, owner, ttl)
            return
        name = self.redis_key(key)
        await self._aguard(lambda: script(keys=[name], args=[owner, _ms(ttl)]))

    async def arelease(self, key: str, owner: str) -> None:
        """:meth:`release` with the asyncio client."""
        script = self._arelease
        if script is None:
            await _in_thread(self.release, key, owner)
            return
        name = self.redis_key(key)
        await self._aguard(lambda: script(keys=[name], args=[owner]))

    async def aclose(self) -> None:
        """Close the asyncio client's connections."""
        if self.async_client is not None:
            await self.async_client.aclose()

    def close(self) -> None:
        """Close the sync client's connections."""
        if self.client is not None:
            self.client.close()

    def ping(self) -> bool:
        """Whether Redis answers a PING within the timeout (for :meth:`Dispatcher.health`)."""
        if self.client is None:
            return False  # only an async client: ask aping()
        try:
            return bool(self.client.ping())
        except (redis.RedisError, OSError):
            return False

    async def aping(self) -> bool:
        """:meth:`ping` with the asyncio client (the sync one in a thread when there is none)."""
        if self.async_client is None:
            return bool(await _in_thread(self.ping))
        try:
            return bool(await self.async_client.ping())
        except (redis.RedisError, OSError):
            return False

    # -- connections and failures ----------------------------------------------------------------

    def _sync(self) -> redis.Redis:
        if self.client is None:
            raise RuntimeError("this RedisDedupStore has only an async client")
        return self.client

    def _guard(self, op: Any) -> Any:
        self._check_cooldown()
        if not self._slots.acquire(timeout=self.pool_timeout):
            raise StoreUnavailable("every Redis connection stayed busy")
        try:
            self._check_cooldown()  # it may have failed while this call waited
            try:
                result = op()
            except redis.RedisError as exc:
                raise self._failed(exc) from exc
        finally:
            self._slots.release()
        self._last_ok = time.monotonic()
        return result

    async def _aguard(self, op: Any) -> Any:
        self._check_cooldown()
        slots = self._loop_slots()
        if slots.locked():  # every connection in use: wait for one, a bounded time
            try:
                await asyncio.wait_for(slots.acquire(), self.pool_timeout)
            except asyncio.TimeoutError:
                raise StoreUnavailable("every Redis connection stayed busy") from None
        else:
            await slots.acquire()
        try:
            self._check_cooldown()
            try:
                result = await op()
            except redis.RedisError as exc:
                raise self._failed(exc) from exc
        finally:
            slots.release()
        self._last_ok = time.monotonic()
        return result

    def _loop_slots(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        current = self._aslots
        if current is None or current[0] is not loop:
            current = self._aslots = (loop, asyncio.Semaphore(self.max_connections))
        return current[1]

    def _check_cooldown(self) -> None:
        if self._down_until and time.monotonic() < self._down_until:
            raise StoreUnavailable("Redis failed recently; not retrying yet")

    def _failed(self, exc: redis.RedisError) -> StoreUnavailable:
        now = time.monotonic()
        if isinstance(exc, redis.TimeoutError) and now - self._last_ok < max(self.cooldown, 1.0):
            # Redis answered a moment ago: a slow connect or reply on a busy process, not a dead
            # server. Only this call fails; no cooldown for the others.
            return StoreUnavailable("Redis call timed out (Redis answered other calls just now)")
        with self._lock:
            self._down_until = now + self.cooldown
        return StoreUnavailable("Redis command failed")


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


async def _in_thread(fn: Any, *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)
