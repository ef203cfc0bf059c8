"""Property-based tests: crypto round trips, and arbitrary input never breaks the core.

Arbitrary bodies and headers (random bytes, random JSON shaped like Lark bodies, random
``encrypt`` values, real ciphertexts, correct and wrong signatures, header names in any case,
values with any characters including lone surrogates) must never make ``handle()`` or
``handle_async()`` raise or answer 5xx (except the documented configuration error), must always
answer valid JSON with the JSON content type, and must never echo input into an error body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lark_events_core import AESCipher, Dispatcher, Request, Response, decrypt, encrypt
from lark_events_core import _json as json_module
from lark_events_core.testing import sign_event, sign_legacy_card

MARKER = "ZQXMARK"
KEY, TOKEN = "prop-key", "prop-token"
SETTINGS = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- crypto --------------------------------------------------------------------------------------

keys = st.text(min_size=1).filter(lambda k: k.strip() != "")


@SETTINGS
@given(plaintext=st.binary(max_size=2048), key=keys)
def test_encrypt_decrypt_round_trip(plaintext: bytes, key: str) -> None:
    assert decrypt(encrypt(plaintext, key), key) == plaintext


@SETTINGS
@given(plaintext=st.text(max_size=512), key=keys, iv=st.binary(min_size=16, max_size=16))
def test_round_trip_of_text_with_a_chosen_iv(plaintext: str, key: str, iv: bytes) -> None:
    cipher = AESCipher(key)
    value = cipher.encrypt(plaintext, iv)
    assert cipher.decrypt(value) == plaintext.encode("utf-8")
    assert value == cipher.encrypt(plaintext, iv)  # deterministic for a fixed IV


# -- arbitrary requests --------------------------------------------------------------------------

HEADER_NAMES = [
    "X-Lark-Signature",
    "X-Lark-Request-Timestamp",
    "X-Lark-Request-Nonce",
    "X-Tt-Logid",
    "X-Request-Id",
    "Content-Type",
]
# Any characters, lone surrogates often (aiohttp decodes bad header bytes to surrogates; the
# stdlib JSON parser turns "\ud800" into one).
surrogates = st.integers(0xD800, 0xDFFF).map(chr)
any_text = st.lists(st.one_of(st.characters(), surrogates), max_size=40).map("".join)
marked_text = st.one_of(st.just(MARKER), any_text.map(lambda t: t + MARKER), any_text)


@st.composite
def header_names(draw: st.DrawFn) -> str:
    name = draw(st.one_of(st.sampled_from(HEADER_NAMES), any_text))
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return "".join(c.upper() if f else c.lower() for c, f in zip(name, flips, strict=True))


header_values = st.one_of(
    marked_text, st.from_regex(r"[0-9a-f]{0,64}", fullmatch=True), st.just("1700000000")
)
headers = st.lists(st.tuples(header_names(), header_values), max_size=8)

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), marked_text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(marked_text, inner, max_size=4)
    ),
    max_leaves=12,
)
LARK_KEYS = ["schema", "header", "event", "uuid", "type", "challenge", "token", "action", "ts"]
TYPES = ["url_verification", "event_callback", "im.message.receive_v1", "card.action.trigger"]
lark_values = st.one_of(
    json_values,
    st.sampled_from(TYPES),
    st.just(TOKEN),
    st.fixed_dictionaries(
        {},
        optional={
            "event_type": st.one_of(st.sampled_from(TYPES), marked_text),
            "event_id": marked_text,
            "token": st.one_of(st.just(TOKEN), marked_text),
            "type": st.one_of(st.sampled_from(["message", "app_ticket"]), marked_text),
            "app_id": marked_text,
        },
    ),
)
lark_objects = st.dictionaries(
    st.one_of(st.sampled_from(LARK_KEYS), marked_text), lark_values, max_size=6
)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, list[tuple[str, str]]]:
    """A body and extra headers: garbage, JSON, encrypt wrappers, real and signed ciphertexts."""
    kind = draw(st.sampled_from(["bytes", "json", "object", "encrypt", "cipher", "signed"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200)) + MARKER.encode() + draw(st.binary(max_size=50)), []
    if kind == "json":
        return json.dumps(draw(json_values)).encode(), []
    obj = draw(lark_objects)
    plain = json.dumps(obj, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    if kind == "object":
        return plain, []
    if kind == "encrypt":
        value = draw(st.one_of(json_values, st.from_regex(r"[A-Za-z0-9+/]{0,90}={0,2}")))
        return json.dumps({"encrypt": value}).encode(), []
    key = draw(st.sampled_from([KEY, "other-key"]))
    if kind == "cipher":
        return json.dumps({"encrypt": encrypt(plain, key)}).encode(), []
    if draw(st.booleans()):
        signed = sign_event(plain, encrypt_key=key, encrypt=draw(st.booleans()))
    else:
        signed = sign_legacy_card(plain, verification_token=draw(st.sampled_from([TOKEN, "x"])))
    extra = [(k, v) for k, v in signed.headers.items()]
    spoiled = draw(st.sampled_from([None, *HEADER_NAMES[:3]]))
    if spoiled is not None:
        extra = [(spoiled, draw(any_text)), *extra]  # the first of a repeated header wins
    return signed.body, extra


def _dispatchers() -> list[tuple[Dispatcher, bool]]:
    """Every configuration shape; ``True`` when the encrypt-without-key 500 can occur."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        configs = [
            (Dispatcher(KEY, TOKEN), False),
            (Dispatcher([KEY, "k2"], TOKEN, timestamp_tolerance=300, max_body_bytes=600), False),
            (Dispatcher(None, TOKEN, dedup=False), True),
            (Dispatcher(KEY, None, dedup=False), False),
            (Dispatcher(dedup=False), True),
        ]
    for d, _ in configs:
        d.on("im.message.receive_v1", lambda e: e.event)
        d.on("message", lambda e: e.event)
        d.on("card.action.trigger", lambda e: {"toast": {"type": "info", "content": "ok"}})
        d.on_legacy_card(lambda e: None)
    return configs


