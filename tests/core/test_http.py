"""The framework-neutral request and response types (PROTOCOL.md §7, §8)."""

from __future__ import annotations

import json
from typing import Any

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


@pytest.mark.parametrize(
    "raw",
    [
        # The spellings a lookup tries (as asked, as clients send it) after the first one...
        {"X-LARK-SIGNATURE": "first", "X-Lark-Signature": "second"},
        {"X-Lark-Signature": "first", "x-lark-signature": "second"},
        {"x-lark-signature": "first", "X-Lark-Signature": "second"},
        {"X-Lark-Signature": "first", "X-Tt-Logid": "t", "x-lark-signature": "second"},
        # ... or a name that is the same only once lower-cased (KELVIN SIGN lowers to "k").
        {"X-Lar\u212a-Signature": "first", "X-Lark-Signature": "second"},
    ],
)
def test_first_value_of_a_name_repeated_in_another_case_in_a_dict_wins(
    raw: dict[str, str],
) -> None:
    headers = Headers(raw)
    assert headers.get("x-lark-signature") == "first"
    assert headers["X-Lark-Signature"] == "first"
    assert len(headers) == len(raw) - 1


def test_a_dict_lookup_is_not_fooled_by_names_holding_nul() -> None:
    raw = {"a\0x-lark-signature": "odd", "X-Lark-Signature": "sig", "x-tt-logid\0b": "odd"}
    headers = Headers(raw)
    assert headers.get("x-lark-signature") == "sig"
    assert headers.get("x-tt-logid") is None
    assert len(headers) == 3


@pytest.mark.parametrize(
    "raw",
    [
        {"X-Lark-Signature": "sig", "X-Custom-Name": "c", "X-B3-Traceid": "t"},  # title case
        {"x-lark-signature": "sig", "x-custom-name": "c", "x-b3-traceid": "t"},  # lower case
        {"X-Lark-Signature": "sig", "X-CUSTOM-NAME": "c", "x-b3-traceid": "t"},  # mixed
        [("x-lark-signature", "sig"), ("x-custom-name", "c"), ("x-b3-traceid", "t")],  # ASGI
        [("X-Lark-Signature", "sig"), ("X-Custom-Name", "c"), ("X-B3-Traceid", "t")],
    ],
)
def test_headers_ignore_case_in_every_method_whatever_case_the_names_come_in(
    raw: dict[str, str] | list[tuple[str, str]],
) -> None:
    headers = Headers(raw)
    for key in ("x-lark-signature", "X-Lark-Signature", "X-LARK-SIGNATURE", "x-LaRk-sIgNaTuRe"):
        assert headers.get(key) == "sig"
        assert headers[key] == "sig"
        assert key in headers
    assert headers.get("X-Lar\u212a-Signature") == "sig"  # KELVIN SIGN lower-cases to "k"
    assert headers.get("x-custom-name") == headers.get("X-Custom-NAME") == "c"
    assert headers.get("x-b3-traceid") == headers.get("X-B3-TraceId") == "t"
    for absent in ("x-ff", "x-lark", "x-lark-signature-"):
        assert headers.get(absent) is None
        assert absent not in headers
    with pytest.raises(KeyError):
        headers["x-ff"]
    assert sorted(headers) == ["x-b3-traceid", "x-custom-name", "x-lark-signature"]
    assert len(headers) == 3
    assert dict(headers.items()) == {
        "x-lark-signature": "sig",
        "x-custom-name": "c",
        "x-b3-traceid": "t",
    }


@pytest.mark.parametrize(
    "raw", [{"X-Ff": "v"}, {"x-ff": "v"}, [("x-ff", "v")], [("X-Ff", "v")], {"X-Ff": "v"}.items()]
)
def test_a_name_that_only_title_cases_to_a_header_is_not_it(raw: object) -> None:
    headers = Headers(raw)  # type: ignore[arg-type]
    assert headers.get("x-ff") == "v"
    assert headers.get("x-\ufb00") is None  # LATIN SMALL LIGATURE FF title-cases to "Ff"
    assert headers.get("X-\ufb00") is None
    assert "x-\ufb00" not in headers


