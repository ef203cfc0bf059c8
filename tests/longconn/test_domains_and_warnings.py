"""``domain=`` / ``LARK_DOMAIN`` mean one thing everywhere; a long-connection-only dispatcher is
not "open to anyone who knows the URL"."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import pytest

from lark_events_core import ConfigurationError, Dispatcher, Event
from lark_events_core.domains import FEISHU, LARK, resolve_domain
from lark_events_core.longconn import LongConnectionClient
from lark_events_core.outbound import OpenAPIClient, resolve_base_url
from lark_events_core.testing import make_event
from lark_events_core.testing.fake_platform import FakePlatform

from .helpers import make_client, run_clean


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("lark", LARK),
        ("Lark ", LARK),
        ("larksuite", LARK),
        ("feishu", FEISHU),
        ("https://open.larksuite.com/", LARK),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ],
)
def test_lark_domain_means_the_same_for_the_long_connection_and_the_open_api(
    value: str, url: str
) -> None:
    env = {"LARK_APP_ID": "cli_x", "LARK_APP_SECRET": "s", "LARK_DOMAIN": value}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dispatcher = Dispatcher()
    assert LongConnectionClient.from_env(dispatcher, env).domain == url
    assert resolve_base_url(environ=env) == url
    assert OpenAPIClient("cli_x", "s", domain=value).base_url == url


@pytest.mark.parametrize("value", ["open.larksuite.com", "wss://x", "lark.com", ""])
def test_a_domain_that_is_neither_a_name_nor_a_url_is_refused_when_the_client_is_built(
    value: str,
) -> None:
    with pytest.raises(ConfigurationError, match="'feishu', 'lark' or an http"):
        LongConnectionClient(Dispatcher(encrypt_key="k"), app_id="a", app_secret="s", domain=value)
    with pytest.raises(ConfigurationError):
        resolve_domain(value)


def test_a_long_connection_only_dispatcher_never_warns_about_its_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []

    async def scenario() -> None:
        dispatcher = Dispatcher()  # no key, no token: the connection authenticates instead

        @dispatcher.on("im.message.receive_v1")
        async def on_message(event: Event[Any]) -> None:
            seen.append(event.event_id or "")

        async with FakePlatform() as platform, make_client(platform, dispatcher):
            await platform.wait_for_connections(1)
            pushed = await platform.push(make_event("im.message.receive_v1", {}))
            assert (await pushed.ack()).code == 200

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with caplog.at_level(logging.WARNING, logger="lark_events"):
            run_clean(scenario)
    assert len(seen) == 1
    assert "anyone who knows the URL" not in caplog.text
