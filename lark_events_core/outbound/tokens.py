"""Access tokens: cached until shortly before expiry, refreshed once however many callers wait.

Self-built apps get one tenant access token (``auth/v3/tenant_access_token/internal``). Store apps
get an app access token from their ``app_ticket`` (``auth/v3/app_access_token``), then one tenant
access token per ``tenant_key`` (``auth/v3/tenant_access_token``).

Everything here runs on one event loop, so the single-flight needs no lock: the first caller
starts one refresh task per key and every caller awaits it (shielded, so a cancelled caller
never cancels the refresh the others wait for).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from .._log import safe
from .._secrets import Secret
from .errors import (
    AppTicketMissing,
    InvalidTokenError,
    TokenRequestError,
)
from .tickets import MemoryTicketStore, TicketStore
from .transport import Transport

__all__ = ["AppType", "TokenCache", "TokenManager"]

logger = logging.getLogger("lark_events.outbound")

AppType = Literal["self_built", "store"]
Fetch = Callable[[], Awaitable[tuple[str, int]]]

TENANT_TOKEN_INTERNAL = "/open-apis/auth/v3/tenant_access_token/internal"  # noqa: S105 - a URL path
APP_TOKEN_STORE = "/open-apis/auth/v3/app_access_token"  # noqa: S105 - a URL path
TENANT_TOKEN_STORE = "/open-apis/auth/v3/tenant_access_token"  # noqa: S105 - a URL path
APP_TICKET_RESEND = "/open-apis/auth/v3/app_ticket/resend"


@dataclass(frozen=True, slots=True)
class _Entry:
    token: Secret
    refresh_at: float


@dataclass
class TokenCache:
    """Tokens by key, each refreshed by at most one request at a time.

    A token is used until ``refresh_margin`` seconds before it expires (half its lifetime when
    that is shorter); the platform hands out a new token in its last 30 minutes.
    """

    refresh_margin: float = 300.0
    clock: Callable[[], float] = time.monotonic
    _entries: dict[str, _Entry] = field(default_factory=dict, repr=False)
    _inflight: dict[str, asyncio.Task[Secret]] = field(default_factory=dict, repr=False)

    async def get(self, key: str, fetch: Fetch) -> Secret:
        """The cached token for ``key``, or the result of the one refresh in flight for it."""
        entry = self._entries.get(key)
        if entry is not None and self.clock() < entry.refresh_at:
            return entry.token
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._refresh(key, fetch))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._settled(key, done))
        return await asyncio.shield(task)

    def _settled(self, key: str, task: asyncio.Task[Secret]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so an error nobody awaited is not logged as lost

    async def _refresh(self, key: str, fetch: Fetch) -> Secret:
        value, expire = await fetch()
        token = Secret(value)
        lifetime = max(float(expire), 0.0)
        self._entries[key] = _Entry(
            token, self.clock() + max(lifetime - self.refresh_margin, lifetime / 2)
        )
        return token

    def invalidate(self, key: str, token: Secret | None = None) -> None:
        """Forget the token of ``key`` (only if it is still ``token``, when given)."""
        entry = self._entries.get(key)
        if entry is not None and (token is None or entry.token == token):
            del self._entries[key]

    def clear(self) -> None:
        """Forget every token."""
        self._entries.clear()


class TokenManager:
    """Gets, caches and refreshes the tokens of one app."""

    def __init__(
        self,
        app_id: str,
        app_secret: Secret,
        transport: Transport,
        *,
        app_type: AppType = "self_built",
        ticket_store: TicketStore | None = None,
        ticket_wait: float = 10.0,
        refresh_margin: float = 300.0,
    ) -> None:
        self.app_id = app_id
        self._secret = app_secret
        self._transport = transport
        transport.add_secrets(app_secret)  # redacted from whatever the server answers
        self.app_type: AppType = app_type
        self.tickets: TicketStore = ticket_store or MemoryTicketStore()
        self.ticket_wait = ticket_wait
        self.cache = TokenCache(refresh_margin=refresh_margin)
        self._ticket_arrived: asyncio.Event | None = None
        self._resend_task: asyncio.Task[bool] | None = None

    def __repr__(self) -> str:
        return f"TokenManager(app_id={self.app_id!r}, app_type={self.app_type!r})"

    # -- keys -------------------------------------------------------------------------------

    def tenant_key_for(self, tenant_key: str | None) -> str:
        """The cache key of the tenant token used for ``tenant_key``."""
        if self.app_type == "self_built":
            return "tenant"
        if not tenant_key:
            raise AppTicketMissing(
                "a store app needs the tenant_key of the tenant to act for (event.tenant_key)"
            )
        return f"tenant:{tenant_key}"

    # -- tenant tokens ----------------------------------------------------------------------

    async def tenant_token(self, tenant_key: str | None = None) -> Secret:
        """The tenant access token for ``tenant_key`` (ignored by self-built apps)."""
        key = self.tenant_key_for(tenant_key)
        if self.app_type == "self_built":
            return await self.cache.get(key, self._fetch_internal)
        return await self.cache.get(key, lambda: self._fetch_store_tenant(tenant_key or ""))

    def invalidate_tenant(self, tenant_key: str | None, token: Secret) -> None:
        """Drop ``token`` if it is still the cached one for ``tenant_key``."""
        self.cache.invalidate(self.tenant_key_for(tenant_key), token)

    async def _fetch_internal(self) -> tuple[str, int]:
        body = {"app_id": self.app_id, "app_secret": self._secret.reveal()}
        answer = await self._transport.call(
            "POST", TENANT_TOKEN_INTERNAL, body=body, error_class=TokenRequestError
        )
        return self._token_from(answer, "tenant_access_token", TENANT_TOKEN_INTERNAL)

    async def _fetch_store_tenant(self, tenant_key: str) -> tuple[str, int]:
        for attempt in range(2):
            app_token = await self.app_token()
            body = {"app_access_token": app_token.reveal(), "tenant_key": tenant_key}
            try:
                answer = await self._transport.call(
                    "POST",
                    TENANT_TOKEN_STORE,
                    body=body,
                    error_class=TokenRequestError,
                    secrets=(app_token,),
                )
            except InvalidTokenError:
                if attempt:
                    raise
                self.cache.invalidate("app", app_token)
                continue
            logger.info("fetched a tenant access token for tenant %s", safe(tenant_key, 64))
            return self._token_from(answer, "tenant_access_token", TENANT_TOKEN_STORE)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- store apps: app token and ticket ---------------------------------------------------

    async def app_token(self) -> Secret:
        """The app access token of a store app (from its ``app_ticket``)."""
        return await self.cache.get("app", self._fetch_store_app)

    async def _fetch_store_app(self) -> tuple[str, int]:
        stale: Secret | None = None
        for attempt in range(2):
            ticket = await self._wait_for_ticket(newer_than=stale)
            body = {
                "app_id": self.app_id,
                "app_secret": self._secret.reveal(),
                "app_ticket": ticket.reveal(),
            }
            try:
                answer = await self._transport.call(
                    "POST",
                    APP_TOKEN_STORE,
                    body=body,
                    error_class=TokenRequestError,
                    secrets=(ticket,),
                )
            except TokenRequestError:
                # Perhaps a stale ticket (after a restart, from a shared store): ask the platform
                # for a new one and try once more. A wrong app secret fails the resend as well.
                if attempt or not await self._resend():
                    raise
                stale = ticket
                continue
            return self._token_from(answer, "app_access_token", APP_TOKEN_STORE)
        raise AssertionError("unreachable")  # pragma: no cover

    def ticket_arrived(self) -> None:
        """A new ticket is in the store: drop the app token made from the old one, wake waiters.

        Call on the client's I/O loop (:meth:`OpenAPIClient.set_app_ticket` does).
        """
        self.cache.invalidate("app")
        if self._ticket_arrived is not None:
            self._ticket_arrived.set()

    async def _wait_for_ticket(self, newer_than: Secret | None = None) -> Secret:
        ticket = self.tickets.get(self.app_id)
        if ticket is not None and ticket != newer_than:
            return ticket
        if newer_than is None:
            self._request_resend()
        if self._ticket_arrived is None:
            self._ticket_arrived = asyncio.Event()
        deadline = asyncio.get_running_loop().time() + self.ticket_wait
        while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
            self._ticket_arrived.clear()
            # Poll as well: a shared store may receive the ticket in another process.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._ticket_arrived.wait(), min(remaining, 0.25))
            ticket = self.tickets.get(self.app_id)
            if ticket is not None and ticket != newer_than:
                return ticket
        raise AppTicketMissing(
            f"no app_ticket for store app {self.app_id} within {self.ticket_wait}s; "
            "is the app_ticket event delivered to a dispatcher the client is attached to?"
        )

    def _request_resend(self) -> None:
        if self._resend_task is not None and not self._resend_task.done():
            return
        self._resend_task = asyncio.ensure_future(self._resend())

    async def _resend(self) -> bool:
        """Ask the platform to push a new ``app_ticket``; whether it agreed."""
        body = {"app_id": self.app_id, "app_secret": self._secret.reveal()}
        try:
            await self._transport.call(
                "POST", APP_TICKET_RESEND, body=body, error_class=TokenRequestError
            )
        except Exception as exc:
            logger.warning("app_ticket resend for %s failed: %r", safe(self.app_id), exc)
            return False
        logger.info("asked the platform to resend the app_ticket of %s", safe(self.app_id))
        return True

    # -- helpers ----------------------------------------------------------------------------

    def _token_from(self, answer: dict[str, object], field_name: str, path: str) -> tuple[str, int]:
        value = answer.get(field_name)
        expire = answer.get("expire")
        if not isinstance(value, str) or not value or not isinstance(expire, int):
            raise TokenRequestError(-1, f"the answer has no {field_name}", path=path)
        self._transport.add_secrets(value)  # never echoed back into an error or a log
        return value, expire