def test_headers_of_a_dict_are_a_snapshot() -> None:
    raw = {"X-Lark-Signature": "sig"}
    headers = Headers(raw)
    raw["X-Lark-Signature"] = "changed"
    raw["X-Tt-Logid"] = "added"
    assert headers.get("x-lark-signature") == "sig"
    assert headers.get("x-tt-logid") is None


@pytest.mark.parametrize("name", ["x-tt-logid", "X-Tt-Logid"])
def test_first_value_of_a_name_repeated_in_asgi_pairs_wins(name: str) -> None:
    headers = Headers([(name, "first"), ("x-request-id", "r"), (name, "second")])
    assert headers.get("x-tt-logid") == headers.get("X-TT-LOGID") == "first"
    assert len(headers) == 2


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


def test_request_build_keeps_any_headers_object_and_copies_other_mappings() -> None:
    from multidict import CIMultiDict, CIMultiDictProxy

    class Custom(Headers):  # a subclass with its own get(): kept, read through its get()
        def get(self, key: str, default: Any = None) -> Any:
            return "custom" if key.lower() == "x-request-id" else default

    view = CaseInsensitiveHeaders(CIMultiDictProxy(CIMultiDict([("X-Request-Id", "v")])))
    plain = Headers({"X-Request-Id": "h"})
    custom = Custom({})
    for headers, request_id in ((view, "v"), (plain, "h"), (custom, "custom")):
        req = Request.build("POST", headers, b"")
        assert req.headers is headers
        assert req.request_id == request_id
    proxy = CIMultiDictProxy(CIMultiDict([("X-Request-Id", "p")]))  # a Mapping, not a Headers
    copied = Request.build("POST", proxy, b"").headers
    assert type(copied) is Headers
    assert copied.get("x-request-id") == "p"


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


_LARK = {
    "X-Lark-Signature": "sig",
    "X-Lark-Request-Timestamp": "1700000000",
    "X-Lark-Request-Nonce": "nonce",
    "X-Request-Id": "rid",
    "User-Agent": "Go-http-client/1.1",
}


@pytest.mark.parametrize(
    "raw",
    [
        _LARK,  # title case
        {name.lower(): value for name, value in _LARK.items()},  # lower case
        {name.upper(): value for name, value in _LARK.items()},  # neither: lower-cased
        list(_LARK.items()),
        [(name.lower(), value) for name, value in _LARK.items()],  # ASGI
    ],
)
def test_lark_headers_are_the_four_lookups_the_core_makes(raw: object) -> None:
    headers = Headers(raw)  # type: ignore[arg-type]
    get = headers.get
    expected = (
        get("x-lark-signature"),
        get("x-lark-request-timestamp"),
        get("x-lark-request-nonce"),
        Request("POST", headers, b"").request_id,
    )
    assert expected == ("sig", "1700000000", "nonce", "rid")
    assert headers.lark_headers() == expected
    assert Headers({"X-Tt-Logid": "log", "X-Request-Id": "rid"}).lark_headers()[3] == "log"
    assert Headers({"x-tt-logid": "", "x-request-id": "rid"}).lark_headers()[3] == "rid"
    assert Headers().lark_headers() == (None, None, None, None)


def test_a_headers_subclass_with_its_own_get_is_read_through_it() -> None:
    class Upper(Headers):
        """Looks every name up upper-cased in a dict of its own."""

        def __init__(self, raw: dict[str, str]) -> None:
            super().__init__()
            self.raw = raw

        def get(self, key: str, default: object = None) -> object:
            return self.raw.get(key.upper(), default)

    headers = Upper({"X-LARK-SIGNATURE": "sig", "X-TT-LOGID": "log"})
    assert headers.lark_headers() == ("sig", None, None, "log")
    assert Request("POST", headers, b"").request_id == "log"


def test_case_insensitive_view_reads_the_lark_headers_from_the_framework_mapping() -> None:
    from multidict import CIMultiDict, CIMultiDictProxy

    raw = CIMultiDict({name.upper(): value for name, value in _LARK.items()})
    raw.add("x-lark-signature", "second")
    headers = CaseInsensitiveHeaders(CIMultiDictProxy(raw))
    assert headers.lark_headers() == ("sig", "1700000000", "nonce", "rid")
