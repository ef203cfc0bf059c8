"""Our event span under each framework's own OpenTelemetry instrumentation: Flask's (its test
client), Django's (gunicorn), OpenTelemetry's ASGI middleware around Django under uvicorn
(through ``lark_events_django.asgi``) and aiohttp's (``python -m aiohttp.web``). The event span is
a child of the server span, and an incoming W3C ``traceparent`` header is honoured."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

pytest.importorskip("opentelemetry.sdk", reason="the OpenTelemetry SDK is not installed")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.support.servers import VENV_BIN, run_server, wait_until

from .mix import KEY, TOKEN, event_request
from .spans_file import ENV_VAR, read, record

MESSAGE = "im.message.receive_v1"
#: The span the served apps' message handler makes (:func:`tests.observe.mix.register`).
USER_SPAN = "user work"
#: A sender's span, as another service would pass it on.
REMOTE_TRACE = 0x4BF92F3577B34DA6A3CE929D0E0E4736
REMOTE_SPAN = 0x00F067AA0BA902B7
TRACEPARENT = f"00-{REMOTE_TRACE:032x}-{REMOTE_SPAN:016x}-01"

#: ``post(event_id, extra_headers) -> status`` and ``spans() -> records``, per framework.
Post = Callable[[str, dict[str, str]], int]
Spans = Callable[[], list[dict[str, Any]]]


def _check(post: Post, spans: Spans, wait: Callable[[Callable[[], bool]], None]) -> None:
    """Without and then with a ``traceparent``: our span's parent is the server span, and the
    span the handler makes (``user work``) is a child of the handler attempt's span."""
    for event_id, headers in (
        ("ev-otel-plain", {}),
        ("ev-otel-remote", {"traceparent": TRACEPARENT}),
    ):
        assert post(event_id, headers) == 200

        def ended(event_id: str = event_id) -> bool:
            recorded = spans()
            ours = [s for s in recorded if s["attributes"].get("lark.event.id") == event_id]
            return bool(ours) and any(s["span_id"] == ours[0]["parent"] for s in recorded)

        wait(ended)
    recorded = spans()
    events = {
        s["attributes"]["lark.event.id"]: s
        for s in recorded
        if s["name"] == f"lark.event {MESSAGE}"
    }
    servers = {s["span_id"]: s for s in recorded if s["kind"] == "SERVER"}
    for event_id in ("ev-otel-plain", "ev-otel-remote"):
        ours = events[event_id]
        assert ours["kind"] == "CONSUMER"
        server = servers[ours["parent"]]  # the framework's request span is our parent
        assert server["trace_id"] == ours["trace_id"]
        assert server["name"] != ours["name"]
    plain, remote = events["ev-otel-plain"], events["ev-otel-remote"]
    assert servers[plain["parent"]]["parent"] is None  # a new trace
    assert plain["trace_id"] != REMOTE_TRACE
    assert remote["trace_id"] == REMOTE_TRACE  # the incoming traceparent is honoured
    assert servers[remote["parent"]]["parent"] == REMOTE_SPAN
    handlers = [s for s in recorded if s["name"] == f"lark.handler {MESSAGE}"]
    assert {h["parent"] for h in handlers} == {plain["span_id"], remote["span_id"]}
    # The handler's own span is a child of its attempt's span, not of the server span.
    users = [s for s in recorded if s["name"] == USER_SPAN]
    assert sorted(u["parent"] for u in users) == sorted(h["span_id"] for h in handlers)


def test_flask_instrumentation_is_the_parent_of_our_span() -> None:
    pytest.importorskip("opentelemetry.instrumentation.flask")
    from flask import Flask
    from lark_events_flask import LarkEvents
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    from lark_events_core.tracing import TracingObserver

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    lark = LarkEvents()

    def on_message(event: object) -> None:
        with provider.get_tracer("tests.observe").start_as_current_span(USER_SPAN):
            pass

    lark.on(MESSAGE)(on_message)
    app = Flask(__name__)
    app.config.update(
        LARK_ENCRYPT_KEY=KEY,
        LARK_VERIFICATION_TOKEN=TOKEN,
        LARK_EVENTS_OPTIONS={"observers": [TracingObserver(provider)]},
    )
    lark.init_app(app)
    FlaskInstrumentor().instrument_app(app, tracer_provider=provider)
    try:
        client = app.test_client()

        def post(event_id: str, headers: dict[str, str]) -> int:
            req = event_request(MESSAGE, event_id)
            response = client.post(
                "/webhook/event", data=req.body, headers={**dict(req.headers), **headers}
            )
            return response.status_code

        def spans() -> list[dict[str, Any]]:
            return [record(s) for s in exporter.get_finished_spans()]

        _check(post, spans, lambda done: wait_until(done, 10, "the spans"))
    finally:
        FlaskInstrumentor().uninstrument_app(app)


@pytest.fixture
def spans_file() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="lark-spans-") as tmp:
        yield Path(tmp) / "spans.jsonl"


SERVED = {
    "django-gunicorn": (
        "opentelemetry.instrumentation.django",
        [
            str(VENV_BIN / "gunicorn"),
            "-w",
            "1",
            "-b",
            "127.0.0.1:{port}",
            "tests.observe.served_wsgi:application",
        ],
        {"DJANGO_SETTINGS_MODULE": "tests.observe.served_django"},
    ),
    "django-uvicorn-asgi": (
        "opentelemetry.instrumentation.asgi",
        [
            str(VENV_BIN / "uvicorn"),
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--no-access-log",
            "tests.observe.served_asgi_otel:application",
        ],
        {"DJANGO_SETTINGS_MODULE": "tests.observe.served_django"},
    ),
    "aiohttp-runner": (
        "opentelemetry.instrumentation.aiohttp_server",
        [
            sys.executable,
            "-m",
            "aiohttp.web",
            "-H",
            "127.0.0.1",
            "-P",
            "{port}",
            "tests.observe.served_aiohttp:create_app",
        ],
        {},
    ),
}


@pytest.mark.e2e
@pytest.mark.parametrize("name", list(SERVED))
def test_server_instrumentation_is_the_parent_of_our_span(name: str, spans_file: Path) -> None:
    module, argv, env = SERVED[name]
    pytest.importorskip(module)
    env = {
        **env,
        "LARK_ENCRYPT_KEY": KEY,
        "LARK_VERIFICATION_TOKEN": TOKEN,
        ENV_VAR: str(spans_file),
    }
    with run_server(argv, env=env) as server:

        def post(event_id: str, headers: dict[str, str]) -> int:
            req = event_request(MESSAGE, event_id)
            return requests.post(
                server.url + "/webhook/event",
                data=req.body,
                headers={**dict(req.headers), **headers},
                timeout=10,
            ).status_code

        _check(post, lambda: read(spans_file), lambda done: wait_until(done, 20, "the spans"))
