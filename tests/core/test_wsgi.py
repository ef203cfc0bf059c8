"""The generic WSGI application: PEP 3333 environ in, the core, JSON out — and real servers."""

from __future__ import annotations

import http.client
import io
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator

import pytest
import requests

from lark_events_core import Dispatcher, Event, Request
from lark_events_core.testing import make_event, make_legacy_card, sign_event, sign_legacy_card
from lark_events_core.wsgi import WSGIApp, headers_from_environ, read_bounded
from tests.support.vectors import core_answer, receiver

KEY = "wsgi_key"
TOKEN = "wsgi_token"
JSON_CT = "application/json; charset=utf-8"


def _dispatcher(calls: list[Any], limit: int = 64 * 1024) -> Dispatcher:
    disp = Dispatcher(encrypt_key=KEY, verification_token=TOKEN, max_body_bytes=limit)
    disp.on("im.message.receive_v1", calls.append)

    @disp.on_legacy_card
    def legacy(event: Event[Any]) -> dict[str, Any]:
        calls.append(event)
        return {"toast": {"type": "info", "content": "card"}}

    return disp


def _app(calls: list[Any], limit: int = 64 * 1024, **kwargs: Any) -> WSGIApp:
    return WSGIApp(_dispatcher(calls, limit), close_on_exit=False, **kwargs)


def _call(app: Any, environ: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    got: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        got["status"], got["headers"] = status, headers
        return lambda data: None

    chunks = app(environ, start_response)
    body = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    headers = dict(got["headers"])
    assert headers["Content-Type"] == JSON_CT
    assert headers["Content-Length"] == str(len(body))
    return int(got["status"].split()[0]), headers, json.loads(body)


def _environ(
    method: str = "POST",
    path: str = "/webhook/event",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
    }
    setup_testing_defaults(environ)
    if body is not None:
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    environ.update(extra)
    return environ


def _signed(event_id: str | None = None) -> Any:
    return sign_event(
        make_event("im.message.receive_v1", {}, token=TOKEN, event_id=event_id), encrypt_key=KEY
    )


class _Exploding(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the body was read")


class _Big(io.RawIOBase):
    """8 MiB of body that counts what was read."""

    def __init__(self) -> None:
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), (8 << 20) - self.consumed)
        buffer[:n] = b"x" * n
        self.consumed += n
        return n


# -- the callable ----------------------------------------------------------------------------------


def test_signed_event_is_handled_and_the_app_is_pep3333_valid() -> None:
    calls: list[Any] = []
    app = validator(_app(calls))
    req = _signed("w-1")
    status, _, body = _call(app, _environ(body=req.body, headers=req.headers))
    assert (status, body) == (200, {"msg": "success"})
    assert [e.event_id for e in calls] == ["w-1"]


def test_unknown_path_is_a_json_404() -> None:
    status, _, body = _call(_app([]), _environ(path="/other"))
    assert (status, body) == (404, {"msg": "not found"})


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "OPTIONS", "HEAD"])
def test_other_methods_are_a_json_405_with_allow(method: str) -> None:
    status, headers, body = _call(_app([]), _environ(method=method))
    assert (status, body) == (405, {"msg": "method not allowed"})
    assert headers["Allow"] == "POST"


def test_content_length_over_the_limit_is_413_before_reading() -> None:
    environ = _environ(CONTENT_LENGTH="1025")
    environ["wsgi.input"] = _Exploding()
    status, _, body = _call(_app([], limit=1024), environ)
    assert (status, body) == (413, {"msg": "request body too large"})


def test_terminated_input_without_length_is_read_up_to_the_limit_only() -> None:
    stream = _Big()
    environ = _environ(headers={"Transfer-Encoding": "chunked"})
    environ.update({"wsgi.input": stream, "wsgi.input_terminated": True})
    status, _, _ = _call(_app([], limit=4096), environ)
    assert status == 413
    assert 4096 < stream.consumed <= 4097


def test_terminated_input_within_the_limit_is_handled() -> None:
    calls: list[Any] = []
    req = _signed("w-chunked")
    environ = _environ(headers={**req.headers, "Transfer-Encoding": "chunked"})
    environ.update({"wsgi.input": io.BytesIO(req.body), "wsgi.input_terminated": True})
    status, _, _ = _call(_app(calls), environ)
    assert status == 200
    assert [e.event_id for e in calls] == ["w-chunked"]


def test_no_length_and_no_terminated_input_is_an_empty_body() -> None:
    environ = _environ()
    environ["wsgi.input"] = _Exploding()  # PEP 3333: never read past CONTENT_LENGTH
    status, _, _ = _call(_app([]), environ)
    assert status == 400


