"""One HTTP call to the Open API: timeout, rate-limit retries, the answer mapped to data or errors.

Runs on one event loop (the client's I/O loop); the :class:`aiohttp.ClientSession` is created
there on first use and closed by :meth:`Transport.aclose`.

Every string the server sends that reaches an exception or a log line (``msg``, the log id) has
the secrets this transport ever sent (app secret, ticket, tokens) replaced by ``[redacted]``, and
is then bounded and escaped: a server that echoes the request cannot put a secret into your logs.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from .. import _json
from .._log import safe
from .._secrets import Secret
from .errors import (
    INVALID_TOKEN_CODES,
    RATE_LIMIT_CODES,
    InvalidTokenError,
    OpenAPIError,
    RateLimitError,
    ServerError,
    TransportError,
)
from .retry import RetryPolicy

__all__ = ["LOG_ID_HEADER", "RATE_LIMIT_RESET_HEADER", "Transport"]

logger = logging.getLogger("lark_events.outbound")

LOG_ID_HEADER = "X-Tt-Logid"
RATE_LIMIT_RESET_HEADER = "x-ogw-ratelimit-reset"
_JSON_CONTENT_TYPE = "application/json; charset=utf-8"
_MAX_MSG = 300
_MAX_LOG_ID = 128
_MAX_BODY = 4 * 1024 * 1024
_MAX_SECRETS = 64  # the app secret, tickets and the tokens of recent tenants
REDACTED = "[redacted]"


def _reset_after(headers: Mapping[str, str]) -> float | None:
    raw = headers.get(RATE_LIMIT_RESET_HEADER)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value >= 0 else None


class Transport:
    """Sends JSON requests to ``base_url`` and returns the API's JSON object (``code == 0``)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        user_agent: str = "lark-events",
    ) -> None:
        self.base_url = base_url
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.retry = retry or RetryPolicy()
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None
        self._secrets: dict[str, None] = {}  # every secret sent, oldest first (an ordered set)

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    def add_secrets(self, *values: Secret | str | None) -> None:
        """Values to redact from every server-provided string (the newest 64 are kept)."""
        for value in values:
            text = value.reveal() if isinstance(value, Secret) else value
            if not text:
                continue
            self._secrets.pop(text, None)
            self._secrets[text] = None
            # A body echoed as raw JSON shows a secret with its JSON escapes.
            for escaped in (json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]):
                if escaped != text:
                    self._secrets.pop(escaped, None)
                    self._secrets[escaped] = None
        while len(self._secrets) > _MAX_SECRETS:
            del self._secrets[next(iter(self._secrets))]

    def redact(self, text: object, limit: int = _MAX_MSG) -> str:
        """A server-provided value as it may enter an exception or a log line: every known
        secret replaced, then bounded and escaped (one printable line)."""
        value = text if isinstance(text, str) else ""
        # Longest first, so a secret that contains another is replaced whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in value:
                value = value.replace(secret, REDACTED)
        return safe(value, limit)

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self.timeout, headers={"User-Agent": self._user_agent}
            )
        return self._session

    async def aclose(self) -> None:
        """Close the connection pool."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        token: Secret | None = None,
        error_class: type[OpenAPIError] = OpenAPIError,
        secrets: tuple[Secret, ...] = (),
    ) -> dict[str, Any]:
        """Make the call, retrying rate limits per :attr:`retry`; raise on any other failure.

        An invalid or expired access token raises :class:`InvalidTokenError` at once: refreshing
        the token is the caller's job. ``token`` and ``secrets`` (values in ``body`` that are
        secret) are redacted from what the server answers, in this call and every later one.
        """
        self.add_secrets(token, *secrets)
        attempt = 0
        while True:
            try:
                return await self._once(method, path, body, params, token, error_class)
            except _RateLimited as limited:
                if attempt >= self.retry.max_retries:
                    raise RateLimitError(
                        limited.code,
                        limited.msg,
                        http_status=limited.status,
                        log_id=limited.log_id,
                        path=path,
                    ) from None
                wait = self.retry.delay(attempt, limited.reset_after)
                logger.warning(
                    "rate limited on %s (code %s, log_id=%s); retry %d/%d in %.2fs",
                    safe(path, 200),
                    limited.code,
                    safe(limited.log_id),
                    attempt + 1,
                    self.retry.max_retries,
                    wait,
                )
                attempt += 1
                await asyncio.sleep(wait)

    async def _once(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
        token: Secret | None,
        error_class: type[OpenAPIError],
    ) -> dict[str, Any]:
        headers = {"Content-Type": _JSON_CONTENT_TYPE}
        if token is not None:
            headers["Authorization"] = f"Bearer {token.reveal()}"
        data = _json.dumps(dict(body)) if body is not None else None
        url = self.base_url + path
        try:
            async with self._get_session().request(
                method, url, data=data, params=params, headers=headers
            ) as resp:
                raw = await resp.content.read(_MAX_BODY)
                status = resp.status
                log_id = self._log_id(resp.headers.get(LOG_ID_HEADER))
                reset_after = _reset_after(resp.headers)
        except asyncio.TimeoutError:
            raise TransportError(
                f"{method} {path}: no answer within {self.timeout.total}s"
            ) from None
        except aiohttp.ClientError as exc:
            raise TransportError(f"{method} {path}: {type(exc).__name__}") from None
        return self._interpret(path, status, raw, log_id, reset_after, error_class)

    def _interpret(
        self,
        path: str,
        status: int,
        raw: bytes,
        log_id: str | None,
        reset_after: float | None,
        error_class: type[OpenAPIError],
    ) -> dict[str, Any]:
        try:
            payload = _json.loads(raw) if raw else None
        except _json.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("code", 0), int):
            payload = None
        if payload is None:
            if status == 429:
                raise _RateLimited(status, -1, "too many requests", log_id, reset_after)
            text = f"HTTP {status} without an API body"
            raise ServerError(-1, text, http_status=status, log_id=log_id, path=path)
        code: int = payload.get("code", 0)
        msg = self.redact(payload.get("msg"))
        if log_id is None:
            error = payload.get("error")
            if isinstance(error, dict) and isinstance(error.get("log_id"), str):
                log_id = self._log_id(error["log_id"])
        logger.debug(
            "%s -> http %s code %s (log_id=%s)", safe(path, 200), status, code, log_id or "-"
        )
        if status == 429 or code in RATE_LIMIT_CODES:
            raise _RateLimited(status, code, msg, log_id, reset_after)
        if code in INVALID_TOKEN_CODES:
            raise InvalidTokenError(code, msg, http_status=status, log_id=log_id, path=path)
        if status >= 500:
            raise ServerError(code or -1, msg, http_status=status, log_id=log_id, path=path)
        if code != 0 or not 200 <= status < 300:
            raise error_class(code or -1, msg, http_status=status, log_id=log_id, path=path)
        return payload

    def _log_id(self, raw: str | None) -> str | None:
        return None if raw is None else self.redact(raw, _MAX_LOG_ID)


class _RateLimited(Exception):
    def __init__(
        self, status: int, code: int, msg: str, log_id: str | None, reset_after: float | None
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.msg = msg
        self.log_id = log_id
        self.reset_after = reset_after
