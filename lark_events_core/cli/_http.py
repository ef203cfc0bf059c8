"""HTTP delivery for the commands (aiohttp's client) and what an answer means for the user."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..testing import SignedRequest
from ._errors import CliError

if TYPE_CHECKING:
    import aiohttp

__all__ = ["Outcome", "check_url", "explain", "new_session", "post"]


@dataclass(frozen=True)
class Outcome:
    """One delivery: the answer (``status``, ``body``) or why there was none (``error``)."""

    status: int | None
    body: bytes
    elapsed: float
    error: str | None = None
    content_type: str = ""

    @property
    def ok(self) -> bool:
        """Status 200: the only answer that stops the platform's retries."""
        return self.status == 200

    def json(self) -> Any:
        """The body parsed, or ``None`` when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def body_text(self, limit: int = 300) -> str:
        """The body for display: one line, bounded."""
        text = self.body.decode("utf-8", "replace").replace("\n", " ").strip()
        return text if len(text) <= limit else text[:limit] + "…"


def check_url(url: str) -> str:
    """``url`` if it is an http(s) URL with a host; a :class:`CliError` otherwise."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(
            f"not an http(s) URL: {url!r}", "give the full URL, e.g. http://127.0.0.1:8000/webhook"
        )
    return url


def new_session(concurrency: int = 100) -> aiohttp.ClientSession:
    """A client session with a connection pool sized for ``concurrency``."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=max(concurrency, 1), force_close=False)
    return aiohttp.ClientSession(connector=connector)


async def post(
    session: aiohttp.ClientSession, url: str, request: SignedRequest, timeout: float
) -> Outcome:
    """POST ``request`` to ``url``; connection failures and timeouts become ``Outcome.error``."""
    import aiohttp

    start = time.perf_counter()
    try:
        async with session.post(
            url,
            data=request.body,
            headers=request.headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
        ) as answer:
            body = await answer.read()
            return Outcome(
                answer.status,
                body,
                time.perf_counter() - start,
                content_type=answer.headers.get("Content-Type", ""),
            )
    except (asyncio.TimeoutError, TimeoutError):
        return Outcome(None, b"", time.perf_counter() - start, f"no answer within {timeout:g} s")
    except aiohttp.ClientConnectorError as exc:
        return Outcome(None, b"", time.perf_counter() - start, f"cannot connect: {_reason(exc)}")
    except aiohttp.ClientError as exc:
        name = type(exc).__name__
        return Outcome(None, b"", time.perf_counter() - start, f"connection failed ({name})")


def _reason(exc: aiohttp.ClientConnectorError) -> str:
    error = exc.os_error
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return "host unreachable or name not found"


_HINTS_401 = {
    "signature mismatch": "the app's Encrypt Key differs from the one used to sign; "
    "pass the app's key with --encrypt-key or LARK_ENCRYPT_KEY",
    "signature headers missing": "the app has an Encrypt Key configured and wants signed "
    "requests; pass it with --encrypt-key or LARK_ENCRYPT_KEY",
    "verification token mismatch": "the app's verification token differs; pass it with --token "
    "or LARK_VERIFICATION_TOKEN",
    "verification token missing": "the app has a verification token configured; pass it with "
    "--token or LARK_VERIFICATION_TOKEN",
    "timestamp outside the allowed window": "the app rejects old timestamps; check the clocks",
}


def explain(outcome: Outcome, url: str) -> tuple[str, str] | None:
    """What went wrong and what to try, or ``None`` when the answer is a 200 JSON body."""
    if outcome.error is not None:
        if outcome.error.startswith("no answer"):
            return (
                f"{url} gave {outcome.error}; the platform waits 3 s, then counts it as failed",
                "answer first and do slow work afterwards (see the deferral options)",
            )
        return (
            f"{url}: {outcome.error}",
            "is the app running? check the host and port (the sample apps print theirs)",
        )
    status = outcome.status
    body = outcome.json()
    msg = body.get("msg") if isinstance(body, dict) else None
    if status == 401:
        hint = _HINTS_401.get(str(msg), "check the Encrypt Key and verification token")
        return (f"the app refused the request: 401 {msg or ''}".rstrip(), hint)
    if status == 400 and msg == "cannot decrypt the body":
        return (
            "the app could not decrypt the body: 400",
            "its Encrypt Key differs: pass the app's key with --encrypt-key or LARK_ENCRYPT_KEY",
        )
    if status == 404:
        return (f"nothing answers at {url}: 404", "check the path (the samples use /webhook/event)")
    if status == 500 and msg == "internal error":
        return (
            "the app answered 500: its handler failed or it is misconfigured",
            "read the app's log; an encrypted request to an app without a key also gives this "
            "(try --plain)",
        )
    if body is None and status == 400 and b"CSRF" in outcome.body:
        return (
            "the app refused the request with a CSRF error (400): a CSRF protection, such as "
            "Flask-WTF's CSRFProtect, guards the webhook route",
            "exempt the route from CSRF (lark_events_flask does it for CSRFProtect: use "
            "LarkEvents / init_app, or csrf.exempt(blueprint)); the platform sends no CSRF token",
        )
    if body is None:
        kind = outcome.content_type.split(";")[0] or "no Content-Type"
        return (
            f"the answer is not JSON ({status}, {kind}): this does not look like a lark-events "
            "endpoint",
            "check the URL points at the webhook route, not a page of the app",
        )
    if status != 200:
        return (f"the app answered {status}", "only 200 stops the platform's retries")
    return None
