"""One HTTP call to the Open API: timeout, rate-limit retries, the answer mapped to data or errors.

Runs on one event loop (the client's I/O loop); the :class:`aiohttp.ClientSession` is created
there on first use and closed by :meth:`Transport.aclose`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from .. import _json
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
_MAX_BODY = 4 * 1024 * 1024


def _short(text: object) -> str:
    value = text if isinstance(text, str) else ""
    return value[:_MAX_MSG].encode("ascii", "backslashreplace").decode("ascii")


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
    ) -> dict[str, Any]:
        """Make the call, retrying rate limits per :attr:`retry`; raise on any other failure.

        An invalid or expired access token raises :class:`InvalidTokenError` at once: refreshing
        the token is the caller's job.
        """
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
                    path,
                    limited.code,
                    limited.log_id or "-",
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
                log_id = resp.headers.get(LOG_ID_HEADER)
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
        msg = _short(payload.get("msg"))
        if log_id is None:
            error = payload.get("error")
            if isinstance(error, dict) and isinstance(error.get("log_id"), str):
                log_id = error["log_id"]
        logger.debug("%s -> http %s code %s (log_id=%s)", path, status, code, log_id or "-")
        if status == 429 or code in RATE_LIMIT_CODES:
            raise _RateLimited(status, code, msg, log_id, reset_after)
        if code in INVALID_TOKEN_CODES:
            raise InvalidTokenError(code, msg, http_status=status, log_id=log_id, path=path)
        if status >= 500:
            raise ServerError(code or -1, msg, http_status=status, log_id=log_id, path=path)
        if code != 0 or not 200 <= status < 300:
            raise error_class(code or -1, msg, http_status=status, log_id=log_id, path=path)
        return payload


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
