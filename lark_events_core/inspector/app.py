"""The inspector's web application: pages, a JSON API and a live SSE stream.

Routes::

    GET  /                          the list (filters: ?type= &status= &q=)
    GET  /exchanges/{id}            one exchange
    GET  /compose                   the compose form (?type=)
    GET  /api/exchanges             the list as JSON (same filters, ?limit=)
    GET  /api/exchanges/{id}        one exchange as JSON
    POST /api/exchanges/{id}/replay {"mode": "same" | "new" | "platform"}
    GET  /api/exchanges/{id}/export ?format=send | pytest
    GET  /api/templates             the template names;  /api/templates/{type}: a fresh body
    POST /api/compose               {"payload": {...}}
    GET  /api/stream                server-sent events, one ``exchange`` event per new row
                                    (``Last-Event-ID``: first the rows after that one)

When an access token is set, every route wants it once (``?access=``, then a cookie). Each answer
passes through the sender's :class:`~.secrets.Scrubber`, so no secret can reach the page.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from .._secrets import Secret
from ..testing import EVENT_TYPES
from .export import as_pytest, as_send_command
from .pages import compose_page, detail_page, list_page
from .sender import Sender

__all__ = ["ACCESS_COOKIE", "SENDER_KEY", "create_app"]

SENDER_KEY = web.AppKey("lark_events_inspector_sender", Sender)
ACCESS_KEY = web.AppKey("lark_events_inspector_access", str)
ACCESS_COOKIE = "lark_inspector_access"
STATIC = Path(__file__).parent / "static"
HEARTBEAT = 15.0
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _json(sender: Sender, data: Any, status: int = 200) -> web.Response:
    text = sender.scrub(json.dumps(data, ensure_ascii=False))
    return web.Response(text=text, status=status, content_type="application/json")


def _html(sender: Sender, text: str) -> web.Response:
    return web.Response(text=sender.scrub(text), content_type="text/html")


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Access token, cross-site writes, errors as JSON, security headers."""
    access = request.app[ACCESS_KEY]
    if not access and not _local_host(request.host):
        # Loopback without a token: a page elsewhere could reach us through DNS rebinding, with
        # its own name in Host. Only this machine's names are answered.
        return _error(421, "this inspector answers only to 127.0.0.1, localhost and [::1]")
    granted = not access
    set_cookie = False
    if access:
        given = request.query.get("access") or request.cookies.get(ACCESS_COOKIE) or ""
        granted = Secret(access).matches(given)  # constant time; odd input is a mismatch
        set_cookie = granted and "access" in request.query
    if not granted:
        return _error(403, "this inspector needs the access URL it printed on start")
    if request.method == "POST":
        if request.content_type != "application/json":
            return _error(415, "send JSON (Content-Type: application/json)")
        origin = request.headers.get("Origin")
        if origin is not None and origin.split("://", 1)[-1] != request.host:
            return _error(403, "cross-origin requests are refused")
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400:
            return _error(exc.status, exc.reason)
        raise
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Cache-Control", "no-store")
    if set_cookie and not response.prepared:
        response.set_cookie(ACCESS_COOKIE, access, httponly=True, samesite="Strict")
    return response


