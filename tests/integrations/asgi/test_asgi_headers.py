"""The ASGI app's view over ``scope["headers"]``: what the general ``Headers`` reads, sooner."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lark_events_core import Dispatcher, Headers
from lark_events_core.asgi import ASGIApp, _asgi_headers, _ASGIHeaders
from lark_events_core.testing import make_event, sign_event

KEY = "asgi_headers_key"
TOKEN = "asgi_headers_token"
LARK = ("x-lark-signature", "x-lark-request-timestamp", "x-lark-request-nonce")


def general(raw: list[tuple[bytes, bytes]]) -> Headers:
    """What the app built before the view: every pair decoded, then the general mapping."""
    return Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw])


def test_lower_case_names_get_the_view_and_read_like_the_general_mapping() -> None:
    raw = [
        (b"host", b"127.0.0.1"),
        (b"x-lark-signature", b"first"),
        (b"x-lark-signature", b"second"),  # repeated: the first wins, as in Headers
        (b"x-lark-request-timestamp", b"1700000000"),
        (b"x-request-id", b"caf\xe9"),  # latin-1, as the ASGI spec gives header values
        (b"content-length", b"12"),
    ]
    view = _asgi_headers(raw)
    assert type(view) is _ASGIHeaders
    expected = ("first", "1700000000", None, "café")
    assert view.lark_headers() == general(raw).lark_headers() == expected
    assert view.get("X-Lark-Signature") == view["x-lark-signature"] == "first"
    assert view.get("Content-Length") == "12"
    assert view.get("missing") is None
    assert view.get("missing", "d") == "d"
    assert view.get("x-lärk") is None  # not ASCII: no header can have that name
    assert "HOST" in view
    assert "missing" not in view
    assert 5 not in view
    assert sorted(view) == sorted(general(raw))
    assert len(view) == len(general(raw)) == 5
    assert "first" not in repr(view)  # names only, never values


def test_a_logid_wins_over_a_request_id_and_an_empty_one_does_not() -> None:
    both = [(b"x-request-id", b"rid"), (b"x-tt-logid", b"logid")]
    assert _asgi_headers(both).lark_headers()[3] == "logid"
    empty = [(b"x-tt-logid", b""), (b"x-request-id", b"rid")]
    assert _asgi_headers(empty).lark_headers()[3] == general(empty).lark_headers()[3] == "rid"


def test_other_names_take_the_general_mapping() -> None:
    mixed = [(b"X-Lark-Signature", b"upper"), (b"x-lark-signature", b"lower")]
    headers = _asgi_headers(mixed)
    assert type(headers) is Headers
    assert headers.get("x-lark-signature") == "upper"  # the first, whatever its case
    not_ascii = [(b"x-\xe9", b"v"), (b"x-lark-signature", b"s")]
    headers = _asgi_headers(not_ascii)
    assert type(headers) is Headers
    assert headers.get("x-lark-signature") == "s"
    assert type(_asgi_headers(iter([(b"a", b"1")]))) is _ASGIHeaders  # any iterable of pairs
    assert type(_asgi_headers([[b"a", b"1"]])) is _ASGIHeaders  # pairs as lists


_names = st.sampled_from([*LARK, "x-tt-logid", "x-request-id", "host", "content-type"])
_cases = st.sampled_from([str.lower, str.upper, str.title])
_values = st.binary(max_size=8)


@settings(deadline=None, derandomize=True)  # the same examples every run, however loaded
@given(st.lists(st.tuples(_names, _cases, _values), max_size=10))
def test_every_scope_reads_as_the_general_mapping_reads_it(
    pairs: list[tuple[str, Any, bytes]],
) -> None:
    raw = [(case(name).encode("ascii"), value) for name, case, value in pairs]
    headers, expected = _asgi_headers(raw), general(raw)
    assert headers.lark_headers() == expected.lark_headers()
    for name in (*LARK, "x-tt-logid", "x-request-id", "host", "content-type", "absent"):
        assert headers.get(name) == expected.get(name)
        assert headers.get(name.upper()) == expected.get(name.upper())
    assert sorted(headers) == sorted(expected)


def _call(app: ASGIApp, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, bytes]:
    """One request through the app's ASGI interface, the headers exactly as given."""
    sent: list[dict[str, Any]] = []
    chunks = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/webhook/event", "headers": headers}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], sent[1]["body"]


def test_the_app_checks_the_first_of_repeated_signatures() -> None:
    dispatcher = Dispatcher(encrypt_key=KEY, verification_token=TOKEN)
    seen: list[str | None] = []
    dispatcher.on("im.message.receive_v1", lambda event: seen.append(event.event_id))
    app = ASGIApp(dispatcher)
    signed = sign_event(
        make_event("im.message.receive_v1", {"message": {}}, token=TOKEN, event_id="asgi-h-1"),
        encrypt_key=KEY,
    )
    lark = [(k.lower().encode(), v.encode()) for k, v in signed.headers.items()]
    wrong = [(b"x-lark-signature", b"0" * 64)]
    assert _call(app, [*lark, *wrong], signed.body)[0] == 200
    assert _call(app, [*wrong, *lark], signed.body) == (401, b'{"msg":"signature mismatch"}')
    assert seen == ["asgi-h-1"]
    dispatcher.close()
