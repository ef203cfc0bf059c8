"""Server-rendered HTML: the list, one exchange's detail, the compose form.

Everything from the wire is escaped; the pages load one stylesheet and one script from
``static/`` and work (without live rows) when scripts are off.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from .export import as_pytest, as_send_command
from .store import Exchange

__all__ = ["compose_page", "detail_page", "list_page", "render_json", "render_toast"]

_STATUS_FILTERS = (("", "any status"), ("ok", "200"), ("failed", "not 200"), ("none", "no answer"))


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _layout(title: str, body: str, *, page: str) -> str:
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)} · lark-events inspector</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<link rel='stylesheet' href='/static/inspector.css'>"
        f"</head><body data-page='{_e(page)}'>"
        "<header><a class='brand' href='/'>lark-events inspector</a>"
        "<nav><a href='/'>Exchanges</a> <a href='/compose'>Compose</a></nav></header>"
        f"<main>{body}</main><script src='/static/inspector.js'></script></body></html>\n"
    )


def _time(created: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(created)) + f".{int(created * 1000) % 1000:03d}"


def status_text(exchange: Exchange) -> str:
    """The status column: the code, or why there was none."""
    return str(exchange.status) if exchange.status is not None else "no answer"


def row(exchange: Exchange) -> str:
    """One ``<tr>`` of the list (the script builds the same from a summary)."""
    note = ""
    if exchange.duplicate_of is not None:
        note = f" <span class='dup'>duplicate of #{exchange.duplicate_of}</span>"
    if exchange.source == "replayed" and exchange.attempt > 1:
        note += f" <span class='attempt'>attempt {exchange.attempt}</span>"
    ok = "ok" if exchange.status == 200 else "bad"
    answer = _e(exchange.summary()["answer"] or "")
    seen = exchange.seen() if exchange.is_callback else None
    if seen is not None:
        kind = seen.get("toast", "card")
        answer = (
            f"<span class='chip toast-{_e(kind)}'>{_e(seen['text'])}</span><br>"
            f"<span class='raw'>{answer}</span>"
        )
    return (
        f"<tr data-id='{exchange.id}' data-type='{_e(exchange.event_type)}' "
        f"data-status='{_e(exchange.status if exchange.status is not None else 'none')}'>"
        f"<td><a href='/exchanges/{exchange.id}'>#{exchange.id}</a></td>"
        f"<td>{_time(exchange.created)}</td>"
        f"<td class='source {_e(exchange.source)}'>{_e(exchange.source)}</td>"
        f"<td>{_e(exchange.event_type)}</td>"
        f"<td class='mono'>{_e(exchange.event_id)}{note}</td>"
        f"<td class='status {ok}'>{_e(status_text(exchange))}</td>"
        f"<td class='num'>{exchange.latency_ms:.1f} ms</td>"
        f"<td class='mono answer'>{answer}</td></tr>"
    )


def list_page(
    exchanges: Iterable[Exchange], event_types: Iterable[str], query: Mapping[str, str]
) -> str:
    """The list of exchanges with the filter form; new rows arrive over SSE."""
    current_type = query.get("type", "")
    current_status = query.get("status", "")
    types = "".join(
        f"<option value='{_e(t)}'{' selected' if t == current_type else ''}>{_e(t or 'any type')}"
        "</option>"
        for t in ["", *event_types]
    )
    statuses = "".join(
        f"<option value='{v}'{' selected' if v == current_status else ''}>{label}</option>"
        for v, label in _STATUS_FILTERS
    )
    rows = "".join(row(x) for x in exchanges)
    form = (
        "<form class='filters' method='get' action='/'>"
        f"<select name='type' id='filter-type'>{types}</select>"
        f"<select name='status' id='filter-status'>{statuses}</select>"
        f"<input name='q' id='filter-q' placeholder='search event id' "
        f"value='{_e(query.get('q', ''))}'>"
        "<button type='submit'>Filter</button>"
        "<span id='live' class='live'>connecting…</span></form>"
    )
    table = (
        "<table id='exchanges'><thead><tr><th>#</th><th>time</th><th>source</th>"
        "<th>event type</th><th>event id</th><th>app's status</th><th>latency</th>"
        f"<th>callback answer</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    empty = "<p class='empty'>No exchanges yet: forward or compose an event.</p>"
    return _layout("Exchanges", form + table + empty, page="list")


def render_json(value: Any, key: Any = None, depth: int = 0) -> str:
    """``value`` as nested, foldable ``<details>`` (objects and arrays) and scalar lines."""
    label = ""
    if isinstance(key, str):
        label = f"<span class='key'>{_e(json.dumps(key, ensure_ascii=False))}</span>: "
    if isinstance(value, dict | list):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        inner = "".join(
            render_json(v, k if isinstance(value, dict) else None, depth + 1) for k, v in items
        )
        brackets = "{}" if isinstance(value, dict) else "[]"
        open_attr = " open" if depth < 4 else ""
        return (
            f"<details class='json'{open_attr}><summary>{label}{brackets[0]}"
            f"<span class='count'>{len(value)}</span></summary>{inner}"
            f"<div class='close'>{brackets[1]}</div></details>"
        )
    kind = "string" if isinstance(value, str) else "literal"
    text = json.dumps(value, ensure_ascii=False)
    return f"<div class='json-line'>{label}<span class='{kind}'>{_e(text)}</span></div>"


def render_toast(exchange: Exchange) -> str:
    """What the user would see for a callback's answer: its toast, or the card it updates."""
    seen = exchange.seen()
    if seen is None:
        return ""
    if "toast" in seen:
        kind = seen["toast"]
        icons = {"success": "✓", "error": "✕", "warning": "!", "info": "i"}
        return (
            f"<div class='toast toast-{_e(kind)}' id='toast'><span class='icon'>"
            f"{icons.get(kind, 'i')}</span><span>{_e(seen['text'])}</span></div>"
        )
    answer = exchange.answer_json()
    return "<p class='note'>The answer updates the card the user clicked:</p>" + render_json(
        answer["card"]
    )