def _local_host(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name.strip("[]").lower() in ("127.0.0.1", "localhost", "::1")


def _id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound(reason="no such exchange") from None


def _exchange_or_404(request: web.Request) -> Any:
    exchange = request.app[SENDER_KEY].store.get(_id(request))
    if exchange is None:
        raise web.HTTPNotFound(reason="no such exchange")
    return exchange


def _filters(request: web.Request) -> dict[str, Any]:
    status = request.query.get("status") or None
    if status not in (None, "ok", "failed", "none") and not (status or "").isdigit():
        raise web.HTTPBadRequest(reason="status is a code, ok, failed or none")
    try:
        limit = min(max(int(request.query.get("limit", "200")), 1), 1000)
    except ValueError:
        raise web.HTTPBadRequest(reason="limit is a number") from None
    return {
        "event_type": request.query.get("type") or None,
        "status": status,
        "search": (request.query.get("q") or "").strip() or None,
        "limit": limit,
    }


async def _list_page(request: web.Request) -> web.Response:
    sender = request.app[SENDER_KEY]
    rows = sender.store.list(**_filters(request))
    return _html(sender, list_page(rows, sender.store.event_types(), request.query))


async def _detail_page(request: web.Request) -> web.Response:
    return _html(request.app[SENDER_KEY], detail_page(_exchange_or_404(request)))


async def _compose_page(request: web.Request) -> web.Response:
    sender = request.app[SENDER_KEY]
    selected = request.query.get("type", "im.message.receive_v1")
    if selected not in EVENT_TYPES:
        raise web.HTTPNotFound(reason="no template of that type")
    return _html(sender, compose_page(EVENT_TYPES, selected, sender.template(selected)))


async def _api_list(request: web.Request) -> web.Response:
    sender = request.app[SENDER_KEY]
    rows = sender.store.list(**_filters(request))
    return _json(sender, {"exchanges": [x.summary() for x in rows]})


async def _api_detail(request: web.Request) -> web.Response:
    return _json(request.app[SENDER_KEY], _exchange_or_404(request).detail())


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(reason="the body is not JSON") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(reason="the body is not a JSON object")
    return data


async def _api_replay(request: web.Request) -> web.Response:
    sender = request.app[SENDER_KEY]
    exchange = _exchange_or_404(request)
    mode = (await _body(request)).get("mode", "same")
    try:
        if mode == "platform":
            sender.start_platform_replay(exchange)
            return _json(sender, {"started": True, "replay_of": exchange.id}, status=202)
        if mode not in ("same", "new"):
            return _error(400, "mode is same, new or platform")
        sent = await sender.replay(exchange, new_id=mode == "new")
    except ValueError as exc:
        return _error(409, str(exc))
    return _json(sender, sent.summary(), status=201)


async def _api_export(request: web.Request) -> web.Response:
    sender = request.app[SENDER_KEY]
    exchange = _exchange_or_404(request)
    fmt = request.query.get("format", "send")
    exporters = {"send": as_send_command, "pytest": as_pytest}
    if fmt not in exporters:
        return _error(400, "format is send or pytest")
    try:
        text = exporters[fmt](exchange)
    except ValueError as exc:
        return _error(409, str(exc))
    return web.Response(text=sender.scrub(text), content_type="text/plain")


async def _api_templates(request: web.Request) -> web.Response:
    return _json(request.app[SENDER_KEY], {"templates": list(EVENT_TYPES)})


async def _api_template(request: web.Request) -> web.Response:
    sender = request.app[SENDER_KEY]
    name = request.match_info["type"]
    if name not in EVENT_TYPES:
        return _error(404, "no template of that type")
    return _json(sender, {"type": name, "payload": sender.template(name)})


async def _api_compose(request: web.Request) -> web.Response:
    sender = request.app[SENDER_KEY]
    payload = (await _body(request)).get("payload")
    if not isinstance(payload, dict):
        return _error(400, "payload must be a JSON object (an event body)")
    try:
        sent = await sender.send(payload, source="composed")
    except ValueError as exc:
        return _error(409, str(exc))
    return _json(sender, sent.summary(), status=201)


def _sse(sender: Sender, summary: dict[str, Any]) -> bytes:
    data = sender.scrub(json.dumps(summary, ensure_ascii=False))
    return f"id: {summary['id']}\nevent: exchange\ndata: {data}\n\n".encode()


async def _api_stream(request: web.Request) -> web.StreamResponse:
    sender = request.app[SENDER_KEY]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    queue = sender.hub.subscribe()  # before the backfill, so no row falls in between
    try:
        await response.write(b"retry: 1000\n: connected\n\n")
        last = request.headers.get("Last-Event-ID", "")
        if last.isdigit():  # a reconnecting page: send what it missed (the page skips repeats)
            for missed in sender.store.since(int(last)):
                await response.write(_sse(sender, missed.summary()))
        while True:
            try:
                summary = await asyncio.wait_for(queue.get(), HEARTBEAT)
            except asyncio.TimeoutError:
                await response.write(b": heartbeat\n\n")
                continue
            if summary is None:
                break
            await response.write(_sse(sender, summary))
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        sender.hub.unsubscribe(queue)
    return response


async def _static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    types = {"inspector.js": "text/javascript", "inspector.css": "text/css"}
    if name not in types:
        raise web.HTTPNotFound(reason="no such file")
    return web.Response(
        body=(STATIC / name).read_bytes(), content_type=types[name], charset="utf-8"
    )


def create_app(sender: Sender, *, access_token: str = "") -> web.Application:
    """The inspector for ``sender``; ``access_token`` (non-empty) guards every route."""
    app = web.Application(middlewares=[_guard], client_max_size=2 * 1024 * 1024)
    app[SENDER_KEY] = sender
    app[ACCESS_KEY] = access_token
    app.router.add_get("/", _list_page)
    app.router.add_get("/exchanges/{id}", _detail_page)
    app.router.add_get("/compose", _compose_page)
    app.router.add_get("/api/exchanges", _api_list)
    app.router.add_get("/api/exchanges/{id}", _api_detail)
    app.router.add_post("/api/exchanges/{id}/replay", _api_replay)
    app.router.add_get("/api/exchanges/{id}/export", _api_export)
    app.router.add_get("/api/templates", _api_templates)
    app.router.add_get("/api/templates/{type}", _api_template)
    app.router.add_post("/api/compose", _api_compose)
    app.router.add_get("/api/stream", _api_stream)
    app.router.add_get("/static/{name}", _static)

    async def stop_streams(app: web.Application) -> None:
        sender.hub.close()

    app.on_shutdown.append(stop_streams)
    return app
