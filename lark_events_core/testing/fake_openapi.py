"""A fake Lark / Feishu Open API for tests: tokens, messages, replies and card updates.

It checks requests the way the platform does (a valid, unexpired tenant access token of the right
app, the JSON body shape, ``content`` as a JSON *string*, a valid ``receive_id_type``), records
them for assertions, and can be told to expire tokens, rate limit or fail. Needs aiohttp (the
``outbound`` extra)::

    from lark_events_core.outbound import OpenAPIClient
    from lark_events_core.testing.fake_openapi import FakeOpenAPI

    async with FakeOpenAPI(apps={"cli_a": "secret"}) as fake:
        async with OpenAPIClient("cli_a", "secret", domain=fake.base_url) as client:
            await client.send_text("ou_user", "hi")
        assert fake.sent[0].content == {"text": "hi"}

In sync tests (Flask's or Django's test client, a server process), ``with FakeOpenAPI(...) as
fake:`` runs it on its own thread instead.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import _extras

try:
    from aiohttp import web
except ImportError as exc:
    _extras.missing_extra(exc, "outbound", __name__)

__all__ = ["FakeOpenAPI", "Injection", "RecordedRequest"]

RECEIVE_ID_TYPES = {
    "open_id": "ou_",
    "user_id": "",
    "union_id": "on_",
    "email": "",
    "chat_id": "oc_",
}
MSG_TYPES = frozenset(
    {
        "text",
        "post",
        "image",
        "file",
        "audio",
        "media",
        "sticker",
        "interactive",
        "share_chat",
        "share_user",
        "system",
    }
)
ENDPOINTS = {
    ("POST", "/open-apis/auth/v3/tenant_access_token/internal"): "tenant_access_token_internal",
    ("POST", "/open-apis/auth/v3/app_access_token/internal"): "app_access_token_internal",
    ("POST", "/open-apis/auth/v3/app_access_token"): "app_access_token",
    ("POST", "/open-apis/auth/v3/tenant_access_token"): "tenant_access_token",
    ("POST", "/open-apis/auth/v3/app_ticket/resend"): "app_ticket_resend",
    ("POST", "/open-apis/im/v1/messages"): "messages.create",
    ("POST", "/open-apis/interactive/v1/card/update"): "card.update",
}
TOKEN_ENDPOINTS = frozenset(
    {
        "tenant_access_token_internal",
        "app_access_token_internal",
        "app_access_token",
        "tenant_access_token",
    }
)

TicketHook = Callable[[str], "Awaitable[None] | None"]


@dataclass
class RecordedRequest:
    """One request the fake received, and how it answered."""

    endpoint: str
    method: str
    path: str
    query: dict[str, str]
    json: Any = field(repr=False)
    status: int = 0
    code: int = 0
    log_id: str = ""
    app_id: str | None = None
    tenant_key: str | None = None
    message_id: str | None = None
    duplicate: bool = False

    @property
    def content(self) -> Any:
        """``content`` of a message request, parsed (``None`` when absent or not JSON)."""
        if not isinstance(self.json, dict) or not isinstance(self.json.get("content"), str):
            return None
        try:
            return json.loads(self.json["content"])
        except ValueError:
            return None


@dataclass
class Injection:
    """A canned failure for the next ``times`` requests to ``endpoint`` (``"*"``: any)."""

    endpoint: str
    status: int
    code: int
    msg: str
    times: int = 1
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class _Token:
    kind: str  # "tenant" or "app"
    app_id: str
    tenant_key: str | None
    expires_at: float
    revoked: bool = False


class _Reject(Exception):
    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg


class FakeOpenAPI:
    """A local aiohttp server that behaves like the Open API endpoints lark-events calls.

    ``apps`` maps self-built app ids to secrets, ``store_apps`` store app ids to secrets;
    ``tenant_key`` is the tenant of self-built apps. ``token_ttl`` is the ``expire`` handed out;
    ``token_delay`` slows the token endpoints (to make concurrent callers overlap).
    ``on_ticket_resend`` is called with the app id after ``app_ticket/resend``, like the platform
    pushing a new ``app_ticket`` event; :meth:`issue_app_ticket` makes the ticket to push.
    """

    def __init__(
        self,
        apps: Mapping[str, str] | None = None,
        *,
        store_apps: Mapping[str, str] | None = None,
        tenant_key: str = "tenant_test",
        token_ttl: int = 7200,
        token_delay: float = 0.0,
        on_ticket_resend: TicketHook | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.apps = dict(apps or {})
        self.store_apps = dict(store_apps or {})
        self.tenant_key = tenant_key
        self.token_ttl = token_ttl
        self.token_delay = token_delay
        self.on_ticket_resend = on_ticket_resend
        self.requests: list[RecordedRequest] = []
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._tokens: dict[str, _Token] = {}
        self._tickets: dict[str, str] = {}
        self._injections: list[Injection] = []
        self._sent_by_uuid: dict[tuple[str, str | None, str], str] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        self._hook_tasks: set[asyncio.Task[None]] = set()
        self.base_url = ""

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> FakeOpenAPI:
        """Listen on ``host:port`` (port 0: a free one); sets :attr:`base_url`."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://{self._host}:{port}"
        return self

    async def stop(self) -> None:
        """Stop listening."""
        for task in list(self._hook_tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOpenAPI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def __enter__(self) -> FakeOpenAPI:
        """Run on a thread of its own (for sync tests and for servers in other processes)."""
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # reported to the caller below
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread_loop = loop
        self._thread = threading.Thread(target=run, name="fake-openapi", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            raise failure[0]
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread_loop is not None and self._thread is not None:
            self._thread_loop.call_soon_threadsafe(self._thread_loop.stop)
            self._thread.join(timeout=10)
        self._thread = self._thread_loop = None

    # -- control -----------------------------------------------------------------------------

    def inject(
        self,
        endpoint: str = "*",
        *,
        status: int,
        code: int,
        msg: str = "injected failure",
        times: int = 1,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests to ``endpoint`` with ``status`` and ``code``."""
        with self._lock:
            self._injections.append(Injection(endpoint, status, code, msg, times, headers or {}))

    def rate_limit(
        self, endpoint: str = "*", *, times: int = 1, reset: float | None = None
    ) -> None:
        """HTTP 429 with code 99991400 (and ``x-ogw-ratelimit-reset`` when ``reset`` is given)."""
        headers = {"x-ogw-ratelimit-limit": "50"}
        if reset is not None:
            headers["x-ogw-ratelimit-reset"] = str(reset)
        self.inject(
            endpoint,
            status=429,
            code=99991400,
            msg="request trigger frequency limit",
            times=times,
            headers=headers,
        )

    def server_error(self, endpoint: str = "*", *, times: int = 1, status: int = 500) -> None:
        """HTTP 5xx with an internal-error code."""
        self.inject(endpoint, status=status, code=1500, msg="internal error", times=times)

    def expire_tokens(self) -> None:
        """Every token issued so far is now expired (code 99991677 when used)."""
        now = time.monotonic()
        with self._lock:
            for token in self._tokens.values():
                token.expires_at = min(token.expires_at, now)

    def revoke_tokens(self) -> None:
        """Every token issued so far is now invalid (code 99991663 when used)."""
        with self._lock:
            for token in self._tokens.values():
                token.revoked = True

    def issue_app_ticket(self, app_id: str) -> str:
        """A fresh ``app_ticket`` for a store app, as the platform would push it."""
        ticket = f"ticket-{secrets.token_hex(8)}"
        with self._lock:
            self._tickets[app_id] = ticket
        return ticket

    # -- assertions --------------------------------------------------------------------------

    def calls(self, endpoint: str) -> list[RecordedRequest]:
        """Every recorded request to ``endpoint`` (e.g. ``"messages.reply"``)."""
        return [r for r in self.requests if r.endpoint == endpoint]

    @property
    def token_requests(self) -> list[RecordedRequest]:
        """Requests to any token endpoint."""
        return [r for r in self.requests if r.endpoint in TOKEN_ENDPOINTS]

    @property
    def issued_tokens(self) -> list[str]:
        """Every access token handed out so far (to check that none leaks into logs)."""
        with self._lock:
            return list(self._tokens)

    @property
    def sent(self) -> list[RecordedRequest]:
        """Messages accepted (sends and replies), duplicates of an earlier ``uuid`` excluded."""
        return [
            r
            for r in self.requests
            if r.endpoint in ("messages.create", "messages.reply")
            and r.code == 0
            and not r.duplicate
        ]

    # -- the server --------------------------------------------------------------------------

    def _endpoint(self, request: web.Request) -> str:
        key = (request.method, request.path)
        if key in ENDPOINTS:
            return ENDPOINTS[key]
        parts = request.path.split("/")
        if (
            request.method == "POST"
            and len(parts) == 7
            and request.path.startswith("/open-apis/im/v1/messages/")
            and parts[6] == "reply"
        ):
            return "messages.reply"
        return "unknown"

    async def _handle(self, request: web.Request) -> web.Response:
        endpoint = self._endpoint(request)
        log_id = time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(10).upper()
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = RecordedRequest(endpoint, request.method, request.path, dict(request.query), body)
        record.log_id = log_id
        self.requests.append(record)
        headers = {"X-Tt-Logid": log_id}
        injected = self._take_injection(endpoint)
        if injected is not None:
            record.status, record.code = injected.status, injected.code
            headers.update(injected.headers)
            return _json(injected.status, {"code": injected.code, "msg": injected.msg}, headers)
        try:
            if endpoint in TOKEN_ENDPOINTS and self.token_delay:
                await asyncio.sleep(self.token_delay)
            answer = await self._dispatch(endpoint, request, body, record)
        except _Reject as reject:
            record.status, record.code = reject.status, reject.code
            return _json(reject.status, {"code": reject.code, "msg": reject.msg}, headers)
        record.status = 200
        return _json(200, {"code": 0, "msg": "success", **answer}, headers)

    def _take_injection(self, endpoint: str) -> Injection | None:
        with self._lock:
            for injection in self._injections:
                if injection.times > 0 and injection.endpoint in ("*", endpoint):
                    injection.times -= 1
                    return injection
        return None

    async def _dispatch(
        self, endpoint: str, request: web.Request, body: Any, record: RecordedRequest
    ) -> dict[str, Any]:
        if endpoint == "unknown":
            raise _Reject(404, 99991201, "resource not find")
        if not request.content_type.startswith("application/json"):
            raise _Reject(400, 99992402, "field validation failed: Content-Type")
        if not isinstance(body, dict):
            raise _Reject(400, 99992402, "field validation failed: body is not a JSON object")
        if endpoint in TOKEN_ENDPOINTS or endpoint == "app_ticket_resend":
            return self._token_endpoint(endpoint, body, record)
        token = self._authorize(request, record)
        if endpoint == "messages.create":
            return self._create_message(request, body, record, token)
        if endpoint == "messages.reply":
            return self._reply(request, body, record, token)
        return self._update_card(body)

    # -- tokens ------------------------------------------------------------------------------

    def _check_secret(self, body: Mapping[str, Any], store: bool) -> str:
        app_id = body.get("app_id")
        secret = body.get("app_secret")
        known = self.store_apps if store else {**self.apps, **self.store_apps}
        if not isinstance(app_id, str) or app_id not in known:
            raise _Reject(400, 10003, "invalid param: app_id")
        if not isinstance(secret, str) or not secrets.compare_digest(secret, known[app_id]):
            raise _Reject(400, 10014, "app secret invalid")
        return app_id

    def _issue(self, kind: str, app_id: str, tenant_key: str | None) -> dict[str, Any]:
        prefix = "t-" if kind == "tenant" else "a-"
        value = prefix + secrets.token_hex(16)
        with self._lock:
            self._tokens[value] = _Token(
                kind, app_id, tenant_key, time.monotonic() + self.token_ttl
            )
        return {f"{kind}_access_token": value, "expire": self.token_ttl}

    def _token_endpoint(
        self, endpoint: str, body: Mapping[str, Any], record: RecordedRequest
    ) -> dict[str, Any]:
        if endpoint == "tenant_access_token":
            app_token = self._lookup(body.get("app_access_token"), "app", invalid_code=99991664)
            tenant_key = body.get("tenant_key")
            if not isinstance(tenant_key, str) or not tenant_key:
                raise _Reject(400, 99992402, "field validation failed: tenant_key")
            record.app_id, record.tenant_key = app_token.app_id, tenant_key
            return self._issue("tenant", app_token.app_id, tenant_key)
        store = endpoint in ("app_access_token", "app_ticket_resend")
        app_id = self._check_secret(body, store=store)
        record.app_id = app_id
        if endpoint == "tenant_access_token_internal":
            record.tenant_key = self.tenant_key
            return self._issue("tenant", app_id, self.tenant_key)
        if endpoint == "app_access_token_internal":
            return self._issue("app", app_id, None)
        if endpoint == "app_ticket_resend":
            self._schedule_resend(app_id)
            return {}
        ticket = body.get("app_ticket")
        with self._lock:
            expected = self._tickets.get(app_id)
        if not isinstance(ticket, str) or expected is None or ticket != expected:
            raise _Reject(400, 10012, "app_ticket is invalid")
        return self._issue("app", app_id, None)

    def _schedule_resend(self, app_id: str) -> None:
        hook = self.on_ticket_resend
        if hook is None:
            return

        async def call() -> None:
            await asyncio.sleep(0)
            result = hook(app_id)
            if inspect.isawaitable(result):
                await result

        task = asyncio.ensure_future(call())
        self._hook_tasks.add(task)
        task.add_done_callback(self._hook_tasks.discard)

    def _lookup(self, value: object, kind: str, *, invalid_code: int) -> _Token:
        with self._lock:
            token = self._tokens.get(value) if isinstance(value, str) else None
        if token is None or token.kind != kind or token.revoked:
            raise _Reject(400, invalid_code, "Invalid access token for authorization")
        if time.monotonic() >= token.expires_at:
            raise _Reject(400, 99991677, "token expired")
        return token

    def _authorize(self, request: web.Request, record: RecordedRequest) -> _Token:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if not header or scheme != "Bearer" or not value:
            raise _Reject(400, 99991661, "Missing access token for authorization")
        token = self._lookup(value.strip(), "tenant", invalid_code=99991663)
        record.app_id, record.tenant_key = token.app_id, token.tenant_key
        return token

    # -- messages and cards --------------------------------------------------------------------

    def _content(self, body: Mapping[str, Any]) -> tuple[str, Any]:
        msg_type = body.get("msg_type")
        if not isinstance(msg_type, str) or msg_type not in MSG_TYPES:
            raise _Reject(400, 99992402, "field validation failed: msg_type")
        content = body.get("content")
        if not isinstance(content, str):
            raise _Reject(400, 99992402, "field validation failed: content must be a string")
        try:
            parsed = json.loads(content)
        except ValueError:
            raise _Reject(400, 230001, "invalid content: not JSON") from None
        if not isinstance(parsed, dict) or not parsed:
            raise _Reject(400, 230001, "invalid content: not a JSON object")
        if msg_type == "text" and not isinstance(parsed.get("text"), str):
            raise _Reject(400, 230001, "invalid content: text")
        uuid = body.get("uuid")
        if uuid is not None and (not isinstance(uuid, str) or len(uuid) > 50):
            raise _Reject(400, 99992402, "field validation failed: uuid")
        return msg_type, parsed

    def _deliver(
        self, body: Mapping[str, Any], record: RecordedRequest, token: _Token, extra: dict[str, Any]
    ) -> dict[str, Any]:
        msg_type, _ = self._content(body)
        uuid = body.get("uuid")
        key = (token.app_id, token.tenant_key, uuid) if isinstance(uuid, str) else None
        with self._lock:
            existing = self._sent_by_uuid.get(key) if key is not None else None
            message_id = existing or f"om_fake_{next(self._ids):06d}"
            if key is not None:
                self._sent_by_uuid[key] = message_id
        record.message_id = message_id
        record.duplicate = existing is not None
        data = {
            "message_id": message_id,
            "msg_type": msg_type,
            "create_time": str(int(time.time() * 1000)),
            "sender": {"id": token.app_id, "id_type": "app_id", "sender_type": "app"},
            "body": {"content": body["content"]},
            **extra,
        }
        return {"data": data}

    def _create_message(
        self, request: web.Request, body: Mapping[str, Any], record: RecordedRequest, token: _Token
    ) -> dict[str, Any]:
        id_type = request.query.get("receive_id_type")
        if id_type not in RECEIVE_ID_TYPES:
            raise _Reject(400, 99992402, "field validation failed: receive_id_type")
        receive_id = body.get("receive_id")
        if not isinstance(receive_id, str) or not receive_id.startswith(RECEIVE_ID_TYPES[id_type]):
            raise _Reject(400, 230001, f"invalid receive_id for receive_id_type {id_type}")
        if id_type == "email" and "@" not in receive_id:
            raise _Reject(400, 230001, "invalid receive_id for receive_id_type email")
        extra = {"chat_id": receive_id} if id_type == "chat_id" else {}
        return self._deliver(body, record, token, extra)

    def _reply(
        self, request: web.Request, body: Mapping[str, Any], record: RecordedRequest, token: _Token
    ) -> dict[str, Any]:
        parent = request.path.split("/")[5]
        if not parent.startswith("om_"):
            raise _Reject(400, 230001, "invalid message_id")
        in_thread = body.get("reply_in_thread", False)
        if not isinstance(in_thread, bool):
            raise _Reject(400, 99992402, "field validation failed: reply_in_thread")
        return self._deliver(body, record, token, {"parent_id": parent, "root_id": parent})

    def _update_card(self, body: Mapping[str, Any]) -> dict[str, Any]:
        card_token = body.get("token")
        if not isinstance(card_token, str) or not card_token.startswith("c-"):
            raise _Reject(400, 99992402, "field validation failed: token")
        card = body.get("card")
        if not isinstance(card, dict) or not card:
            raise _Reject(400, 99992402, "field validation failed: card")
        return {"data": {}}


def _json(status: int, payload: Mapping[str, Any], headers: Mapping[str, str]) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(payload).encode(),
        headers=dict(headers),
        content_type="application/json",
        charset="utf-8",
    )
