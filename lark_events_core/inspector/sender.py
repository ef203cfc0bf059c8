"""The platform side of the inspector: sign, send, record; replay and compose.

Every request is built by the project's simulator (encrypted and signed afresh), POSTed with the
CLI's client and recorded in the :class:`~.store.ExchangeStore`; the summary goes to the
:class:`~.hub.Hub` so open pages show the row at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from .._log import safe
from .._secrets import Secret
from ..crypto import decrypt
from ..errors import LarkEventsError
from ..testing import LarkSimulator, SignedRequest
from .hub import Hub
from .secrets import Scrubber, redact_token, restore_token
from .store import Exchange, ExchangeStore

if TYPE_CHECKING:
    import aiohttp

__all__ = ["Sender", "describe"]

logger = logging.getLogger("lark_events.inspector")


def describe(payload: dict[str, Any] | None, card: bool = False) -> tuple[str, str, str]:
    """The kind (``event``, ``callback``, ``legacy_card``), type and id of a plaintext body."""
    if payload is None:
        return ("legacy_card" if card else "event"), "unknown", ""
    header = payload.get("header")
    if "schema" in payload and isinstance(header, dict):
        event_type = str(header.get("event_type") or "unknown")
        from ..envelope import CALLBACK_TYPES

        kind = "callback" if event_type in CALLBACK_TYPES or card else "event"
        return kind, event_type, str(header.get("event_id") or "")
    if payload.get("type") == "url_verification":
        return "event", "url_verification", ""
    if "action" in payload and "type" not in payload:
        return "legacy_card", "legacy_card", str(payload.get("open_message_id") or "")
    event = payload.get("event")
    v1_type = event.get("type") if isinstance(event, dict) else None
    return (
        "event",
        str(v1_type or payload.get("type") or "unknown"),
        str(payload.get("uuid") or ""),
    )


class Sender:
    """Deliver requests to the app as the platform would, and record every exchange.

    ``url`` receives events and callbacks, ``card_url`` legacy card callbacks. The secrets stay
    here: the store and the hub only ever see redacted payloads and encrypted bodies.
    """

    def __init__(
        self,
        store: ExchangeStore,
        *,
        url: str,
        card_url: str | None = None,
        encrypt_key: Secret | None = None,
        verification_token: Secret | None = None,
        timeout: float = 10.0,
        app_id: str = "cli_test_app",
        tenant_key: str = "tenant_test",
        hub: Hub | None = None,
    ) -> None:
        self.store = store
        self.url = url
        self.card_url = card_url
        self.timeout = timeout
        self.hub = hub or Hub()
        self.app_id = app_id
        self.tenant_key = tenant_key
        self._key = encrypt_key
        self._token = verification_token
        self.scrub = Scrubber([encrypt_key, verification_token])
        self._sim = LarkSimulator(
            encrypt_key, verification_token, app_id=app_id, tenant_key=tenant_key
        )
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:
        return f"Sender(url={self.url!r})"

    async def close(self) -> None:
        """Cancel running platform replays and close the HTTP session."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            from ..cli._http import new_session

            self._session = new_session(10)
        return self._session

    # -- recording --------------------------------------------------------------------------

    def plaintext(self, request: SignedRequest) -> dict[str, Any] | None:
        """The decrypted body of ``request``, or ``None`` when it cannot be read."""
        try:
            body = json.loads(request.body)
            if isinstance(body, dict) and isinstance(body.get("encrypt"), str):
                if self._key is None:
                    return None
                body = json.loads(decrypt(body["encrypt"], self._key))
        except (ValueError, LarkEventsError):
            return None
        return body if isinstance(body, dict) else None

    def record(
        self,
        *,
        source: str,
        url: str,
        request: SignedRequest,
        status: int | None,
        answer: bytes,
        latency_ms: float,
        error: str | None = None,
        replay_of: int | None = None,
        attempt: int = 1,
    ) -> Exchange:
        """Store one exchange (secrets removed) and publish its row."""
        payload = self.plaintext(request)
        kind, event_type, event_id = describe(payload, request.card)
        body = request.body
        if self.scrub:  # a plain (unencrypted) body carries the token in clear
            body = self.scrub(body.decode("utf-8", "replace")).encode("utf-8")
        exchange = self.store.add(
            Exchange(
                source=source,
                kind=kind,
                event_type=event_type,
                event_id=event_id,
                url=url,
                request_headers=dict(request.headers),
                request_body=body,
                payload=None if payload is None else redact_token(payload),
                status=status,
                latency_ms=latency_ms,
                answer=answer,
                error=error,
                replay_of=replay_of,
                attempt=attempt,
            )
        )
        self.hub.publish(exchange.summary())
        return exchange

    def forwarded(
        self,
        url: str,
        request: SignedRequest,
        status: int | None,
        answer: bytes,
        latency_ms: float,
        error: str | None,
    ) -> None:
        """Record what ``lark-events forward`` delivered (its exchange hook)."""
        self.record(
            source="forwarded",
            url=url,
            request=request,
            status=status,
            answer=answer,
            latency_ms=latency_ms,
            error=error,
        )

    # -- sending ----------------------------------------------------------------------------

    def sign(self, payload: dict[str, Any]) -> SignedRequest:
        """The request the platform would send for ``payload`` (the real token put back)."""
        return self._sim.request(restore_token(payload, self._token))

    def target(self, request: SignedRequest) -> str:
        """Where ``request`` goes; a :class:`ValueError` for a card without a card URL."""
        if request.card:
            if self.card_url is None:
                raise ValueError("a legacy card callback needs the card URL (--card-url)")
            return self.card_url
        return self.url

    async def send(
        self,
        payload: dict[str, Any],
        *,
        source: str,
        replay_of: int | None = None,
        attempt: int = 1,
        timeout: float | None = None,
    ) -> Exchange:
        """Sign ``payload``, POST it, record and return the exchange."""
        from ..cli._http import post

        request = self.sign(payload)
        url = self.target(request)
        outcome = await post(self._client(), url, request, timeout or self.timeout)
        logger.info(
            "%s event_id=%s -> %s in %.0f ms",
            source,
            safe(request.event_id or "-"),
            outcome.status if outcome.status is not None else "no answer",
            outcome.elapsed * 1000,
        )
        return self.record(
            source=source,
            url=url,
            request=request,
            status=outcome.status,
            answer=outcome.body,
            latency_ms=outcome.elapsed * 1000,
            error=outcome.error,
            replay_of=replay_of,
            attempt=attempt,
        )

    def template(self, event_type: str) -> dict[str, Any]:
        """A fresh body of ``event_type`` for the compose form (token redacted)."""
        return redact_token(self._sim.payload(event_type))

    async def replay(self, exchange: Exchange, *, new_id: bool = False) -> Exchange:
        """Send ``exchange``'s event again, freshly signed; ``new_id`` gives it a new event id."""
        payload = _replayable(exchange)
        if new_id:
            _new_event_id(payload)
        return await self.send(payload, source="replayed", replay_of=exchange.id)

    async def replay_as_platform(
        self, exchange: Exchange, *, speedup: float = 3600.0, deadline: float = 3.0
    ) -> list[Exchange]:
        """Deliver like the platform: retry on failure on the compressed retry schedule.

        Every attempt carries the same event id; an attempt fails on a non-200 or an answer
        slower than ``deadline`` (the platform's 3 s), as ``lark-events send --retry`` counts it.
        """
        from ..cli._retry import RETRY_SCHEDULE

        payload = _replayable(exchange)
        attempts: list[Exchange] = []
        for number in range(1, len(RETRY_SCHEDULE) + 2):
            sent = await self.send(
                payload,
                source="replayed",
                replay_of=exchange.id,
                attempt=number,
                timeout=deadline + 1.0,
            )
            attempts.append(sent)
            if sent.status == 200 and sent.latency_ms <= deadline * 1000:
                break
            if number <= len(RETRY_SCHEDULE):
                await asyncio.sleep(RETRY_SCHEDULE[number - 1] / speedup)
        return attempts

    def start_platform_replay(self, exchange: Exchange, *, speedup: float = 3600.0) -> None:
        """Run :meth:`replay_as_platform` in the background (its rows arrive over the hub)."""
        _replayable(exchange)  # fail now, not in the task
        task = asyncio.get_running_loop().create_task(
            self.replay_as_platform(exchange, speedup=speedup)
        )
        self._tasks.add(task)
        task.add_done_callback(self._replay_done)

    def _replay_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            logger.error("replay as the platform stopped: %s", type(error).__name__)


def _replayable(exchange: Exchange) -> dict[str, Any]:
    if exchange.payload is None:
        raise ValueError("this exchange's body could not be decrypted, so it cannot be resent")
    payload: dict[str, Any] = json.loads(json.dumps(exchange.payload))
    return payload


def _new_event_id(payload: dict[str, Any]) -> None:
    header = payload.get("header")
    if isinstance(header, dict):
        header["event_id"] = uuid.uuid4().hex
        header["create_time"] = str(int(time.time() * 1000))
    elif "uuid" in payload:
        payload["uuid"] = uuid.uuid4().hex
