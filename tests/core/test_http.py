"""The framework-neutral request and response types (PROTOCOL.md §7, §8)."""

from __future__ import annotations

import json

import pytest

from lark_events_core import JSON_CONTENT_TYPE, Headers, Request, Response
from lark_events_core.http import CaseInsensitiveHeaders


def test_header_lookup_ignores_case() -> None:
    headers = Headers({"X-Lark-Signature": "abc"})
    assert headers["x-lark-signature"] == "abc"
    assert headers.get("X-LARK-SIGNATURE") == "abc"
    assert "x-Lark-signature" in headers


def test_missing_header_is_none_and_never_a_crash() -> None:
    headers = Headers([])
    assert headers.get("X-Lark-Signature") is None
    assert headers.get("X-Lark-Signature", "d") == "d"
    assert "X-Lark-Signature" not in headers
    assert 42 not in headers
    with pytest.raises(KeyError):
        headers["X-Lark-Signature"]


def test_first_value_of_a_repeated_header_wins() -> None:
    headers = Headers([("X-Tt-Logid", "first"), ("x-tt-logid", "second")])
    assert headers["X-Tt-Logid"] == "first"
    assert len(headers) == 1


def test_headers_repr_shows_names_not_values() -> None:
    text = repr(Headers({"X-Lark-Signature": "SECRET-SIGNATURE"}))
    assert "x-lark-signature" in text
    assert "SECRET-SIGNATURE" not in text


@pytest.mark.parametrize(
    "raw",
    [
        {"X-Request-Id": "r"},
        [("X-Request-Id", "r")],
        Headers({"X-Request-Id": "r"}),
    ],
)
def test_request_builds_from_mappings_pairs_and_headers(raw: object) -> None:
    req = Request.build("post", raw, b"{}", "/hook")  # type: ignore[arg-type]
    assert req.method == "POST"
    assert req.path == "/hook"
    assert req.headers.get("x-request-id") == "r"


def test_request_builds_without_headers() -> None:
    assert Request.build("POST", None, b"").headers.get("anything") is None


def test_request_id_prefers_x_tt_logid_then_x_request_id() -> None:
    both = Request.build("POST", {"X-Request-Id": "rid", "X-Tt-Logid": "logid"}, b"")
    assert both.request_id == "logid"
    assert Request.build("POST", {"x-request-id": "rid"}, b"").request_id == "rid"
    assert Request.build("POST", {}, b"").request_id is None


def test_request_repr_hides_the_body() -> None:
    text = repr(Request.build("POST", {}, b'{"token":"BODY-MARKER"}'))
    assert "BODY-MARKER" not in text
    assert "bytes" in text


def test_json_response_has_the_json_content_type_and_compact_utf8_body() -> None:
    response = Response.json(200, {"msg": "héllo"})
    assert dict(response.headers) == {"Content-Type": "application/json; charset=utf-8"}
    assert response.content_type == JSON_CONTENT_TYPE
    assert json.loads(response.body.decode("utf-8")) == {"msg": "héllo"}
    assert response.json_body() == {"msg": "héllo"}


def test_json_response_escapes_quotes_and_backslashes() -> None:
    response = Response.json(401, {"msg": 'a"b\\c'})
    assert json.loads(response.body) == {"msg": 'a"b\\c'}


def test_case_insensitive_view_reads_the_framework_mapping_without_copying() -> None:
    from multidict import CIMultiDict, CIMultiDictProxy

    raw = CIMultiDict([("X-Lark-Signature", "first"), ("x-lark-signature", "second")])
    headers = CaseInsensitiveHeaders(CIMultiDictProxy(raw))
    assert headers.get("x-lark-signature") == "first"  # the first of repeated values
    assert headers["X-LARK-SIGNATURE"] == "first"
    assert "x-lark-signature" in headers
    assert headers.get("missing") is None
    raw["X-Tt-Logid"] = "later"  # a view: what the framework holds now
    assert Request("POST", headers, b"").request_id == "later"
    assert "later" not in repr(headers)
