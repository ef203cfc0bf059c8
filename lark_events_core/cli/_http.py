"""HTTP delivery for the commands (aiohttp's client) and what an answer means for the user."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..testing import SignedRequest
from ._errors import UsageError

if TYPE_CHECKING:
    import aiohttp

__all__ = ["Outcome", "check_url", "explain", "new_session", "note", "post"]


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


def check_url(url: str, option: str = "--url") -> str:
    """``url`` if it is an http(s) URL with a host; a :class:`UsageError` otherwise."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        example = "webhook/card" if option == "--card-url" else "webhook/event"
        raise UsageError(
            f"{option}: not an http(s) URL: {url!r}",
            f"give the full URL, e.g. http://127.0.0.1:8000/{example}",
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
    "verification token mismatch": "the app's verification token differs; pass it with "
    "--verification-token or LARK_VERIFICATION_TOKEN",
    "verification token missing": "the app has a verification token configured; pass it with "
    "--verification-token or LARK_VERIFICATION_TOKEN",
    "timestamp outside the allowed window": "the app rejects old timestamps; check the clocks",
}

_CARD_PATH_HINT = (
    "a legacy card callback goes to the card request URL, not the event URL: "
    "pass --url http://<host>/webhook/card (the samples' card path)"
)


def _kind(outcome: Outcome) -> str:
    return outcome.content_type.split(";")[0] or "no Content-Type"


def note(outcome: Outcome, *, callback: bool = False) -> str | None:
    """A warning worth printing about an answer that still counts as delivered, or ``None``.

    The platform looks only at the status of an event's answer, so a 200 whose body is empty or
    not JSON is delivered (the Node SDK's receiver answers an empty 200).
    """
    if callback or outcome.status != 200 or outcome.json() is not None:
        return None
    what = "empty" if not outcome.body.strip() else f"not JSON ({_kind(outcome)})"
    return (
        f"the answer body is {what}; the platform only looks at the status, so the event "
        'counts as delivered (a lark-events endpoint answers {"msg":"success"})'
    )


def explain(
    outcome: Outcome, url: str, *, callback: bool = False, legacy_card: bool = False
) -> tuple[str, str] | None:
    """What went wrong and what to try, or ``None`` when the platform would be satisfied.

    For events any 200 is success (the platform ignores the body); for callbacks (``callback``,
    or ``legacy_card``) the body is what the user sees, so it must be JSON.
    """
    callback = callback or legacy_card
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
    if legacy_card and status != 200 and not _looks_like_card_url(url):
        return (f"the app answered {status} to a legacy card callback", _CARD_PATH_HINT)
    if not legacy_card and status in (400, 401) and _looks_like_card_url(url):
        return (
            f"the app answered {status} on what looks like its card request URL",
            "events and v2 callbacks go to the event request URL: "
            "pass --url http://<host>/webhook/event",
        )
    if status == 401:
        hint = _HINTS_401.get(str(msg), "check the Encrypt Key and verification token")
        return (f"the app refused the request: 401 {msg or ''}".rstrip(), hint)
    if status == 400 and msg == "cannot decrypt the body":
        return (
            "the app could not decrypt the body: 400",
            "its Encrypt Key differs: pass the app's key with --encrypt-key or LARK_ENCRYPT_KEY",
        )
    if status == 404:
        path = "/webhook/card" if legacy_card else "/webhook/event"
        return (f"nothing answers at {url}: 404", f"check the path (the samples use {path})")
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
    if status != 200:
        return (f"the app answered {status}", "only 200 stops the platform's retries")
    if callback and body is None:
        what = (
            "an empty body"
            if not outcome.body.strip()
            else f"a body that is not JSON ({_kind(outcome)})"
        )
        return (
            f"the app answered 200 with {what} to a callback, whose body is what the user sees",
            "check the URL is the webhook route and the handler returns its result "
            "(lark-events answers {} when it returns nothing)",
        )
    return None


def _looks_like_card_url(url: str) -> bool:
    from urllib.parse import urlsplit

    return "card" in urlsplit(url).path.lower()