@pytest.mark.parametrize("length", ["abc", "-1", "1e3"])
def test_invalid_content_length_is_400(length: str) -> None:
    environ = _environ(CONTENT_LENGTH=length)
    environ["wsgi.input"] = _Exploding()
    status, _, body = _call(_app([]), environ)
    assert status == 400
    assert body == {"msg": "invalid Content-Length"}


def test_body_shorter_than_its_content_length_is_400() -> None:
    calls: list[Any] = []
    req = _signed()
    environ = _environ(body=req.body, headers=req.headers)
    environ["CONTENT_LENGTH"] = str(len(req.body) + 10)
    status, _, _ = _call(_app(calls), environ)
    assert status == 400
    assert calls == []


def test_legacy_card_path_and_prefix_mounting() -> None:
    calls: list[Any] = []
    app = _app(calls)
    req = sign_legacy_card(make_legacy_card(), verification_token=TOKEN)
    # Mounted under /lark: SCRIPT_NAME holds the prefix, PATH_INFO the rest.
    environ = _environ(path="/webhook/card", body=req.body, headers=req.headers)
    environ["SCRIPT_NAME"] = "/lark"
    status, _, body = _call(app, environ)
    assert (status, body) == (200, {"toast": {"type": "info", "content": "card"}})


def test_none_path_leaves_the_endpoint_out() -> None:
    status, _, _ = _call(_app([], card_path=None), _environ(path="/webhook/card"))
    assert status == 404


def test_unexpected_error_is_a_json_500_without_detail(monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app([])

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(app.dispatcher, "handle", broken)
    req = _signed()
    status, _, body = _call(app, _environ(body=req.body, headers=req.headers))
    assert (status, body) == (500, {"msg": "internal error"})


def test_headers_from_environ_maps_names_and_case() -> None:
    headers = headers_from_environ(
        {
            "HTTP_X_LARK_SIGNATURE": "0badc0de",
            "HTTP_X_TT_LOGID": "log-1",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": "",
            "REQUEST_METHOD": "POST",
            "wsgi.input": None,
        }
    )
    assert headers.get("X-Lark-Signature") == "0badc0de"
    assert headers["x-lark-signature"] == "0badc0de"
    assert headers.get("content-type") == "application/json"
    assert "Content-Type" in headers
    assert "content-length" not in headers  # empty CGI value: absent
    assert "request-method" not in headers  # not a header
    assert headers.get("x-missing") is None
    assert headers.get("x-missing", "d") == "d"
    with pytest.raises(KeyError):
        headers["x-missing"]
    assert sorted(headers) == ["content-type", "x-lark-signature", "x-tt-logid"]
    assert len(headers) == 3
    assert dict(headers.items())["x-tt-logid"] == "log-1"
    assert "0badc0de" not in repr(headers)  # values (signatures) never show in a repr
    assert Request.build("POST", headers, b"").request_id == "log-1"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {
                "HTTP_X_LARK_SIGNATURE": "sig",
                "HTTP_X_LARK_REQUEST_TIMESTAMP": "1700000000",
                "HTTP_X_LARK_REQUEST_NONCE": "nonce",
                "HTTP_X_TT_LOGID": "log",
                "HTTP_X_REQUEST_ID": "rid",
            },
            ("sig", "1700000000", "nonce", "log"),
        ),
        (  # an empty value is absent; an empty X-Tt-Logid gives way to X-Request-Id
            {"HTTP_X_LARK_SIGNATURE": "", "HTTP_X_TT_LOGID": "", "HTTP_X_REQUEST_ID": "rid"},
            (None, None, None, "rid"),
        ),
        (  # a value that is not a str (a broken server or middleware) is absent too
            {"HTTP_X_LARK_SIGNATURE": b"sig", "HTTP_X_TT_LOGID": 7, "HTTP_X_REQUEST_ID": "rid"},
            (None, None, None, "rid"),
        ),
        ({}, (None, None, None, None)),
    ],
)
def test_environ_lark_headers_are_what_get_returns(
    environ: dict[str, Any], expected: tuple[str | None, ...]
) -> None:
    headers = headers_from_environ(environ)
    assert headers.lark_headers() == expected
    get = headers.get
    assert expected[:3] == (
        get("x-lark-signature"),
        get("x-lark-request-timestamp"),
        get("x-lark-request-nonce"),
    )
    assert Request("POST", headers, b"").request_id == expected[3]


