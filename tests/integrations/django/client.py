"""Posting raw bytes with Django's own test clients (sync ``Client`` and ``AsyncClient``)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from django.http import HttpResponse
from django.test import AsyncClient, Client


def _split(headers: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    content_type = "application/json"
    rest: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() == "content-type":
            content_type = value
        else:
            rest[name] = value
    return content_type, rest


def post(
    path: str, body: bytes, headers: Mapping[str, str] | None = None, **extra: Any
) -> HttpResponse:
    """POST ``body`` as it is through ``django.test.Client`` (WSGI handler)."""
    content_type, rest = _split(headers or {})
    response: HttpResponse = Client().post(
        path, data=body, content_type=content_type, headers=rest, **extra
    )
    return response


def apost(
    path: str, body: bytes, headers: Mapping[str, str] | None = None, **extra: Any
) -> HttpResponse:
    """POST ``body`` through ``django.test.AsyncClient`` (ASGI handler) in a fresh event loop."""
    content_type, rest = _split(headers or {})

    async def go() -> HttpResponse:
        response: HttpResponse = await AsyncClient().post(
            path, data=body, content_type=content_type, headers=rest, **extra
        )
        return response

    return asyncio.run(go())


def _scope(path: str, headers: list[tuple[bytes, bytes]], method: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def asgi_request_async(
    path: str, body: bytes, headers: list[tuple[bytes, bytes]], method: str = "POST"
) -> tuple[int, dict[bytes, bytes], bytes]:
    """One request through Django's real ``ASGIHandler``, on the running loop."""
    from asgiref.testing import ApplicationCommunicator
    from django.core.handlers.asgi import ASGIHandler

    comm = ApplicationCommunicator(ASGIHandler(), _scope(path, headers, method))
    await comm.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await comm.receive_output(10)
    chunks = []
    while True:
        message = await comm.receive_output(10)
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    await comm.wait(10)
    return start["status"], dict(start["headers"]), b"".join(chunks)


def asgi_request(
    path: str, body: bytes, headers: list[tuple[bytes, bytes]], method: str = "POST"
) -> tuple[int, dict[bytes, bytes], bytes]:
    """One request through Django's real ``ASGIHandler`` with exactly these raw headers."""
    return asyncio.run(asgi_request_async(path, body, headers, method))


def wsgi_request(
    path: str, body: bytes, headers: Mapping[str, str], method: str = "POST"
) -> tuple[int, bytes]:
    """One request through Django's real ``WSGIHandler``, closed the way a WSGI server does."""
    import io
    from wsgiref.util import setup_testing_defaults

    from django.core.handlers.wsgi import WSGIHandler

    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
    setup_testing_defaults(environ)
    status: list[str] = []

    def start_response(line: str, _headers: Any, exc_info: Any = None) -> Any:
        status.append(line)
        return None

    result = WSGIHandler()(environ, start_response)
    try:
        data = b"".join(result)
    finally:
        result.close()  # type: ignore[attr-defined]  # fires request_finished
    return int(status[0].split()[0]), data