def _headers(headers: Mapping[str, str]) -> str:
    rows = "".join(
        f"<tr><th>{_e(k)}</th><td class='mono'>{_e(v)}</td></tr>" for k, v in headers.items()
    )
    return f"<table class='headers'>{rows}</table>"


def detail_page(exchange: Exchange) -> str:
    """One exchange: the decrypted event, the request as sent, the answer; replay and export."""
    x = exchange
    facts = [
        ("source", x.source + (f" (replay of #{x.replay_of})" if x.replay_of else "")),
        ("event type", x.event_type),
        ("event id", x.event_id or "-"),
        ("sent to", x.url),
        ("app's status", status_text(x) + (f": {x.error}" if x.error else "")),
        ("latency", f"{x.latency_ms:.1f} ms"),
    ]
    if x.duplicate_of is not None:
        facts.append(("duplicate of", f"#{x.duplicate_of} (the app should not handle it again)"))
    if x.attempt > 1:
        facts.append(("attempt", str(x.attempt)))
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    if x.payload is not None:
        event = f"<div id='event-json'>{render_json(x.payload)}</div>"
        actions = (
            "<div class='actions'>"
            f"<button data-replay='{x.id}' data-mode='same'>Replay (same event id)</button>"
            f"<button data-replay='{x.id}' data-mode='new'>Replay (new event id)</button>"
            f"<button data-replay='{x.id}' data-mode='platform'>Replay as the platform would"
            "</button><span id='action-result'></span></div>"
        )
        exports = (
            "<details><summary>Export as a <code>lark-events send</code> command</summary>"
            f"<pre id='export-send'>{_e(as_send_command(x))}</pre></details>"
            "<details><summary>Export as a pytest test</summary>"
            f"<pre id='export-pytest'>{_e(as_pytest(x))}</pre></details>"
        )
    else:
        event = "<p class='note'>The body could not be decrypted (not JSON, or another key).</p>"
        actions = exports = ""
    answer_json = x.answer_json()
    answer = (
        render_json(answer_json)
        if isinstance(answer_json, dict | list)
        else f"<pre>{_e(x.answer.decode('utf-8', 'replace'))}</pre>"
    )
    toast = render_toast(x) if x.is_callback else ""
    body = (
        f"<h1>Exchange #{x.id}</h1><dl class='facts'>{dl}</dl>{actions}"
        + (f"<h2>What the user sees</h2>{toast}" if toast else "")
        + f"<h2>Event (decrypted)</h2>{event}"
        + f"<h2>The app's answer</h2><div id='answer'>{answer}</div>"
        + f"<h2>Request as sent</h2>{_headers(x.request_headers)}"
        + "<details><summary>Body as sent</summary>"
        + f"<pre class='wrap' id='request-body'>{_e(x.request_body.decode('utf-8', 'replace'))}"
        + "</pre></details>"
        + exports
    )
    return _layout(f"Exchange #{x.id}", body, page="detail")


def compose_page(event_types: Iterable[str], selected: str, payload: dict[str, Any]) -> str:
    """Pick a template, edit its JSON, send it."""
    options = "".join(
        f"<option value='{_e(t)}'{' selected' if t == selected else ''}>{_e(t)}</option>"
        for t in event_types
    )
    text = json.dumps(payload, ensure_ascii=False, indent=2)
    body = (
        "<h1>Compose</h1><form id='compose' class='compose'>"
        f"<label>Template <select id='template'>{options}</select></label>"
        "<p class='note'>The verification token is filled in when the event is signed.</p>"
        f"<textarea id='payload' spellcheck='false' rows='28'>{_e(text)}</textarea>"
        "<div class='actions'><button type='submit' id='send'>Send</button>"
        "<span id='action-result'></span></div></form>"
    )
    return _layout("Compose", body, page="compose")