def test_read_bounded_stops_after_the_limit() -> None:
    stream = _Big()
    assert read_bounded(stream, 100) is None
    assert stream.consumed == 101
    assert read_bounded(io.BytesIO(b"abc"), 3) == b"abc"


def test_importing_the_wsgi_app_imports_no_framework() -> None:
    code = (
        "import sys, lark_events_core.wsgi; "
        "bad = {'flask', 'werkzeug', 'django', 'aiohttp'} & set(sys.modules); "
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# -- real servers ---------------------------------------------------------------------------------


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def vector_server() -> Iterator[tuple[str, list[Any]]]:
    """The app on the vectors' receiver config, served by wsgiref on a free port."""
    config = receiver()
    calls: list[Any] = []
    disp = Dispatcher(
        encrypt_key=config["encrypt_key"], verification_token=config["verification_token"]
    )
    for event_type in config["handlers"]:
        disp.on(event_type, calls.append)
    server = make_server("127.0.0.1", 0, WSGIApp(disp, close_on_exit=False), handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", calls
    finally:
        server.shutdown()
        server.server_close()


def _http(url: str, body: bytes | None, headers: dict[str, str], method: str = "POST") -> Any:
    response = requests.request(method, url, data=body, headers=headers, timeout=10)
    return response.status_code, response.headers, response.json()


def test_request_vector_over_wsgiref(
    request_vector: dict[str, Any], vector_server: tuple[str, list[Any]]
) -> None:
    base, calls = vector_server
    status, headers, body = _http(
        f"{base}/webhook/event", request_vector["body"].encode(), request_vector["headers"]
    )
    assert status == request_vector["expect_status"]
    assert headers["Content-Type"] == JSON_CT
    if "expect_json" in request_vector:
        assert body == request_vector["expect_json"]
    assert (status, body) == core_answer(request_vector)  # the message too
    handled = request_vector["name"] in ("v2-event-ok", "v2-event-lowercase-headers")
    assert len(calls) == (1 if handled else 0)


def test_a_repeated_signature_is_joined_by_the_server_and_refused(
    vector_server: tuple[str, list[Any]],
) -> None:
    # A WSGI server joins repeated headers with a comma (PEP 3333 leaves it to the server), so
    # one valid signature and a second never match: 401, where ASGI and aiohttp read the first.
    base, calls = vector_server
    config = receiver()
    signed = sign_event(
        make_event(
            "im.message.receive_v1", {}, token=config["verification_token"], event_id="wsgi-rep"
        ),
        encrypt_key=config["encrypt_key"],
    )
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("POST", "/webhook/event")
    for name, value in signed.headers.items():
        conn.putheader(name, value)
    conn.putheader("X-Lark-Signature", "0" * 64)
    conn.putheader("Content-Length", str(len(signed.body)))
    conn.endheaders(signed.body)
    response = conn.getresponse()
    assert (response.status, json.loads(response.read())) == (401, {"msg": "signature mismatch"})
    conn.close()
    assert calls == []


def test_wrong_method_and_path_over_wsgiref(vector_server: tuple[str, list[Any]]) -> None:
    base, _ = vector_server
    assert _http(f"{base}/webhook/event", None, {}, method="GET")[0] == 405
    assert _http(f"{base}/nope", b"{}", {})[0] == 404


@pytest.fixture
def werkzeug_server() -> Iterator[tuple[int, list[Any]]]:
    """The app behind Werkzeug's threaded server, which de-chunks request bodies."""
    from werkzeug.serving import make_server as werkzeug_make_server

    calls: list[Any] = []
    app = _app(calls, limit=4096)
    server = werkzeug_make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server.port, calls
    finally:
        server.shutdown()
        server.server_close()


def _chunked_post(port: int, chunks: Iterator[bytes], headers: dict[str, str]) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/webhook/event", body=chunks, headers=headers, encode_chunked=True)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    except (BrokenPipeError, ConnectionResetError):  # server answered and closed early
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_chunked_requests_over_a_real_server(werkzeug_server: tuple[int, list[Any]]) -> None:
    port, calls = werkzeug_server
    req = _signed("w-real-chunked")
    headers = {**req.headers, "Transfer-Encoding": "chunked"}
    mid = len(req.body) // 2
    status, body = _chunked_post(port, iter([req.body[:mid], req.body[mid:]]), headers)
    assert (status, body) == (200, {"msg": "success"})
    assert [e.event_id for e in calls] == ["w-real-chunked"]

    big = iter([b"x" * 1024] * 8)  # 8 KiB against a 4 KiB limit
    status, body = _chunked_post(port, big, {"Transfer-Encoding": "chunked"})
    assert (status, body) == (413, {"msg": "request body too large"})
