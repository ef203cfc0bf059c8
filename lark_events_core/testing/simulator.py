"""A simulated Lark platform for tests: build signed requests for any event and deliver them.

::

    sim = LarkSimulator(encrypt_key="k", verification_token="t")
    response = sim.post(flask_client, "im.message.receive_v1")
    response = sim.send("http://127.0.0.1:8000", "card.action.trigger")  # real HTTP
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .._secrets import Secret
from .requests import SignedRequest, make_challenge, sign_event, sign_legacy_card
from .templates import build_payload, template_kind

__all__ = ["LarkSimulator", "SimulatedResponse", "Simulator"]

Payload = Mapping[str, Any]


def _event_id(payload: Payload) -> str | None:
    header = payload.get("header")
    value = header.get("event_id") if isinstance(header, Mapping) else payload.get("uuid")
    return value if isinstance(value, str) else None


def _with_log_id(headers: dict[str, str]) -> dict[str, str]:
    """The platform's request id header, which apps log (``Event.request_id``)."""
    return {**headers, "X-Tt-Logid": time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(10)}


def _reveal(value: str | Secret | None) -> str | None:
    return value.reveal() if isinstance(value, Secret) else value


@dataclass(frozen=True)
class SimulatedResponse:
    """What an app answered to :meth:`LarkSimulator.send`: status, body bytes, seconds taken."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    elapsed: float = 0.0

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` when it is not JSON)."""
        return json.loads(self.body)


class LarkSimulator:
    """The platform side of an app's webhook, configured like the app's developer console.

    ``encrypt_key`` and ``verification_token`` are the app's; with an Encrypt Key every event is
    encrypted (unless ``encrypt=False``) and signed with SHA-256, legacy card callbacks are signed
    with SHA-1 over the verification token. ``event_path`` and ``card_path`` are the request URLs'
    paths, used by :meth:`post` and :meth:`send`.
    """

    def __init__(
        self,
        encrypt_key: str | Secret | None = None,
        verification_token: str | Secret | None = None,
        *,
        app_id: str = "cli_test_app",
        tenant_key: str = "tenant_test",
        encrypt: bool = True,
        event_path: str = "/webhook/event",
        card_path: str = "/webhook/card",
    ) -> None:
        self._encrypt_key = Secret(_reveal(encrypt_key) or "") if encrypt_key else None
        self._token = Secret(_reveal(verification_token) or "") if verification_token else None
        self.app_id = app_id
        self.tenant_key = tenant_key
        self.encrypt = encrypt
        self.event_path = event_path
        self.card_path = card_path

    def __repr__(self) -> str:
        return (
            f"LarkSimulator(encrypt_key={'set' if self._encrypt_key else None}, "
            f"verification_token={'set' if self._token else None}, app_id={self.app_id!r})"
        )

    # -- bodies ---------------------------------------------------------------------------------

    def payload(
        self,
        event_type: str,
        *,
        event_id: str | None = None,
        set: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A realistic plaintext body of ``event_type``; ``set`` maps dotted paths to values."""
        return build_payload(
            event_type,
            token=_reveal(self._token),
            event_id=event_id,
            app_id=self.app_id,
            tenant_key=self.tenant_key,
            overrides=set,
        )

    # -- requests -------------------------------------------------------------------------------

    def request(
        self,
        event: str | Payload,
        *,
        event_id: str | None = None,
        set: Mapping[str, Any] | None = None,
        encrypt: bool | None = None,
        sign: bool = True,
    ) -> SignedRequest:
        """The request the platform would send for an event type (or a ready body).

        A type name builds a fresh body from its template; ``"legacy_card"`` (or a flat body with
        ``action`` and no ``schema``) becomes a card callback for the card URL.
        """
        if isinstance(event, str):
            legacy = template_kind(event) == "legacy_card"
            payload: Payload = self.payload(event, event_id=event_id, set=set)
        else:
            legacy = "action" in event and "schema" not in event and "type" not in event
            payload = event
        if legacy:
            signed = sign_legacy_card(payload, verification_token=self._token if sign else None)
            return replace(signed, headers=_with_log_id(signed.headers))
        do_encrypt = self.encrypt if encrypt is None else encrypt
        signed = sign_event(payload, encrypt_key=self._encrypt_key, encrypt=do_encrypt, sign=sign)
        return replace(signed, headers=_with_log_id(signed.headers), event_id=_event_id(payload))

    def challenge(
        self, challenge: str | None = None, *, encrypt: bool | None = None
    ) -> SignedRequest:
        """The URL-verification request the console sends when a request URL is saved (unsigned).

        Like the console, it is encrypted when an Encrypt Key is known (and the simulator
        encrypts, the default); ``encrypt=False`` sends it plain, ``encrypt=True`` insists.
        """
        body = make_challenge(challenge, token=_reveal(self._token))
        do_encrypt = self.encrypt if encrypt is None else encrypt
        return sign_event(body, encrypt_key=self._encrypt_key, encrypt=do_encrypt, sign=False)

    def path_for(self, request: SignedRequest) -> str:
        """The path ``request`` is delivered to: the card URL for legacy card callbacks."""
        return self.card_path if request.card else self.event_path

    # -- delivery -------------------------------------------------------------------------------

    def post(
        self,
        client: Any,
        event: str | Payload | SignedRequest,
        *,
        path: str | None = None,
        **options: Any,
    ) -> Any:
        """Deliver through a framework's test client and return what the client returns.

        Works with Flask's and Django's test clients, Starlette's / FastAPI's ``TestClient`` and
        httpx clients (raw bytes as ``content=``), and aiohttp's ``TestClient`` (whose result is
        awaited: ``await sim.post(client, ...)``); any client with a
        ``post(path, data=..., headers=...)`` method works too. ``options`` go to :meth:`request`.
        """
        request = event if isinstance(event, SignedRequest) else self.request(event, **options)
        target = path or self.path_for(request)
        module = type(client).__module__
        if module.startswith("django."):
            headers = {k: v for k, v in request.headers.items() if k.lower() != "content-type"}
            content_type = request.headers.get("Content-Type", "application/json")
            return client.post(
                target, data=request.body, content_type=content_type, headers=headers
            )
        if module.startswith(("starlette.", "httpx", "fastapi.")):  # data= is for forms there
            return client.post(target, content=request.body, headers=request.headers)
        return client.post(target, data=request.body, headers=request.headers)

    def send(
        self,
        base_url: str,
        event: str | Payload | SignedRequest,
        *,
        path: str | None = None,
        timeout: float = 10.0,
        **options: Any,
    ) -> SimulatedResponse:
        """POST over real HTTP to ``base_url`` + the event (or card) path; any status is returned.

        Connection errors propagate as :class:`urllib.error.URLError`.
        """
        request = event if isinstance(event, SignedRequest) else self.request(event, **options)
        url = base_url.rstrip("/") + (path or self.path_for(request))
        if not url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http:// or https:// URL")
        http_request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
            url, data=request.body, headers=request.headers, method="POST"
        )
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(http_request, timeout=timeout) as answer:  # noqa: S310
                status, body, headers = answer.status, answer.read(), dict(answer.headers)
        except urllib.error.HTTPError as error:
            status, body, headers = error.code, error.read(), dict(error.headers)
        return SimulatedResponse(status, body, headers, time.perf_counter() - start)


#: A shorter name for :class:`LarkSimulator`.
Simulator = LarkSimulator
