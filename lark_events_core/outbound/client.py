"""The Open API client: tenant tokens, messages, replies and delayed card updates.

Every call runs on one long-lived event loop (the background loop lark-events already uses for
async handlers under WSGI), whoever calls it:

- from a coroutine on that loop, it is awaited directly;
- from a coroutine on another loop (aiohttp, ASGI), it is awaited across threads, so that loop is
  never blocked and one token cache and one connection pool serve every caller;
- from a thread with no running loop (WSGI workers, Django sync views, scripts),
  :meth:`OpenAPIClient.run_sync` (and the ``*_sync`` methods of the reply helper) wait for it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import uuid as uuid_module
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from .. import _invoke
from .._log import safe
from .._secrets import Secret
from ..errors import ConfigurationError
from ..results import Card
from .domains import resolve_base_url
from .errors import InvalidTokenError
from .messages import (
    card_content,
    card_object,
    check_receive_id_type,
    encode_content,
    post_content,
    text_content,
)
from .retry import RetryPolicy
from .tickets import TicketStore
from .tokens import AppType, TokenManager
from .transport import Transport

if TYPE_CHECKING:
    from ..dispatcher import Dispatcher
    from ..events.base import Event
    from .replier import Replier

__all__ = ["OpenAPIClient", "client_from_env"]

logger = logging.getLogger("lark_events.outbound")

T = TypeVar("T")

MESSAGES = "/open-apis/im/v1/messages"
_ID = re.compile(r"[A-Za-z0-9_\-]{1,128}")  # a path segment that cannot change the URL
CARD_UPDATE = "/open-apis/interactive/v1/card/update"


def _io_loop() -> asyncio.AbstractEventLoop:
    return _invoke.background_loop()


class OpenAPIClient:
    """Calls the Open API as one app; usable from sync and async code alike.

    ``app_type="store"`` makes it a store app: call :meth:`attach` with your dispatcher so that the
    ``app_ticket`` event reaches it, and pass the event's ``tenant_key`` (the reply helper of
    :meth:`for_event` does). ``domain`` is ``"feishu"``, ``"lark"`` or a base URL; by default
    ``LARK_OPENAPI_BASE_URL`` or ``LARK_DOMAIN`` from the environment, else Feishu.
    """

    def __init__(
        self,
        app_id: str,
        app_secret: str | Secret,
        *,
        app_type: AppType = "self_built",
        domain: str | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        ticket_store: TicketStore | None = None,
        ticket_wait: float = 10.0,
        refresh_margin: float = 300.0,
    ) -> None:
        if not isinstance(app_id, str) or not app_id.strip():
            raise ConfigurationError("app_id must be a non-empty string")
        secret = app_secret if isinstance(app_secret, Secret) else Secret(app_secret)
        if not secret.reveal().strip():
            raise ConfigurationError("app_secret is empty")
        if app_type not in ("self_built", "store"):
            raise ConfigurationError("app_type must be 'self_built' or 'store'")
        if not timeout > 0:
            raise ConfigurationError("timeout must be positive seconds")
        self.app_id = app_id
        self.app_type: AppType = app_type
        self.base_url = resolve_base_url(domain)
        self._transport = Transport(self.base_url, timeout=timeout, retry=retry)
        self.tokens = TokenManager(
            app_id,
            secret,
            self._transport,
            app_type=app_type,
            ticket_store=ticket_store,
            ticket_wait=ticket_wait,
            refresh_margin=refresh_margin,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> OpenAPIClient:
        """Build from ``LARK_APP_ID``, ``LARK_APP_SECRET`` and ``LARK_APP_TYPE`` (``store`` or
        ``self_built``); the domain from ``LARK_OPENAPI_BASE_URL`` / ``LARK_DOMAIN``."""
        env = os.environ if environ is None else environ
        app_id = env.get("LARK_APP_ID") or ""
        secret = env.get("LARK_APP_SECRET") or ""
        if not app_id or not secret:
            raise ConfigurationError("LARK_APP_ID and LARK_APP_SECRET must both be set")
        raw_type = env.get("LARK_APP_TYPE") or "self_built"
        if raw_type not in ("self_built", "store"):
            raise ConfigurationError("LARK_APP_TYPE must be 'self_built' or 'store'")
        app_type: AppType = "store" if raw_type == "store" else "self_built"
        domain = kwargs.pop("domain", None) or resolve_base_url(None, env)
        return cls(app_id, secret, app_type=app_type, domain=domain, **kwargs)

    def __repr__(self) -> str:
        return (
            f"OpenAPIClient(app_id={self.app_id!r}, app_type={self.app_type!r}, "
            f"base_url={self.base_url!r})"
        )

    # -- running on the I/O loop ----------------------------------------------------------

    async def _on_io_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        io = _io_loop()
        if asyncio.get_running_loop() is io:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, io))

    def run_sync(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run one of this client's coroutines from sync code and return its result.

        Refuses to run inside a coroutine (it would block that loop): ``await`` there instead.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return _invoke.run_coroutine_sync(coro)
        coro.close()
        raise RuntimeError(
            "a *_sync Open API call was made from a coroutine; await the async form instead"
        )

    # -- store apps --------------------------------------------------------------------------

    def attach(self, dispatcher: Dispatcher) -> OpenAPIClient:
        """Register an ``app_ticket`` handler on ``dispatcher`` that feeds this client.

        Only store apps receive ``app_ticket``; attaching a self-built app's client is harmless.
        If you already handle ``app_ticket``, call :meth:`set_app_ticket` from your handler.
        """
        client = self

        def on_app_ticket(event: Event[Any]) -> None:
            ticket = event.data.get("app_ticket")
            if isinstance(ticket, str) and ticket:
                client.set_app_ticket(ticket)

        dispatcher.register("app_ticket", on_app_ticket)
        return self

    def set_app_ticket(self, ticket: str | Secret) -> None:
        """Give the client the ticket of an ``app_ticket`` event (safe from any thread)."""
        value = ticket if isinstance(ticket, Secret) else Secret(ticket)
        self.tokens.tickets.set(self.app_id, value)  # stored before the event is acknowledged
        _io_loop().call_soon_threadsafe(self.tokens.ticket_arrived)
        logger.info("app_ticket received for %s", safe(self.app_id))

    # -- tokens and raw calls ----------------------------------------------------------------

    async def tenant_access_token(self, tenant_key: str | None = None) -> str:
        """A valid tenant access token, for calling APIs this client does not wrap."""
        token = await self._on_io_loop(self.tokens.tenant_token(tenant_key))
        return token.reveal()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        tenant_key: str | None = None,
    ) -> dict[str, Any]:
        """Call ``path`` (``/open-apis/...``) with the tenant token; the API's whole JSON answer.

        An invalid or expired token is dropped, refreshed and the call retried once; rate limits
        are retried with backoff; every other failure raises an :class:`OpenAPIError` subclass.
        """
        return await self._on_io_loop(self._authed(method, path, body, params, tenant_key))

    async def _authed(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
        tenant_key: str | None,
    ) -> dict[str, Any]:
        for attempt in range(2):
            token = await self.tokens.tenant_token(tenant_key)
            try:
                return await self._transport.call(
                    method, path, body=body, params=params, token=token
                )
            except InvalidTokenError as exc:
                if attempt:
                    raise
                logger.info(
                    "access token refused on %s (code %s, log_id=%s); refreshing once",
                    safe(path, 200),
                    exc.code,
                    exc.log_id or "-",
                )
                self.tokens.invalidate_tenant(tenant_key, token)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- messages ----------------------------------------------------------------------------

    async def send_message(
        self,
        receive_id: str,
        msg_type: str,
        content: str | Mapping[str, Any],
        *,
        receive_id_type: str = "open_id",
        tenant_key: str | None = None,
        uuid: str | None = None,
    ) -> dict[str, Any]:
        """Send a message (``im/v1/messages``); returns the API's ``data`` (with ``message_id``).

        ``uuid`` makes the send idempotent for an hour; one is generated when not given, so a
        retried call never posts twice.
        """
        body = {
            "receive_id": receive_id,
            "msg_type": msg_type,
            "content": encode_content(content),
            "uuid": uuid or uuid_module.uuid4().hex,
        }
        params = {"receive_id_type": check_receive_id_type(receive_id_type)}
        answer = await self.request(
            "POST", MESSAGES, body=body, params=params, tenant_key=tenant_key
        )
        return _data(answer)

    async def send_text(self, receive_id: str, text: str, **kwargs: Any) -> dict[str, Any]:
        """Send a text message; keyword arguments as :meth:`send_message`."""
        return await self.send_message(receive_id, "text", text_content(text), **kwargs)

    async def send_post(
        self, receive_id: str, post: Mapping[str, Any], **kwargs: Any
    ) -> dict[str, Any]:
        """Send a rich-text (``post``) message, e.g. ``{"zh_cn": {"title": .., "content": ..}}``."""
        return await self.send_message(receive_id, "post", post_content(post), **kwargs)

    async def send_card(
        self, receive_id: str, card: Mapping[str, Any] | Card, **kwargs: Any
    ) -> dict[str, Any]:
        """Send an interactive card (card JSON, or ``Card.template(...)``)."""
        return await self.send_message(receive_id, "interactive", card_content(card), **kwargs)

    async def reply_message(
        self,
        message_id: str,
        msg_type: str,
        content: str | Mapping[str, Any],
        *,
        reply_in_thread: bool = False,
        tenant_key: str | None = None,
        uuid: str | None = None,
    ) -> dict[str, Any]:
        """Reply to ``message_id`` (``im/v1/messages/:id/reply``), in its thread if asked."""
        if not _ID.fullmatch(message_id):
            raise ValueError("message_id must be a message id such as 'om_...'")
        body: dict[str, Any] = {
            "msg_type": msg_type,
            "content": encode_content(content),
            "uuid": uuid or uuid_module.uuid4().hex,
        }
        if reply_in_thread:
            body["reply_in_thread"] = True
        answer = await self.request(
            "POST", f"{MESSAGES}/{message_id}/reply", body=body, tenant_key=tenant_key
        )
        return _data(answer)

    async def update_card(
        self,
        card_token: str,
        card: Mapping[str, Any] | Card,
        *,
        open_ids: list[str] | None = None,
        tenant_key: str | None = None,
    ) -> dict[str, Any]:
        """Delayed card update (``interactive/v1/card/update``) with a callback's card token.

        Call it after answering the callback, within 30 minutes. ``open_ids`` limits the update
        to those users (non-shared cards).
        """
        if not isinstance(card_token, str) or not card_token:
            raise ValueError("card_token must be the token of a card callback ('c-...')")
        card_json = card_object(card)
        if open_ids is not None:
            card_json["open_ids"] = list(open_ids)
        body = {"token": card_token, "card": card_json}
        return await self.request("POST", CARD_UPDATE, body=body, tenant_key=tenant_key)

    # -- the reply helper --------------------------------------------------------------------

    def for_event(self, event: Event[Any]) -> Replier:
        """A reply helper bound to ``event``: its tenant, message, chat, sender and card token."""
        from .replier import Replier

        return Replier.from_event(self, event)

    # -- lifecycle ---------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the connection pool (on shutdown; the client reopens it if used again)."""
        await self._on_io_loop(self._transport.aclose())

    def close(self) -> None:
        """The sync twin of :meth:`aclose`."""
        self.run_sync(self.aclose())

    async def __aenter__(self) -> OpenAPIClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __enter__(self) -> OpenAPIClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _data(answer: dict[str, Any]) -> dict[str, Any]:
    data = answer.get("data")
    return data if isinstance(data, dict) else {}


def client_from_env(
    environ: Mapping[str, str] | None = None, **kwargs: Any
) -> OpenAPIClient | None:
    """A client when ``LARK_APP_ID`` and ``LARK_APP_SECRET`` are set, else ``None``."""
    env = os.environ if environ is None else environ
    if not env.get("LARK_APP_ID") or not env.get("LARK_APP_SECRET"):
        return None
    return OpenAPIClient.from_env(env, **kwargs)