DISPATCHERS = _dispatchers()
requests = st.builds(
    lambda method, hdrs, body: (
        Request.build(method, [*hdrs, *body[1]] if body[1] else hdrs, body[0]),
        body[0],
    ),
    st.sampled_from(["POST", "POST", "POST", "GET", "put"]),
    headers,
    bodies(),
)


def _check(response: Response, body: bytes, may_be_unconfigured: bool) -> None:
    assert isinstance(response, Response)
    assert dict(response.headers) == {"Content-Type": "application/json; charset=utf-8"}
    answer = json.loads(response.body)  # valid JSON, always
    assert isinstance(answer, dict)
    if response.status == 500:
        # Only the documented configuration error: an encrypted body, no Encrypt Key.
        assert may_be_unconfigured
        assert answer == {"msg": "internal error"}
        outer = json.loads(body)
        assert isinstance(outer, dict)
        assert isinstance(outer.get("encrypt"), str)
        return
    assert response.status in {200, 400, 401, 405, 413}
    if response.status != 200:
        assert set(answer) == {"msg"}
        assert MARKER not in response.body.decode("utf-8")
    elif "challenge" not in answer:  # the challenge is echoed by design
        assert MARKER not in response.body.decode("utf-8")


@contextlib.contextmanager
def _stdlib_json() -> Iterator[None]:
    """Run with the stdlib JSON backend (the core's fallback when orjson is absent)."""
    saved = json_module._loads, json_module._dumps
    json_module._loads, json_module._dumps = json_module._std_loads, json_module._std_dumps
    try:
        yield
    finally:
        json_module._loads, json_module._dumps = saved


BACKENDS = {"default": contextlib.nullcontext, "stdlib": _stdlib_json}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", sorted(BACKENDS))
@SETTINGS
@given(request=requests, which=st.integers(0, len(DISPATCHERS) - 1), card=st.booleans())
def test_handle_never_raises_and_always_answers_safe_json(
    backend: str, request: tuple[Request, bytes], which: int, card: bool
) -> None:
    dispatcher, may_be_unconfigured = DISPATCHERS[which]
    with BACKENDS[backend]():
        response = dispatcher.handle(request[0], card=card)
    _check(response, request[1], may_be_unconfigured)


_LOOP = asyncio.new_event_loop()  # one loop for every example: a loop per example is slow


def teardown_module() -> None:
    """Stop the shared loop's worker threads and close it."""
    _LOOP.run_until_complete(_LOOP.shutdown_default_executor())
    _LOOP.close()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", sorted(BACKENDS))
@SETTINGS
@given(request=requests, which=st.integers(0, len(DISPATCHERS) - 1), card=st.booleans())
def test_handle_async_never_raises_and_always_answers_safe_json(
    backend: str, request: tuple[Request, bytes], which: int, card: bool
) -> None:
    dispatcher, may_be_unconfigured = DISPATCHERS[which]

    async def go() -> Response:
        return await asyncio.wait_for(dispatcher.handle_async(request[0], card=card), 10)

    with BACKENDS[backend]():
        response = _LOOP.run_until_complete(go())
    _check(response, request[1], may_be_unconfigured)


@SETTINGS
@given(challenge=any_text, ascii_only=st.booleans())
def test_any_challenge_is_answered_as_valid_json(challenge: str, ascii_only: bool) -> None:
    body = json.dumps(
        {"type": "url_verification", "challenge": challenge, "token": TOKEN},
        ensure_ascii=ascii_only,
    ).encode("utf-8", "surrogatepass")
    dispatcher = DISPATCHERS[0][0]
    for backend in BACKENDS.values():
        with backend():
            response = dispatcher.handle(Request.build("POST", {}, body))
        assert response.status in {200, 400}
        answer = json.loads(response.body)
        if response.status == 200:
            # JSON cannot tell a surrogate pair from the character it encodes; compare as JSON.
            assert answer == {"challenge": json.loads(json.dumps(challenge))}


@SETTINGS
@given(token=any_text, shape=st.sampled_from(["challenge", "v2", "v1"]))
def test_any_token_value_is_a_match_or_a_401_never_a_crash(token: str, shape: str) -> None:
    payload: dict[str, Any] = {
        "challenge": {"type": "url_verification", "challenge": "c", "token": token},
        "v2": {"schema": "2.0", "header": {"event_type": "a.b", "token": token}},
        "v1": {"uuid": "u", "token": token, "event": {"type": "message"}},
    }[shape]
    body = json.dumps(payload).encode()  # ASCII, lone surrogates escaped as \udxxx
    dispatcher = DISPATCHERS[2][0]  # token only, so nothing but the token decides
    for backend in BACKENDS.values():
        with backend():
            response = dispatcher.handle(Request.build("POST", {}, body))
        assert response.status in {200, 400, 401}
        assert (response.status == 200) == (token == TOKEN)
        json.loads(response.body)
